"""Incremental ingest of the platforms: the functions ``hub run`` and the DAGs share.

For each (platform, resource): read from the stored watermark minus the overlap the
contract requires (clocks drift by up to five minutes), land page by page (each page one
transaction, see ``landing.loader``), and record the counts in an ``ingest_batch`` row.
A platform that fails does not stop the others; its batch says why.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone

from sqlalchemy import Engine, insert, select, update

from connectors import PLATFORMS, RESOURCES, ClientOptions, PlatformClient, ResourceSpec, get_connection
from connectors.errors import ConnectorError
from hub.db import get_engine
from hub.errors import HubError
from hub.settings import HubSettings, get_settings
from landing.loader import PageCounts, land_page
from schemas.landing import IngestBatch, IngestRun, IngestWatermark

__all__ = ["BatchResult", "RunResult", "start_run", "finish_run", "ingest_platform", "ingest_all",
           "client_options"]

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
    return datetime.now(timezone.utc)


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


def ingest_resource(engine: Engine, client: PlatformClient, run_id: int, spec: ResourceSpec,
                    overlap: timedelta, progress: Progress | None = None) -> BatchResult:
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
        for page in client.pages(spec.resource, since):
            counts = land_page(engine, spec, batch_id, page, pending)
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
    except Exception as exc:  # noqa: BLE001 - recorded on the batch, then re-raised
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
                    progress: Progress | None = None, airflow: bool = False) -> list[BatchResult]:
    """Read every resource of ``platform`` (one after another: the rate limit is per client)."""
    settings = settings or get_settings()
    engine = engine or get_engine(settings)
    specs = [s for s in RESOURCES[platform] if resources is None or s.resource in set(resources)]
    try:
        conn = get_connection(platform, airflow=airflow)
    except ConnectorError as exc:
        results = []
        for spec in specs:
            bid = _open_batch(engine, run_id, spec, None)
            _close_batch(engine, bid, "failed", str(exc), None)
            results.append(BatchResult(platform, spec.resource, bid, "failed", error=str(exc)))
        log.error("%s", exc)
        return results
    with PlatformClient(platform, conn, client_options(settings)) as client:
        return [ingest_resource(engine, client, run_id, spec, timedelta(seconds=settings.overlap_seconds),
                                progress) for spec in specs]


def ingest_all(platforms: Iterable[str] | None = None, *, settings: HubSettings | None = None,
               trigger: str = "cli", progress: Progress | None = None) -> RunResult:
    """One ingest run over ``platforms`` (default: all five), platforms read in parallel."""
    settings = settings or get_settings()
    engine = get_engine(settings)
    chosen = list(platforms or PLATFORMS)
    t0 = time.monotonic()
    run_id = start_run(engine, trigger)
    if progress:
        progress(f"ingest run {run_id}: reading {', '.join(chosen)}")
    with ThreadPoolExecutor(max_workers=max(1, min(settings.parallel_platforms, len(chosen))),
                            thread_name_prefix="ingest") as pool:
        futures = [pool.submit(ingest_platform, p, run_id, settings=settings, engine=engine,
                               progress=progress) for p in chosen]
        batches = [b for f in futures for b in f.result()]
    status = finish_run(engine, run_id)
    return RunResult(run_id, status, batches, time.monotonic() - t0)
