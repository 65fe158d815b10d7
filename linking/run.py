"""One linking run: read the registry's inputs, resolve, publish the next release.

Shared by ``hub link``, ``hub run`` and the Airflow DAG. The as-of date is the
platforms' clock (the newest ``server_time`` they reported), never the hub's: a run on
old data judges that data's period, including who counts as an elder.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, func, insert, select, update

from hub.db import get_engine
from hub.settings import HubSettings, get_settings
from linking.publish import PublishResult, publish
from linking.records import load_records
from linking.resolve import Decision, resolve
from schemas.landing import IngestBatch
from schemas.registry import LinkDecision, LinkRun

__all__ = ["LinkResult", "collector_paused", "link", "platform_as_of"]

log = logging.getLogger(__name__)
Progress = Callable[[str], None]
_SHANGHAI = ZoneInfo("Asia/Shanghai")


@dataclass
class LinkResult:
    run_id: int
    status: str  # published, failed
    as_of: date | None
    records: int
    seconds: float
    stats: dict[str, int] = field(default_factory=dict)
    published: PublishResult | None = None
    error: str | None = None

    def as_dict(self) -> dict:
        out = {"link_run_id": self.run_id, "status": self.status, "as_of": self.as_of, "records": self.records,
               "seconds": round(self.seconds, 1), "stats": self.stats, "error": self.error}
        if self.published is not None:
            out["published"] = {k: v for k, v in asdict(self.published).items() if k != "person_ids"}
        return out

    def summary(self) -> str:
        if self.published is None:
            return f"link run {self.run_id}: {self.status}: {self.error}"
        p = self.published
        return (f"registry release {p.release}: {p.persons:,} persons, {p.links:,} of {self.records:,} records "
                f"linked ({self.stats.get('id', 0):,} by ID number, {self.stats.get('probabilistic', 0):,} "
                f"probabilistic, {self.stats.get('steward', 0):,} by stewards), {p.reviews:,} for review; "
                f"ids: {p.kept_ids:,} kept, {p.new_ids:,} new, {p.merged_ids:,} merged, {p.retired_ids:,} retired; "
                f"as of {self.as_of}; {self.seconds:.1f}s")


def platform_as_of(conn: Connection) -> date | None:
    """The platforms' date: the newest server time of a successful ingest batch, in
    Asia/Shanghai. ``None`` before anything was ingested."""
    t = conn.execute(select(func.max(IngestBatch.server_time)).where(IngestBatch.status == "success")).scalar()
    if t is None:
        return None
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return t.astimezone(_SHANGHAI).date()


def _decisions(conn: Connection) -> list[Decision]:
    d = LinkDecision.__table__.c
    rows = conn.execute(select(d.platform, d.resource, d.record_id, d.other_platform, d.other_resource,
                               d.other_record_id, d.decision).where(d.active.is_(True)).order_by(d.id))
    return [Decision((r[0], r[1], r[2]), (r[3], r[4], r[5]), r[6]) for r in rows]


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for a linking run. The run builds millions
    of long-lived objects (records, profiles, clusters, golden records) that live until
    it ends; the collector would traverse them again each time enough new ones pile up —
    about a third of a 20,000-elder run. They hold no reference cycles worth collecting
    meanwhile, and are freed by reference counting when the run returns."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def link(settings: HubSettings | None = None, *, engine: Engine | None = None,
         progress: Progress | None = None) -> LinkResult:
    with collector_paused():
        return _link(settings, engine=engine, progress=progress)


def _link(settings: HubSettings | None, *, engine: Engine | None, progress: Progress | None) -> LinkResult:
    settings = settings or get_settings()
    link_at, review_at = settings.link_at, settings.review_at
    engine = engine or get_engine(settings)
    say = progress or log.info
    t0 = time.monotonic()
    with engine.begin() as conn:
        run_id = conn.execute(insert(LinkRun).values(started_at=datetime.now(UTC), status="running")
                              .returning(LinkRun.id)).scalar_one()
    try:
        with engine.connect() as conn:
            as_of = platform_as_of(conn)
            records = load_records(conn)
            decisions = _decisions(conn)
        say(f"linking {len(records):,} person records (as of {as_of or 'unknown'}, "
            f"{len(decisions)} steward decisions)")
        res = resolve(records, as_of or datetime.now(_SHANGHAI).date(), decisions=decisions,
                      link_at=link_at, review_at=review_at, progress=say)
        with engine.begin() as conn:
            pub = publish(conn, res, run_id, as_of, link_at=link_at)
            result = LinkResult(run_id, "published", as_of, len(records), time.monotonic() - t0, res.stats, pub)
            stats = {**res.stats, **{k: v for k, v in asdict(pub).items() if k != "person_ids"}}
            conn.execute(update(LinkRun).where(LinkRun.id == run_id).values(
                finished_at=datetime.now(UTC), status="published", as_of=as_of, release=pub.release,
                stats=stats, model=res.model.to_dict() if res.model else None))
    except Exception as exc:
        with engine.begin() as conn:
            conn.execute(update(LinkRun).where(LinkRun.id == run_id).values(
                finished_at=datetime.now(UTC), status="failed", error=f"{type(exc).__name__}: {exc}"))
        raise
    say(result.summary())
    return result
