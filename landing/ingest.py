"""Incremental ingest of the platforms: the functions ``hub run`` and the DAGs share.

For each (platform, resource): read from the stored watermark minus the overlap the
contract requires (clocks drift by up to five minutes), land page by page (each page one
transaction, see ``landing.loader``), and record the counts in an ``ingest_batch`` row.
A platform that fails does not stop the others; its batch says why.
"""

from __future__ import annotations

import logging
import multiprocessing
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, insert, select, update

from connectors import (
    PLATFORMS,
    RESOURCES,
    ClientOptions,
    PlatformClient,
    PlatformConnection,
    ResourceSpec,
    get_connection,
)
from connectors.errors import ConnectorError
from connectors.paginators import Page
from hub.db import checkpoint_if_large, get_engine
from hub.errors import HubError
from hub.settings import HubSettings, get_settings
from landing.loader import PageCounts, land_page
from schemas.landing import IngestBatch, IngestRun, IngestWatermark

__all__ = [
    "BatchResult",
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
    """Close the run: ``success`` when every batch succeeded, ``partial`` when some did,
    ``failed`` when none did."""
    with engine.begin() as conn:
        statuses = [r[0] for r in conn.execute(select(IngestBatch.status).where(IngestBatch.run_id == run_id))]
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


def ingest_resource(engine: Engine, client: PlatformClient, run_id: int, spec: ResourceSpec,
                    overlap: timedelta, progress: Progress | None = None,
                    commit_records: int = 10_000, wal_limit: int = 256 * 2**20) -> BatchResult:
    watermark = _watermark(engine, spec)
    since = watermark - overlap if watermark else None
    batch_id = _open_batch(engine, run_id, spec, since)
    name = f"{spec.platform}/{spec.resource}"
    total = PageCounts()
    pending: datetime | None = None
    server_time: datetime | None = None
    t0 = last_report = time.monotonic()
    status, error = "success", None
    try:
        for page in _chunks(client.pages(spec.resource, since), commit_records):
            counts = land_page(engine, spec, batch_id, page, pending)
            checkpoint_if_large(engine, wal_limit)
            total.add(counts)
            server_time = page.server_time or server_time
            if page.checkpoint:
                pending = None
            elif counts.newest and (pending is None or counts.newest > pending):
                pending = counts.newest
            if progress and time.monotonic() - last_report >= 5:
                last_report = time.monotonic()
                rate = total.received / max(last_report - t0, 1e-9)
                progress(f"  {name}: {total.received:,} received ({rate:,.0f}/s)")
        if spec.platform == "property_mgmt":
            from landing.catalog import refresh_catalogs

            refresh_catalogs(engine, client, batch_id)
    except (ConnectorError, HubError, OSError) as exc:
        status, error = "failed", str(exc)
        log.error("%s: read failed after %d records: %s", name, total.received, exc)
    except Exception as exc:
        _close_batch(engine, batch_id, "failed", f"{type(exc).__name__}: {exc}", server_time)
        raise
    _close_batch(engine, batch_id, status, error, server_time)
    result = BatchResult(spec.platform, spec.resource, batch_id, status, total.received, total.landed_new,
                         total.landed_duplicate, total.rejected, total.tombstones,
                         time.monotonic() - t0, error)
    if not result.reconciles:  # cannot happen unless the loader is wrong; never hide it
        raise HubError(f"{name}: counts do not reconcile: {result}")
    if progress:
        progress(f"  {name}: {result.received:,} received = {result.landed_new:,} new + "
                 f"{result.landed_duplicate:,} already landed + {result.rejected:,} rejected + "
                 f"{result.tombstones:,} tombstones [{status}] in {result.seconds:.1f}s")
    return result


def ingest_platform(platform: str, run_id: int, *, settings: HubSettings | None = None,
                    engine: Engine | None = None, resources: Iterable[str] | None = None,
                    progress: Progress | None = None, airflow: bool = False,
                    connection: PlatformConnection | ConnectorError | None = None,
                    shared_pace: Any = None) -> list[BatchResult]:
    """Read every resource of ``platform``, one after another.

    ``connection`` (or the error met looking it up) overrides the lookup by platform id;
    ``shared_pace`` is the pacing slot shared with other processes reading the same
    platform (:class:`connectors.http.Pacer`)."""
    settings = settings or get_settings()
    engine = engine or get_engine(settings)
    specs = [s for s in RESOURCES[platform] if resources is None or s.resource in set(resources)]
    try:
        if isinstance(connection, ConnectorError):
            raise connection
        conn = connection or get_connection(platform, airflow=airflow)
    except ConnectorError as exc:
        results = []
        for spec in specs:
            bid = _open_batch(engine, run_id, spec, None)
            _close_batch(engine, bid, "failed", str(exc), None)
            results.append(BatchResult(platform, spec.resource, bid, "failed", error=str(exc)))
        log.error("%s", exc)
        return results
    options = replace(client_options(settings), shared_pace=shared_pace)
    with PlatformClient(platform, conn, options) as client:
        return [ingest_resource(engine, client, run_id, spec, timedelta(seconds=settings.overlap_seconds),
                                progress, settings.commit_records, settings.sqlite_wal_limit_mb * 2**20)
                for spec in specs]


def _resolve(platform: str) -> PlatformConnection | ConnectorError:
    try:
        return get_connection(platform)
    except ConnectorError as exc:
        return exc


#: Rough share of records per resource (for job order only).
_RESOURCE_WEIGHT = {("civil_affairs", "meal-records"): 7, ("civil_affairs", "card-deposits"): 3,
                    ("civil_affairs", "subsidy-payments"): 2, ("civil_affairs", "time-bank"): 2}

#: In a worker process: each platform's pacing slot, shared with the other workers.
_shared_pace: dict[str, Any] = {}


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _init_worker(pace: dict[str, Any]) -> None:
    _shared_pace.update(pace)


def _resource_in_child(platform: str, resource: str, run_id: int, settings: HubSettings, report: bool,
                       conn: PlatformConnection | ConnectorError) -> list[BatchResult]:
    return ingest_platform(platform, run_id, settings=settings, engine=get_engine(settings, migrate=False),
                           progress=_stderr if report else None, connection=conn, resources=[resource],
                           shared_pace=_shared_pace.get(platform))


def ingest_all(platforms: Iterable[str] | None = None, *, settings: HubSettings | None = None,
               trigger: str = "cli", progress: Progress | None = None) -> RunResult:
    """One ingest run over ``platforms`` (default: all five).

    Resources are read at once, each in a worker process (the work per record is
    Python, so threads would share one core), the biggest first. The workers reading one
    platform share one pacing slot, so that together they stay under the platform's
    per-client rate limit. With ``parallel_platforms=1`` everything runs in this
    process, one resource after another.
    """
    settings = settings or get_settings()
    engine = get_engine(settings)
    chosen = list(platforms or PLATFORMS)
    t0 = time.monotonic()
    run_id = start_run(engine, trigger)
    if progress:
        progress(f"ingest run {run_id}: reading {', '.join(chosen)}")
    jobs = [(p, s.resource) for p in chosen for s in RESOURCES[p]]
    jobs.sort(key=lambda j: _RESOURCE_WEIGHT.get(j, 0), reverse=True)
    workers = max(1, min(settings.parallel_platforms, len(jobs)))
    if workers == 1:
        batches = [b for p in chosen for b in ingest_platform(p, run_id, settings=settings, engine=engine,
                                                              progress=progress)]
    else:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["landing.ingest"])
        pace = {p: ctx.Value("d", 0.0) for p in chosen} if settings.requests_per_second else {}
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker,
                                 initargs=(pace,)) as pool:
            # Connections are resolved here: a worker process's environment may be older.
            conns = {p: _resolve(p) for p in chosen}
            futures = [pool.submit(_resource_in_child, p, r, run_id, settings, progress is not None, conns[p])
                       for p, r in jobs]
            batches = [b for f in futures for b in f.result()]
    status = finish_run(engine, run_id)
    return RunResult(run_id, status, batches, time.monotonic() - t0)
