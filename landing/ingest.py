"""Incremental ingest of the platforms: the functions ``hub run`` and the DAGs share.

For each (platform, resource) — a *job* — read from the stored watermark minus the overlap
the contract requires (clocks drift by up to five minutes), land chunk by chunk (each
chunk one transaction, see ``landing.loader``), and keep the counts in an
``ingest_batch`` row. A resource that fails does not stop the others; its batch says why.

How the work is spread (``HUB_INGEST_WORKERS``):

* **Readers** are threads of the calling process, one per job, all at once: reading is
  mostly waiting for the platform. The readers of one platform share one pacer, so
  together they keep to the platform's per-client rate limit.
* **Landing** (parsing, hashing, normalising, writing) is CPU work, done by worker
  processes. Each chunk a reader collects is split by record id over the workers: a
  record's versions always go to the same worker, which lands its chunks in the order
  they were read, so "the latest version wins, on a tie the later delivery" holds as if
  one process had landed everything. One big resource (a year of meals) thus uses every
  core, instead of one.
* **Watermarks** move in the coordinator, once every chunk up to a checkpoint has landed
  (a change list is a checkpoint at every page; an export file only at its end). A crash
  in between costs a longer re-read, never a record: landing recognises versions it
  already holds.

With one worker everything runs in the calling process, one job after another.
"""

from __future__ import annotations

import fcntl
import gc
import logging
import multiprocessing
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import Engine, func, insert, make_url, select, update

from connectors import (
    PLATFORMS,
    RESOURCES,
    ClientOptions,
    PlatformClient,
    PlatformConnection,
    ResourceSpec,
    get_connection,
    platform_auth,
)
from connectors.errors import ConnectorError
from connectors.http import Pacer
from connectors.paginators import Page, Unparsed
from hub.collector import collector_paused
from hub.db import checkpoint_if_large, checkpoint_passive, get_engine, manual_checkpoints
from hub.errors import HubError
from hub.settings import HubSettings, get_settings
from landing.loader import PageCounts, advance_watermark, land_page
from schemas.landing import IngestBatch, IngestRun, IngestWatermark

__all__ = [
    "BatchResult",
    "ReadFrom",
    "RunResult",
    "client_options",
    "finish_run",
    "ingest_all",
    "ingest_platform",
    "start_run",
]

log = logging.getLogger(__name__)
Progress = Callable[[str], None]


@dataclass
class BatchResult:
    platform: str
    resource: str
    batch_id: int
    status: str
    received: int = 0
    landed_new: int = 0
    landed_duplicate: int = 0
    rejected: int = 0
    tombstones: int = 0
    seconds: float = 0.0
    error: str | None = None

    @property
    def reconciles(self) -> bool:
        return self.received == self.landed_new + self.landed_duplicate + self.rejected + self.tombstones


@dataclass
class RunResult:
    run_id: int
    status: str
    batches: list[BatchResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def received(self) -> int:
        return sum(b.received for b in self.batches)

    def as_dict(self) -> dict:
        return {"run_id": self.run_id, "status": self.status, "seconds": round(self.seconds, 2),
                "batches": [asdict(b) for b in self.batches]}


def _now() -> datetime:
    return datetime.now(UTC)


def client_options(settings: HubSettings) -> ClientOptions:
    return ClientOptions(
        page_limit=settings.page_limit,
        property_page_size=settings.property_page_size,
        requests_per_second=settings.requests_per_second,
        retries=settings.http_retries,
        connect_timeout=settings.http_connect_timeout,
        read_timeout=settings.http_read_timeout,
        overlap=timedelta(seconds=settings.overlap_seconds),
        download_dir=settings.home / "downloads",
        export_poll_seconds=settings.export_poll_seconds,
        export_timeout_seconds=settings.export_timeout_seconds,
        export_attempts=settings.export_attempts,
    )


def start_run(engine: Engine, trigger: str = "cli") -> int:
    with engine.begin() as conn:
        return conn.execute(insert(IngestRun).values(started_at=_now(), status="running",
                                                     trigger=trigger).returning(IngestRun.id)).scalar_one()


def finish_run(engine: Engine, run_id: int) -> str:
    """Close the run: ``success`` when every resource's last read succeeded, ``partial``
    when some did, ``failed`` when none did. (A read retried within the run — an Airflow
    task retry — counts by its last attempt.)"""
    b = IngestBatch.__table__.c
    with engine.begin() as conn:
        last = select(func.max(b.id)).where(b.run_id == run_id).group_by(b.platform, b.resource)
        statuses = [r[0] for r in conn.execute(select(b.status).where(b.id.in_(last)))]
        ok = sum(1 for s in statuses if s == "success")
        status = "success" if statuses and ok == len(statuses) else ("partial" if ok else "failed")
        conn.execute(update(IngestRun).where(IngestRun.id == run_id).values(status=status, finished_at=_now()))
    return status


def _watermark(engine: Engine, spec: ResourceSpec) -> datetime | None:
    with engine.connect() as conn:
        return conn.execute(select(IngestWatermark.watermark).where(
            IngestWatermark.platform == spec.platform, IngestWatermark.resource == spec.resource)).scalar()


def _open_batch(engine: Engine, run_id: int, spec: ResourceSpec, since: datetime | None) -> int:
    with engine.begin() as conn:
        return conn.execute(insert(IngestBatch).values(
            run_id=run_id, platform=spec.platform, resource=spec.resource, started_at=_now(),
            status="running", read_since=since, received=0, landed_new=0, landed_duplicate=0,
            rejected=0, tombstones=0, pages=0).returning(IngestBatch.id)).scalar_one()


def _close_batch(engine: Engine, batch_id: int, status: str, error: str | None,
                 server_time: datetime | None) -> None:
    with engine.begin() as conn:
        wm = conn.execute(select(IngestWatermark.watermark).join(
            IngestBatch, (IngestBatch.platform == IngestWatermark.platform)
            & (IngestBatch.resource == IngestWatermark.resource)).where(IngestBatch.id == batch_id)).scalar()
        conn.execute(update(IngestBatch).where(IngestBatch.id == batch_id).values(
            status=status, error=error, finished_at=_now(), watermark=wm, server_time=server_time))


def _chunks(pages: Iterator[Page], min_records: int) -> Iterator[Page]:
    """Merge consecutive pages until ``min_records``: one transaction each. A merged page
    is a checkpoint when its last part is (every part before it was delivered too)."""
    buf: list[Page] = []
    size = 0
    for page in pages:
        buf.append(page)
        size += len(page.records)
        if size >= min_records:
            yield _merge(buf)
            buf, size = [], 0
    if buf:
        yield _merge(buf)


def _merge(pages: list[Page]) -> Page:
    if len(pages) == 1:
        return pages[0]
    records = [r for p in pages for r in p.records]
    server_time = next((p.server_time for p in reversed(pages) if p.server_time), None)
    return Page(records, server_time, pages[-1].meta, checkpoint=pages[-1].checkpoint)


# --------------------------------------------------------------------------- one job


class _Job:
    """One resource's read in one run: its batch, its counts, and which of its chunks
    have landed, so that the watermark only ever covers a landed prefix of the read."""

    def __init__(self, engine: Engine, spec: ResourceSpec, batch_id: int, since: datetime | None) -> None:
        self.engine = engine
        self.spec = spec
        self.batch_id = batch_id
        self.since = since
        self.name = f"{spec.platform}/{spec.resource}"
        self.counts = PageCounts()
        self.error: str | None = None
        self.server_time: datetime | None = None
        self.t0 = time.monotonic()
        self._lock = threading.Lock()
        self._chunks: dict[int, list[Any]] = {}  # seq -> [parts left, newest, checkpoint, server_time]
        self._next = 0  # every chunk before this one has landed
        self._pending: datetime | None = None  # newest update time landed since the last checkpoint
        self._read_done = False
        self._broken = False  # some part was not landed: the watermark stays where it is
        self.landed = threading.Event()

    def sent(self, seq: int, parts: int, page: Page) -> None:
        """Chunk ``seq`` went out in ``parts`` parts (0: it held no record)."""
        with self._lock:
            self._chunks[seq] = [parts, None, page.checkpoint, page.server_time]
            self._advance()

    def landed_part(self, seq: int, counts: PageCounts | None) -> None:
        """A worker landed its part of chunk ``seq``; ``counts`` None: the part was not
        landed (its worker failed it or skipped it), so the watermark stops before it."""
        with self._lock:
            entry = self._chunks[seq]
            entry[0] -= 1
            if counts is None:
                self._broken = True
            else:
                self.counts.add(counts)
                if counts.newest and (entry[1] is None or counts.newest > entry[1]):
                    entry[1] = counts.newest
            self._advance()

    def _advance(self) -> None:
        """Walk the prefix of fully landed chunks; at a checkpoint, move the watermark."""
        while self._next in self._chunks and self._chunks[self._next][0] == 0:
            _, newest, checkpoint, server_time = self._chunks.pop(self._next)
            self._next += 1
            self.server_time = server_time or self.server_time
            if newest and (self._pending is None or newest > self._pending):
                self._pending = newest
            if checkpoint and self._pending is not None and not self._broken:
                advance_watermark(self.engine, self.spec, self._pending, server_time)
                self._pending = None
        self._check_done()

    def fail(self, error: str) -> None:
        with self._lock:
            if self.error is None:
                self.error = error

    def read_done(self) -> None:
        with self._lock:
            self._read_done = True
            self._check_done()

    def _check_done(self) -> None:
        if self._read_done and not self._chunks:
            self.landed.set()

    @property
    def reading_done(self) -> bool:
        return self._read_done

    @property
    def outstanding(self) -> bool:
        with self._lock:
            return bool(self._chunks)

    def result(self, status: str) -> BatchResult:
        c = self.counts
        return BatchResult(self.spec.platform, self.spec.resource, self.batch_id, status, c.received,
                           c.landed_new, c.landed_duplicate, c.rejected, c.tombstones,
                           time.monotonic() - self.t0, self.error)


def _finish_job(job: _Job, client: PlatformClient | None, progress: Progress | None) -> BatchResult:
    """After the last chunk landed: the property platform's catalogues, the batch closed,
    the counts checked."""
    if job.error is None and client is not None and job.spec.platform == "property_mgmt":
        from landing.catalog import refresh_catalogs

        try:
            refresh_catalogs(job.engine, client, job.batch_id)
        except (ConnectorError, HubError, OSError) as exc:
            job.fail(str(exc))
    status = "success" if job.error is None else "failed"
    _close_batch(job.engine, job.batch_id, status, job.error, job.server_time)
    result = job.result(status)
    if not result.reconciles:  # cannot happen unless the loader is wrong; never hide it
        raise HubError(f"{job.name}: counts do not reconcile: {result}")
    if progress:
        progress(f"  {job.name}: {result.received:,} received = {result.landed_new:,} new + "
                 f"{result.landed_duplicate:,} already landed + {result.rejected:,} rejected + "
                 f"{result.tombstones:,} tombstones [{status}] in {result.seconds:.1f}s")
    return result


def _connect(platform: str, airflow: bool) -> PlatformConnection | ConnectorError:
    try:
        return get_connection(platform, airflow=airflow)
    except ConnectorError as exc:
        return exc


@dataclass(frozen=True)
class ReadFrom:
    """Where reads start instead of the stored watermark: ``full_refresh`` reads each
    resource from the beginning; ``since`` (a backfill) reads from that time when it is
    earlier than the watermark. Either way the watermark never moves backwards, and what
    was landed already is recognised, not stored twice."""

    full_refresh: bool = False
    since: datetime | None = None

    def start(self, watermark: datetime | None, overlap: timedelta) -> datetime | None:
        if self.full_refresh:
            return None
        normal = watermark - overlap if watermark else None
        if self.since is not None and (normal is None or self.since < normal):
            return self.since
        return normal


def _open_jobs(engine: Engine, run_id: int, specs: list[ResourceSpec], overlap: timedelta,
               read_from: ReadFrom) -> list[_Job]:
    jobs = []
    for spec in specs:
        since = read_from.start(_watermark(engine, spec), overlap)
        jobs.append(_Job(engine, spec, _open_batch(engine, run_id, spec, since), since))
    return jobs


_READ_ERRORS = (ConnectorError, HubError, OSError)


# ------------------------------------------------------------------ in this process


def _ingest_inline(jobs: list[_Job], conns: dict[str, Any], settings: HubSettings,
                   progress: Progress | None) -> list[BatchResult]:
    """One job after another in this process: read a chunk, land it, repeat."""
    results = []
    options = client_options(settings)
    for job in jobs:
        conn = conns[job.spec.platform]
        if isinstance(conn, ConnectorError):
            job.fail(str(conn))
            job.read_done()
            results.append(_finish_job(job, None, progress))
            continue
        with PlatformClient(job.spec.platform, conn, options) as client:
            last = time.monotonic()
            try:
                for seq, chunk in enumerate(_chunks(client.pages(job.spec.resource, job.since),
                                                    settings.commit_records)):
                    if not chunk.records:  # an empty read (its server time still counts)
                        job.sent(seq, 0, chunk)
                        continue
                    job.sent(seq, 1, chunk)
                    counts = land_page(job.engine, job.spec, job.batch_id, chunk)
                    checkpoint_if_large(job.engine, settings.sqlite_wal_limit_mb * 2**20)
                    gc.collect()  # (the collector is paused: see _ingest)
                    job.landed_part(seq, counts)
                    if progress and time.monotonic() - last >= 5:
                        last = time.monotonic()
                        progress(f"  {job.name}: {job.counts.received:,} received")
            except _READ_ERRORS as exc:
                job.fail(str(exc))
                log.error("%s: read failed after %d records: %s", job.name, job.counts.received, exc)
            except Exception as exc:
                _close_batch(job.engine, job.batch_id, "failed", f"{type(exc).__name__}: {exc}",
                             job.server_time)
                raise
            job.read_done()
            results.append(_finish_job(job, client, progress))
    return results


# ------------------------------------------------------------- landing workers


@dataclass
class _Task:
    """A worker's part of one chunk: records as JSON (cheap to pass between processes),
    and the elements that were no JSON object at all."""

    job: int
    seq: int
    platform: str
    resource: str
    batch_id: int
    records: bytes
    unparsed: list[Unparsed]


def _landing_worker(settings: HubSettings, tasks: Any, results: Any, write_lock: Any = None) -> None:
    """A landing process: land the tasks of its queue, in order, until ``None``.

    Consecutive parts of one resource are landed together, up to ``commit_records``
    records a transaction (or whatever has waited ``_FLUSH_SECONDS``): a large table's
    random-keyed indexes then write each page they touch once for many records."""
    engine = get_engine(settings, migrate=False)
    manual_checkpoints(engine)  # after each landing, outside the write lock
    # Python's cyclic collector would traverse the held records (tens of thousands of
    # dicts, long-lived by its measure) again and again while they wait for their
    # transaction. They hold no cycles (reference counting frees them once landed): the
    # collector is off for this process's life, what the process holds at its start is
    # set aside, and a collection after each landing frees what cycles the database
    # layer made (see hub.collector).
    gc.freeze()
    gc.disable()
    specs = {(s.platform, s.resource): s for ss in RESOURCES.values() for s in ss}
    failed: set[int] = set()  # jobs this worker failed: their later parts are skipped, not landed
    wal_limit = settings.sqlite_wal_limit_mb * 2**20
    held: dict[int, list[tuple[_Task, list[Any]]]] = {}  # job -> parts not landed yet, in order
    sizes: dict[int, int] = {}
    since: float | None = None  # when the oldest held part arrived

    def flush(job: int) -> None:
        parts = held.pop(job)
        sizes.pop(job)
        first = parts[0][0]
        try:
            records = [r for _, recs in parts for r in recs]
            counts = land_page(engine, specs[(first.platform, first.resource)], first.batch_id, Page(records),
                                write_lock)
            checkpoint_passive(engine)
            checkpoint_if_large(engine, wal_limit)
            gc.collect()
        except Exception as exc:  # noqa: BLE001 - reported to the coordinator, which fails the job
            failed.add(job)
            error = f"landing failed: {type(exc).__name__}: {exc}"
            for task, _ in parts:
                results.put((job, task.seq, None, error))
            return
        # the counts go with the last part: the watermark only passes it once all have landed
        for task, _ in parts[:-1]:
            results.put((job, task.seq, PageCounts(), None))
        results.put((job, parts[-1][0].seq, counts, None))

    while True:
        timeout = None if since is None else max(0.0, since + _FLUSH_SECONDS - time.monotonic())
        try:
            task = tasks.get(timeout=timeout)
        except queue.Empty:
            task = False
        if not task:  # None: the end; False: held parts have waited long enough
            for job in list(held):
                flush(job)
            since = None
            if task is None:
                break
            continue
        if task.job in failed:
            results.put((task.job, task.seq, None, None))
            continue
        records: list[Any] = orjson.loads(task.records)
        records.extend(task.unparsed)
        held.setdefault(task.job, []).append((task, records))
        sizes[task.job] = sizes.get(task.job, 0) + len(records)
        since = since or time.monotonic()
        if sizes[task.job] >= settings.commit_records:
            flush(task.job)
        elif sum(sizes.values()) >= 2 * settings.commit_records:  # many resources at once: memory stays flat
            flush(max(sizes, key=sizes.__getitem__))
        if not held:
            since = None
    engine.dispose()


#: A landing worker lands what it holds after this long, however little it is.
_FLUSH_SECONDS = 1.0


class _FileLock:
    """An exclusive lock between processes on a file beside the SQLite database."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd: int | None = None

    def __enter__(self) -> None:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX)

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)  # type: ignore[arg-type]


def _sqlite_write_lock(url: str) -> _FileLock | None:
    u = make_url(url)
    if u.get_backend_name() != "sqlite" or not u.database or u.database == ":memory:":
        return None
    return _FileLock(u.database + ".write-lock")


#: At most this many page parts wait per landing worker: memory stays flat however big the read.
QUEUE_PARTS = 256


class _Priority:
    """Which platform's pages go to the landing workers first when landing cannot keep
    up with reading.

    Under the contract's rate limits a run takes at least as long as the platform that
    needs the most requests (civil affairs: six resources, a year of meals) needs at 20
    requests/second. While every platform is read at once, the workers are the
    bottleneck; shared first come, first served, they would slow every platform alike —
    and the longest one's unused request slots are lost for good, while the others have
    time to spare. So the platform with the most reading left (the weights of its
    resources still being read) may fill a worker's queue; the next one only a quarter
    of it, the one after an eighth, and so on: their readers wait while the queue is
    fuller than that. Each reader asks again at every page, so when a platform finishes
    the others move up.
    """

    def __init__(self, jobs: list[_Job]) -> None:
        self.jobs = jobs

    def room(self, platform: str) -> int:
        weight: dict[str, int] = {}
        for j in self.jobs:
            if not j.reading_done:
                key = (j.spec.platform, j.spec.resource)
                weight[j.spec.platform] = weight.get(j.spec.platform, 0) + _RESOURCE_WEIGHT.get(key, 1)
        order = sorted(weight, key=lambda p: (-weight[p], p))
        rank = order.index(platform) if platform in order else 0
        return QUEUE_PARTS if rank == 0 else max(2, QUEUE_PARTS // (4 * rank))


class _Workers:
    """The landing processes, each with its own queue (a record's versions always go to
    the same one, in order) and one queue of results back."""

    def __init__(self, settings: HubSettings, n: int) -> None:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["landing.ingest"])
        self.n = n
        self.queues = [ctx.Queue(maxsize=QUEUE_PARTS) for _ in range(n)]
        self.results = ctx.Queue()
        lock = _sqlite_write_lock(settings.db_url)
        self.procs = [ctx.Process(target=_landing_worker, args=(settings, q, self.results, lock), daemon=True,
                                  name=f"hub-lander-{i}") for i, q in enumerate(self.queues)]
        for p in self.procs:
            p.start()
        self.dead: str | None = None

    def put(self, i: int, task: _Task, abort: threading.Event, room: int = QUEUE_PARTS) -> bool:
        """Queue ``task`` for worker ``i`` once fewer than ``room`` parts wait there
        (a platform further down :class:`_Priority` gets less room)."""
        q = self.queues[i]
        while not abort.is_set():
            if room < QUEUE_PARTS and q.qsize() >= room:
                time.sleep(0.02)
                continue
            try:
                q.put(task, timeout=0.5)
                return True
            except queue.Full:
                continue
        return False

    def check(self) -> str | None:
        """Why the workers cannot go on (a process died), or None."""
        if self.dead is None:
            for p in self.procs:
                if not p.is_alive() and p.exitcode not in (0, None):
                    self.dead = (f"landing process {p.name} died (exit code {p.exitcode}); what landed "
                                 "stays landed — run the ingest again to land the rest")
        return self.dead

    def close(self) -> None:
        for q in self.queues:
            try:
                q.put(None, timeout=5)
            except queue.Full:
                pass
        for p in self.procs:
            p.join(timeout=30)
            if p.is_alive():
                p.terminate()
        # a dead worker leaves data in its queue's pipe that nobody will read: do not let
        # the queues' feeder threads hold this process up at exit
        for q in (*self.queues, self.results):
            q.cancel_join_thread()
            q.close()


def _split(spec: ResourceSpec, page: Page, n: int) -> list[tuple[list[dict[str, Any]], list[Unparsed]]]:
    """The chunk's records by worker: a record id always to the same worker."""
    parts: list[tuple[list[dict[str, Any]], list[Unparsed]]] = [([], []) for _ in range(n)]
    id_field = spec.id_field
    for rec in page.records:
        if rec.__class__ is Unparsed:
            parts[0][1].append(rec)  # type: ignore[arg-type]
            continue
        rid = rec.get(id_field)  # type: ignore[union-attr]
        # the record id as landing keys it (``ResourceSpec.record_id``); unkeyable: worker 0
        w = hash(str(rid).strip()) % n if rid.__class__ in (str, int) else 0
        parts[w][0].append(rec)  # type: ignore[arg-type]
    return parts


def _prefetch(pages: Iterator[Page], abort: threading.Event, depth: int = 2) -> Iterator[Page]:
    """``pages``, read ahead by a thread of their own: the next request is on its way
    while this page is split and handed out (one platform page at a time would otherwise
    leave the platform's rate-limit slots unused for a big resource read alone)."""
    buf: queue.Queue = queue.Queue(maxsize=depth)
    done = object()

    def pump() -> None:
        try:
            for page in pages:
                while not abort.is_set():
                    try:
                        buf.put(page, timeout=0.5)
                        break
                    except queue.Full:
                        continue
                if abort.is_set():
                    return
            buf.put(done)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which raises it
            buf.put(exc)

    thread = threading.Thread(target=pump, daemon=True, name="hub-prefetch")
    thread.start()
    while True:
        try:
            item = buf.get(timeout=0.5)
        except queue.Empty:
            if abort.is_set():
                return
            continue
        if item is done:
            return
        if isinstance(item, BaseException):
            raise item
        yield item


def _read(i: int, job: _Job, conn: Any, options: ClientOptions, workers: _Workers, priority: _Priority,
          abort: threading.Event, progress: Progress | None) -> BatchResult:
    """A reader thread: read the job's pages and hand their parts to the workers (who
    land consecutive parts together); when all have landed, finish the job."""
    if isinstance(conn, ConnectorError):
        job.fail(str(conn))
        job.read_done()
        return _finish_job(job, None, progress)
    with PlatformClient(job.spec.platform, conn, options) as client:
        try:
            for seq, chunk in enumerate(_prefetch(client.pages(job.spec.resource, job.since), abort)):
                if job.error or abort.is_set():
                    break
                parts = [(w, recs, bad) for w, (recs, bad) in enumerate(_split(job.spec, chunk, workers.n))
                         if recs or bad]
                job.sent(seq, len(parts), chunk)
                room = priority.room(job.spec.platform)
                for w, recs, bad in parts:
                    task = _Task(i, seq, job.spec.platform, job.spec.resource, job.batch_id,
                                 orjson.dumps(recs), bad)
                    if not workers.put(w, task, abort, room):
                        job.landed_part(seq, None)  # never sent: nothing of it will come back
        except _READ_ERRORS as exc:
            job.fail(str(exc))
            log.error("%s: read failed after %d records: %s", job.name, job.counts.received, exc)
        except Exception as exc:  # noqa: BLE001 - a bug in a reader fails its job, not the run
            job.fail(f"{type(exc).__name__}: {exc}")
            log.exception("%s: reader failed", job.name)
        job.read_done()
        while not job.landed.wait(0.5):
            if abort.is_set():
                break
        return _finish_job(job, client, progress)


def _ingest_parallel(jobs: list[_Job], conns: dict[str, Any], settings: HubSettings, n: int,
                     progress: Progress | None) -> list[BatchResult]:
    base = client_options(settings)
    # one client per platform as far as the platform can tell: one pace, one token
    shared = {p: replace(base, pacer=Pacer(settings.requests_per_second),
                         auth=None if isinstance(conns[p], ConnectorError) or not conns[p].password
                         else platform_auth(p, conns[p], base))
              for p in {j.spec.platform for j in jobs}}
    abort = threading.Event()
    workers = _Workers(settings, n)
    priority = _Priority(jobs)
    results: list[BatchResult | None] = [None] * len(jobs)

    def reader(i: int) -> None:
        job = jobs[i]
        try:
            results[i] = _read(i, job, conns[job.spec.platform], shared[job.spec.platform],
                               workers, priority, abort, progress)
        except Exception as exc:  # noqa: BLE001 - e.g. counts that do not reconcile: kept for the caller
            results[i] = exc  # type: ignore[assignment]

    threads = [threading.Thread(target=reader, args=(i,), name=f"hub-read-{jobs[i].name}", daemon=True)
               for i in range(len(jobs))]
    for t in threads:
        t.start()
    last = t0 = collected = time.monotonic()
    try:
        while any(t.is_alive() for t in threads):
            if time.monotonic() - collected >= _COLLECT_SECONDS:  # (the collector is paused: see _ingest)
                gc.collect()
                collected = time.monotonic()
            try:
                i, seq, counts, error = workers.results.get(timeout=0.5)
            except queue.Empty:
                dead = workers.check()
                if dead:
                    abort.set()
                    for job in jobs:
                        if job.outstanding or not job.landed.is_set():
                            job.fail(dead)
                    for job in jobs:  # nothing more will come back: release the readers
                        job.landed.set()
                continue
            if error:
                jobs[i].fail(error)
                log.error("%s: %s", jobs[i].name, error)
            jobs[i].landed_part(seq, counts)
            if progress and time.monotonic() - last >= 5:
                last = time.monotonic()
                busy = [j for j in jobs if not j.landed.is_set()]
                total = sum(j.counts.received for j in jobs)
                progress(f"  {total:,} records landed ({total / (last - t0):,.0f}/s); reading "
                         + ", ".join(f"{j.name} {j.counts.received:,}" for j in busy))
    finally:
        abort.set()
        workers.close()
        for t in threads:
            t.join(timeout=60)
    for r in results:
        if isinstance(r, BaseException):
            raise r
    return [r for r in results if r is not None]


# ------------------------------------------------------------------------ entry points


def _ingest(specs: list[ResourceSpec], run_id: int, settings: HubSettings, engine: Engine,
            progress: Progress | None, airflow: bool, read_from: ReadFrom | None = None) -> list[BatchResult]:
    # Connections are looked up here, once: a worker process's environment may be older.
    conns = {p: _connect(p, airflow) for p in {s.platform for s in specs}}
    jobs = _open_jobs(engine, run_id, specs, timedelta(seconds=settings.overlap_seconds), read_from or ReadFrom())
    n = settings.ingest_workers
    # Pages in flight are tens of thousands of records that Python's collector would
    # traverse again and again; it is paused, and run every few seconds (or after each
    # landing, inline) to free what cycles the HTTP and database layers make.
    with collector_paused(freeze=True):
        if n <= 1:
            return _ingest_inline(jobs, conns, settings, progress)
        # the biggest reads first, so that they do not start last
        order = sorted(range(len(jobs)),
                       key=lambda i: -_RESOURCE_WEIGHT.get((specs[i].platform, specs[i].resource), 0))
        results = _ingest_parallel([jobs[i] for i in order], conns, settings, n, progress)
    return [results[order.index(i)] for i in range(len(jobs))]


#: How often the coordinator of a parallel ingest runs the (paused) cyclic collector.
_COLLECT_SECONDS = 5.0


#: Rough share of records per resource: the biggest reads start first.
_RESOURCE_WEIGHT = {("civil_affairs", "meal-records"): 7, ("civil_affairs", "card-deposits"): 3,
                    ("civil_affairs", "subsidy-payments"): 2, ("civil_affairs", "time-bank"): 2}


def _specs(platforms: Iterable[str], resources: Iterable[str] | None = None) -> list[ResourceSpec]:
    wanted = set(resources) if resources is not None else None
    return [s for p in platforms for s in RESOURCES[p] if wanted is None or s.resource in wanted]


def ingest_platform(platform: str, run_id: int, *, settings: HubSettings | None = None,
                    engine: Engine | None = None, resources: Iterable[str] | None = None,
                    progress: Progress | None = None, airflow: bool = False,
                    read_from: ReadFrom | None = None) -> list[BatchResult]:
    """Read ``platform``'s resources (default: all) for run ``run_id`` — what one Airflow
    task does."""
    settings = settings or get_settings()
    engine = engine or get_engine(settings)
    return _ingest(_specs([platform], resources), run_id, settings, engine, progress, airflow, read_from)


def ingest_all(platforms: Iterable[str] | None = None, *, settings: HubSettings | None = None,
               trigger: str = "cli", progress: Progress | None = None,
               read_from: ReadFrom | None = None) -> RunResult:
    """One ingest run over ``platforms`` (default: all five), every resource at once."""
    settings = settings or get_settings()
    engine = get_engine(settings)
    chosen = list(platforms or PLATFORMS)
    t0 = time.monotonic()
    run_id = start_run(engine, trigger)
    if progress:
        progress(f"ingest run {run_id}: reading {', '.join(chosen)} "
                 f"({max(1, settings.ingest_workers)} landing worker(s))")
    batches = _ingest(_specs(chosen), run_id, settings, engine, progress, airflow=False, read_from=read_from)
    status = finish_run(engine, run_id)
    return RunResult(run_id, status, batches, time.monotonic() - t0)
