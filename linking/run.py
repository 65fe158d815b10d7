"""One linking run: read the registry's inputs, resolve, publish the next release.

Shared by ``hub link``, ``hub run`` and the Airflow DAG. The as-of date is the
platforms' clock (the newest ``server_time`` they reported), never the hub's: a run on
old data judges that data's period, including who counts as an elder.

A run is **full** — estimate the model from all the data, judge every record, build
every golden record — or **incremental**: reuse the last full run's model, judge only the
records a change can have touched and build only the golden records whose inputs
changed (``linking.resolve``, ``linking.publish``); the registry it publishes is the one a
full run with that model would publish. A run is incremental unless asked to be full,
there is no earlier run to go on, the model is ``HUB_LINK_FULL_AFTER_DAYS`` old by the
platforms' date, the thresholds or the linking code changed since the last run, or the
model's comparisons did. A **rebuild** judges and builds everything with the stored
model: what an incremental run must come to.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, func, insert, select, update

from hub.collector import collector_paused
from hub.db import get_engine
from hub.settings import HubSettings, get_settings
from landing.bulk import raw_rows
from linking.comparisons import COMPARISONS
from linking.model import FSModel
from linking.publish import PublishResult, publish
from linking.records import load_records
from linking.resolve import Decision, Key, StateRow, resolve
from schemas.landing import IngestBatch
from schemas.registry import LinkDecision, LinkRun, LinkState

__all__ = ["MODES", "LinkModeError", "LinkResult", "code_version", "collector_paused", "link", "platform_as_of"]

log = logging.getLogger(__name__)
Progress = Callable[[str], None]
_SHANGHAI = ZoneInfo("Asia/Shanghai")


@dataclass
class LinkResult:
    run_id: int
    status: str  # published, failed
    mode: str  # full, incremental, rebuild
    as_of: date | None
    records: int
    seconds: float
    stats: dict[str, int] = field(default_factory=dict)
    published: PublishResult | None = None
    error: str | None = None

    def as_dict(self) -> dict:
        out = {"link_run_id": self.run_id, "status": self.status, "mode": self.mode, "as_of": self.as_of,
               "records": self.records,
               "seconds": round(self.seconds, 1), "stats": self.stats, "error": self.error}
        if self.published is not None:
            out["published"] = {k: v for k, v in asdict(self.published).items() if k != "person_ids"}
        return out

    def summary(self) -> str:
        if self.published is None:
            return f"link run {self.run_id}: {self.status}: {self.error}"
        p = self.published
        reused = (f", {self.stats.get('reused', 0):,} decisions and "
                  f"{p.persons - p.goldens_built:,} golden records kept" if self.mode == "incremental" else "")
        return (f"registry release {p.release} ({self.mode}{reused}): {p.persons:,} persons, "
                f"{p.links:,} of {self.records:,} records linked ({self.stats.get('id', 0):,} by ID number, "
                f"{self.stats.get('probabilistic', 0):,} probabilistic, {self.stats.get('steward', 0):,} by stewards), {p.reviews:,} for review; "
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


class LinkModeError(RuntimeError):
    """The run asked for cannot be made (a rebuild with no stored model)."""


#: The modules whose code decides a linking run's result: when any of them changes (a new
#: release of the hub), the stored model and decisions are not reused.
_CODE = ("linking.comparisons", "linking.model", "linking.names", "linking.records", "linking.resolve",
         "linking.survivorship", "landing.normalize")


def code_version() -> str:
    """A fingerprint of the linking code (see ``_CODE``)."""
    h = hashlib.blake2b(digest_size=8)
    for name in _CODE:
        spec = importlib.util.find_spec(name)
        h.update(Path(spec.origin).read_bytes() if spec and spec.origin else name.encode())
    return h.hexdigest()


def _previous(conn: Connection, as_of: date | None, full_after_days: int | None,
              settings: HubSettings) -> tuple[FSModel | None, str]:
    """The model an incremental run (or a rebuild) reuses — the latest published run's,
    carried from the last full run — or ``None`` and why the run must be full: there is
    none, or it was estimated over other comparisons; and for an incremental run
    (``full_after_days`` given), it is that many days old, or the last run was made by
    other linking code or under other thresholds (its decisions cannot be reused)."""
    last = conn.execute(select(LinkRun.model, LinkRun.mode, LinkRun.stats).where(LinkRun.status == "published")
                        .order_by(LinkRun.id.desc()).limit(1)).first()
    if last is None or last.model is None or last.mode is None:
        return None, "no earlier run to go on"
    stats = last.stats or {}
    if full_after_days is not None:  # incremental: the decisions are reused too (a rebuild judges them all)
        if stats.get("code") != code_version():
            return None, "the linking code changed since the last run"
        if (stats.get("link_at"), stats.get("review_at")) != (settings.link_at, settings.review_at):
            return None, "HUB_LINK_AT or HUB_REVIEW_AT changed since the last run"
        full_as_of = conn.execute(select(LinkRun.as_of).where(LinkRun.status == "published", LinkRun.mode == "full")
                                  .order_by(LinkRun.id.desc()).limit(1)).scalar()
        if as_of is not None and full_as_of is not None and (as_of - full_as_of).days >= full_after_days:
            return None, (f"the model is {(as_of - full_as_of).days} days old "
                          f"(HUB_LINK_FULL_AFTER_DAYS={full_after_days})")
    try:
        return FSModel.from_dict(last.model, COMPARISONS), ""
    except (KeyError, TypeError, ValueError) as exc:
        return None, f"the stored model cannot be reused ({exc})"


def _state(conn: Connection) -> dict[Key, StateRow]:
    """The decisions of the last run (``link_state``). Values that recur — the platform,
    resource and method, the signature of a person many records were linked to — are kept
    once (the driver returns a new string for every row): 671 → 441 bytes a row, ~0.5 GB
    less for a city's 2.4 million."""
    s = LinkState.__table__.c
    seen: dict[str, str] = {}
    keep = seen.setdefault
    return {(keep(r[0], r[0]), keep(r[1], r[1]), r[2]):
            (r[3], r[4], None if r[5] is None else keep(r[5], r[5]), r[6], keep(r[7], r[7]))
            for r in raw_rows(conn, select(s.platform, s.resource, s.record_id, s.batch_id, s.candidates,
                                           s.person_sig, s.confidence, s.method))}


MODES = ("auto", "full", "rebuild")


def link(settings: HubSettings | None = None, *, engine: Engine | None = None,
         progress: Progress | None = None, mode: str = "auto") -> LinkResult:
    """Link and publish the next release. ``mode``: ``auto`` — incremental where it can be
    (see the module), else full; ``full`` — estimate the model again and judge and build
    everything; ``rebuild`` — judge and build everything with the stored model, which is
    what an incremental run must come to (and what to run after survivorship rules change)."""
    if mode not in MODES:
        raise ValueError(f"link mode {mode!r}: expected one of {', '.join(MODES)}")
    with collector_paused():
        return _link(settings, engine=engine, progress=progress, mode=mode)


def _link(settings: HubSettings | None, *, engine: Engine | None, progress: Progress | None,
          mode: str) -> LinkResult:
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
            model, why = (None, "asked for") if mode == "full" else _previous(
                conn, as_of, None if mode == "rebuild" else settings.link_full_after_days, settings)
            previous = _state(conn)
            records = load_records(conn)
            decisions = _decisions(conn)
        if mode == "rebuild" and model is None:
            raise LinkModeError(f"cannot rebuild with the stored model: {why}; run a full link (`hub link --full`)")
        if mode == "auto":
            mode = "incremental" if model is not None else "full"
        say(f"linking {len(records):,} person records (as of {as_of or 'unknown'}, "
            f"{len(decisions)} steward decisions): {mode} run{f' ({why})' if why and mode == 'full' else ''}")
        incremental = mode == "incremental"
        res = resolve(records, as_of or datetime.now(_SHANGHAI).date(), decisions=decisions,
                      link_at=link_at, review_at=review_at, progress=say, model=model,
                      previous=previous if incremental else None)
        say(f"linking: {res.stats.get('persons', 0):,} elders resolved; publishing the release")
        with engine.begin() as conn:
            pub = publish(conn, res, run_id, as_of, link_at=link_at, incremental=incremental,
                          previous_state=previous)
            result = LinkResult(run_id, "published", mode, as_of, len(records), time.monotonic() - t0,
                                res.stats, pub)
            stats = {**res.stats, **{k: v for k, v in asdict(pub).items() if k != "person_ids"},
                     "code": code_version(), "link_at": link_at, "review_at": review_at}
            conn.execute(update(LinkRun).where(LinkRun.id == run_id).values(
                finished_at=datetime.now(UTC), status="published", as_of=as_of, release=pub.release, mode=mode,
                stats=stats, model=res.model.to_dict() if res.model else None))
    except Exception as exc:
        with engine.begin() as conn:
            conn.execute(update(LinkRun).where(LinkRun.id == run_id).values(
                finished_at=datetime.now(UTC), status="failed", error=f"{type(exc).__name__}: {exc}"))
        raise
    say(result.summary())
    return result
