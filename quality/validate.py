"""Validate what ingest staged, quarantine the unusable rows, gate each resource, and
promote what passes into the registry's inputs (``acc_*`` tables).

Per resource, the rows under validation are the staging rows not yet judged (their
batch id is above the gate's ``promoted_batch_id``) — so a batch blocked today is judged
again, with whatever came since, on the next run. The steps:

1. GX validates the pending rows (row checks) and the live table (freshness, volume) on
   the database; each check's failing share is compared with its threshold.
2. Rows failing a quarantining check go to ``quality_quarantine`` (one row per version
   and check, the value masked when personal) — also when the resource is blocked, so
   stewards see them.
3. A blocked resource stops there: its gate says why, the registry inputs keep the last
   good state, and the next run judges the same rows again.
4. Otherwise quarantine rows whose record now has another version (corrected) or a
   tombstone (withdrawn) are released; the pending rows not held back are upserted into
   the accepted table; the gate moves on. Counts reconcile: checked = promoted +
   quarantined.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, and_, case, exists, func, insert, not_, or_, select, update

from hub.db import analyze, get_engine
from hub.errors import HubError
from hub.privacy import mask
from hub.settings import HubSettings, get_settings
from landing.bulk import writer
from quality.checks import Check, CheckContext
from quality.suites import SUITES
from schemas.landing import IngestBatch, LandingRecord
from schemas.quality import (
    QualityGate,
    QualityQuarantine,
    QualityResource,
    QualityResult,
    QualityRun,
)
from schemas.staging import accepted_table, staging_table

__all__ = ["CheckResult", "QualityRunResult", "ResourceResult", "validate"]

log = logging.getLogger(__name__)
Progress = Callable[[str], None]
_q = QualityQuarantine.__table__


@dataclass
class CheckResult:
    check: str
    scope: str
    severity: str
    threshold: float
    rows_checked: int
    rows_failed: int
    outcome: str  # pass, warn, block
    observed: str | None = None
    block_at: float | None = None  # past this share a block check blocks (None: the threshold)

    @property
    def share(self) -> float:
        return self.rows_failed / self.rows_checked if self.rows_checked else 0.0


@dataclass
class ResourceResult:
    platform: str
    resource: str
    status: str = "passed"  # passed, warned, blocked
    rows_checked: int = 0
    rows_promoted: int = 0
    rows_quarantined: int = 0
    rows_released: int = 0
    rows_live: int = 0
    as_of: datetime | None = None
    checks: list[CheckResult] = field(default_factory=list)

    @property
    def reason(self) -> str | None:
        outcome = {"blocked": "block", "warned": "warn"}.get(self.status)
        bad = [c for c in self.checks if c.outcome == outcome]
        if self.status == "passed" or not bad:
            return None
        return "; ".join(f"{c.check} {c.rows_failed:,}/{c.rows_checked:,} ({100 * c.share:.1f}% > "
                         f"{100 * (c.block_at if outcome == 'block' and c.block_at else c.threshold):.1f}%)"
                         if c.scope != "table" else f"{c.check} {c.observed}"
                         for c in bad)


@dataclass
class QualityRunResult:
    run_id: int
    status: str
    resources: list[ResourceResult]
    docs: Path | None
    seconds: float

    def as_dict(self) -> dict:
        return {"run_id": self.run_id, "status": self.status, "seconds": round(self.seconds, 2),
                "docs": str(self.docs) if self.docs else None,
                "resources": [{k: v for k, v in vars(r).items() if k != "checks"} | {"reason": r.reason}
                              for r in self.resources]}

    def resource(self, platform: str, resource: str) -> ResourceResult:
        return next(r for r in self.resources if (r.platform, r.resource) == (platform, resource))


def _now() -> datetime:
    return datetime.now(UTC)


_landing = LandingRecord.__table__


def _delivered(platform: str, resource: str, after: int, upto: int) -> list:
    """The landed versions of the batches under validation."""
    c = _landing.c
    return [c.platform == platform, c.resource == resource, c.batch_id > after, c.batch_id <= upto]


def _ensure_gate(conn, platform: str, resource: str) -> None:  # noqa: ANN001
    if conn.execute(select(QualityGate.status).where(QualityGate.platform == platform,
                                                     QualityGate.resource == resource)).first() is None:
        conn.execute(insert(QualityGate).values(platform=platform, resource=resource, status="open",
                                                promoted_batch_id=0, updated_at=_now()))


#: A row check blocks only when at least this many rows fail: in a small batch one bad
#: row is a large share, and a warning is the proportionate answer.
BLOCK_MIN_FAILED = 10


def _outcome(check: Check, failed: int, checked: int, success: bool | None = None) -> str:
    if check.scope == "table":
        return "pass" if success else check.severity
    # row and delivery checks: a share of the rows
    if failed <= check.threshold * checked:
        return "pass"
    blocks = check.severity == "block" and failed >= BLOCK_MIN_FAILED and failed > check.block_share * checked
    return "block" if blocks else "warn"


def validate(settings: HubSettings | None = None, *, engine: Engine | None = None,
             ingest_run_id: int | None = None, progress: Progress | None = None,
             docs: bool = True) -> QualityRunResult:
    """Validate every resource's pending rows; see the module's docstring."""
    settings = settings or get_settings()
    engine = engine or get_engine(settings)
    t0 = time.monotonic()
    with engine.begin() as conn:
        run_id = conn.execute(insert(QualityRun).values(ingest_run_id=ingest_run_id, started_at=_now(),
                                                        status="running").returning(QualityRun.id)).scalar_one()
    # absolute: GX refuses a relative site directory (HUB_HOME defaults to ./.hub)
    docs_dir = (settings.home / "reports" / "quality" / f"run-{run_id}").resolve() if docs else None
    try:
        result = _validate(engine, run_id, docs_dir, progress)
    except Exception as exc:
        with engine.begin() as conn:
            conn.execute(update(QualityRun).where(QualityRun.id == run_id).values(
                status="failed", finished_at=_now(), error=f"{type(exc).__name__}: {exc}"))
        raise
    result.seconds = time.monotonic() - t0
    if docs:
        from quality.report import write_report

        write_report(engine, (settings.home / "reports" / "quality").resolve())
        _prune_docs(settings.home / "reports" / "quality", settings.quality_docs_keep)
    return result


def _prune_docs(root: Path, keep: int) -> None:
    """Keep the Data Docs of the newest ``keep`` runs (the history stays in the database)."""
    runs = sorted((p for p in root.glob("run-*") if p.is_dir() and p.name[4:].isdigit()),
                  key=lambda p: int(p.name[4:]))
    for old in runs[:-keep] if keep > 0 else runs:
        shutil.rmtree(old, ignore_errors=True)


@dataclass
class _Plan:
    """One resource's validation: what is pending and what applies."""

    platform: str
    resource: str
    table: Any
    gate: int  # batch ids up to here were judged before
    upto: int  # the newest batch id in staging when the run started
    ctx: CheckContext
    checked: int  # pending versions, tombstones included
    live_pending: int  # pending versions that are not tombstones
    live: int  # live rows in the table
    delivered: int  # landed versions of the pending batches (for delivery checks)
    checks: list[Check]

    @property
    def pending(self) -> Any:
        t = self.table
        return and_(t.c.batch_id > self.gate, t.c.batch_id <= self.upto)


def _plan(conn, platform: str, resource: str, checks: list[Check], tables: dict, dialect) -> _Plan:  # noqa: ANN001
    t = tables[(platform, resource)]
    gate = conn.execute(select(QualityGate.promoted_batch_id).where(
        QualityGate.platform == platform, QualityGate.resource == resource)).scalar() or 0
    upto = conn.execute(select(func.max(t.c.batch_id))).scalar() or 0
    as_of = conn.execute(select(func.max(IngestBatch.server_time)).where(
        IngestBatch.platform == platform, IngestBatch.resource == resource)).scalar()
    previous = conn.execute(select(QualityResource.rows_live).where(
        QualityResource.platform == platform, QualityResource.resource == resource)
        .order_by(QualityResource.run_id.desc()).limit(1)).scalar()
    pending = and_(t.c.batch_id > gate, t.c.batch_id <= upto)
    checked, live_pending, live = conn.execute(select(  # one scan for the three counts
        func.coalesce(func.sum(case((pending, 1), else_=0)), 0),
        func.coalesce(func.sum(case((and_(pending, not_(t.c.deleted)), 1), else_=0)), 0),
        func.coalesce(func.sum(case((not_(t.c.deleted), 1), else_=0)), 0)).select_from(t)).one()
    ctx = CheckContext(as_of=as_of, previous_live=previous, live=live, tables=tables, dialect=dialect)
    active = [c for c in checks if c.applies(ctx)]
    delivered = 0
    if any(c.scope == "delivery" for c in active):
        delivered = conn.execute(select(func.count()).select_from(_landing).where(
            *_delivered(platform, resource, gate, upto))).scalar_one()
    return _Plan(platform, resource, t, gate, upto, ctx, checked, live_pending, live, delivered, active)


def _validate(engine: Engine, run_id: int, docs_dir: Path | None, progress: Progress | None) -> QualityRunResult:
    from quality.gx import GxRun

    tables = {key: staging_table(*key) for key in SUITES}
    with engine.connect() as conn:
        plans = [_plan(conn, p, r, checks, tables, engine.dialect) for (p, r), checks in SUITES.items()]
    analyze(engine, [pl.table.name for pl in plans if pl.checked])  # only tables that changed

    gx = GxRun(engine, docs_dir)
    for pl in plans:
        t, name = pl.table, f"{pl.platform}.{pl.resource}"
        by_scope = {scope: [c.expectation(t, pl.ctx, pl.pending) for c in pl.checks if c.scope == scope]
                    for scope in ("row", "table", "delivery")}
        if pl.delivered:
            gx.add(f"{name}.delivery", select(_landing.c.record_id).where(
                *_delivered(pl.platform, pl.resource, pl.gate, pl.upto)), by_scope["delivery"])
        if pl.live_pending:
            gx.add(f"{name}.pending", select(t).where(pl.pending, not_(t.c.deleted)), by_scope["row"])
        gx.add(f"{name}.table", select(t).where(not_(t.c.deleted)), by_scope["table"])
    if progress:
        progress(f"validating {sum(p.live_pending for p in plans):,} pending rows of {len(plans)} resources "
                 f"({sum(len(p.checks) for p in plans)} checks)…")
    t_gx = time.monotonic()
    outcomes = gx.run(f"quality-{run_id}")
    if progress:
        progress(f"  Great Expectations: {time.monotonic() - t_gx:.1f}s (Data Docs included)")

    results = []
    for pl in plans:
        found = {o.check: o for scope in ("pending", "table", "delivery")
                 for o in outcomes.get(f"{pl.platform}.{pl.resource}.{scope}", [])}
        rr = ResourceResult(pl.platform, pl.resource, rows_checked=pl.checked, rows_live=pl.live, as_of=pl.ctx.as_of)
        for c in pl.checks:
            o = found.get(c.name)
            if o is None:
                continue  # a row check with no live pending rows
            failed = (o.unexpected or 0) if c.scope in ("row", "delivery") else (0 if o.success else 1)
            n = {"row": pl.live_pending, "delivery": pl.delivered}.get(c.scope, 1)
            rr.checks.append(CheckResult(c.name, c.scope, c.severity, c.threshold, n, failed,
                                         _outcome(c, failed, n, o.success),
                                         None if o.observed is None else str(o.observed)[:200], c.block_at))
        outcomes_ = {c.outcome for c in rr.checks}
        rr.status = "blocked" if "block" in outcomes_ else ("warned" if "warn" in outcomes_ else "passed")
        t_apply = time.monotonic()
        _apply(engine, run_id, rr, pl.table, pl.gate, pl.upto, pl.ctx, pl.pending,
               [c for c in pl.checks if c.quarantine])
        results.append(rr)
        if progress:
            progress(f"  {pl.platform}/{pl.resource}: {rr.rows_checked:,} checked = {rr.rows_promoted:,} promoted + "
                     f"{rr.rows_quarantined:,} quarantined"
                     f"{'' if rr.status != 'blocked' else ' (held: blocked)'}, {rr.rows_released:,} released "
                     f"[{rr.status}] in {time.monotonic() - t_apply:.1f}s" + (f" — {rr.reason}" if rr.reason else ""))

    status = ("blocked" if any(r.status == "blocked" for r in results)
              else "warned" if any(r.status == "warned" for r in results) else "passed")
    index = gx.index()
    with engine.begin() as conn:
        conn.execute(update(QualityRun).where(QualityRun.id == run_id).values(
            status=status, finished_at=_now(), docs_path=str(index) if index else None))
    return QualityRunResult(run_id, status, results, index, 0.0)


def _apply(engine: Engine, run_id: int, rr: ResourceResult, t, gate_id: int, upto: int,  # noqa: ANN001
           ctx: CheckContext, pending, quarantining: list[Check]) -> None:  # noqa: ANN001
    """Quarantine, release, promote and move the gate, in one transaction."""
    p, r = rr.platform, rr.resource
    now = _now()
    with engine.begin() as conn:
        if quarantining:  # one scan for all the quarantining checks: a flag and a value each
            preds = [c.failing(t, ctx) for c in quarantining]
            cols = [t.c[c.column] if c.column else t.c.record_id for c in quarantining]
            flags = [case((pr, 1), else_=0) for pr in preds]
            rows = conn.execute(select(t.c.record_id, t.c.version_hash, *flags, *cols).where(
                pending, not_(t.c.deleted), or_(*preds))).all()
            n = len(quarantining)
            held_rows = [(p, r, row[0], row[1], c.name, mask(col.name, row[2 + n + i]), run_id, now)
                         for row in rows for i, (c, col) in enumerate(zip(quarantining, cols, strict=True))
                         if row[2 + i]]
            if held_rows:
                writer(conn, _q, ("platform", "resource", "record_id", "version_hash", "check_name", "value",
                                  "run_id", "quarantined_at"),
                       'ON CONFLICT ("platform", "resource", "record_id", "version_hash", "check_name") '
                       "DO NOTHING").write(conn, held_rows)
                analyze(conn, [_q.name])
        q = _q.c
        held = exists().where(q.platform == p, q.resource == r, q.released_at.is_(None),
                              q.record_id == t.c.record_id, q.version_hash == t.c.version_hash)
        # Counted from the (small) quarantine side: the pending versions with an open row.
        open_versions = select(q.record_id, q.version_hash).where(
            q.platform == p, q.resource == r, q.released_at.is_(None)).distinct().subquery()
        rr.rows_quarantined = conn.execute(select(func.count()).select_from(open_versions).join(
            t, and_(t.c.record_id == open_versions.c.record_id, t.c.version_hash == open_versions.c.version_hash))
            .where(pending)).scalar_one()
        _ensure_gate(conn, p, r)
        if rr.status == "blocked":
            conn.execute(update(QualityGate).where(QualityGate.platform == p, QualityGate.resource == r).values(
                status="blocked", last_run_id=run_id, reason=rr.reason, updated_at=now))
        else:
            # Release what a newer version (or a tombstone) of the record has replaced.
            current = select(t.c.version_hash, t.c.deleted).where(t.c.record_id == q.record_id).correlate(_q)
            open_ = and_(q.platform == p, q.resource == r, q.released_at.is_(None))
            for reason, cond in (
                ("withdrawn", exists(current.where(t.c.deleted, t.c.batch_id <= upto))),
                ("corrected", exists(current.where(not_(t.c.deleted), t.c.version_hash != q.version_hash,
                                                   t.c.batch_id <= upto))),
            ):
                rr.rows_released += conn.execute(update(_q).where(open_, cond).values(
                    released_at=now, released_run_id=run_id, release_reason=reason)).rowcount
            acc = accepted_table(p, r)
            cols = [c.name for c in t.columns]
            promote = select(*[t.c[c] for c in cols]).where(pending, not_(held))
            rr.rows_promoted = _upsert_select(conn, acc, cols, promote)
            conn.execute(update(QualityGate).where(QualityGate.platform == p, QualityGate.resource == r).values(
                status="open", promoted_batch_id=max(gate_id, upto), last_run_id=run_id,
                last_good_run_id=run_id, reason=None, updated_at=now))
            if rr.rows_checked != rr.rows_promoted + rr.rows_quarantined:
                raise HubError(f"{p}/{r}: quality counts do not reconcile: {rr.rows_checked} checked != "
                               f"{rr.rows_promoted} promoted + {rr.rows_quarantined} quarantined")
        conn.execute(insert(QualityResource).values(
            run_id=run_id, platform=p, resource=r, status=rr.status, as_of=rr.as_of, rows_checked=rr.rows_checked,
            rows_promoted=rr.rows_promoted, rows_quarantined=rr.rows_quarantined, rows_released=rr.rows_released,
            rows_live=rr.rows_live, reason=rr.reason))
        if rr.checks:
            conn.execute(insert(QualityResult), [
                {"run_id": run_id, "platform": p, "resource": r, "check_name": c.check, "scope": c.scope,
                 "severity": c.severity, "threshold": c.threshold, "rows_checked": c.rows_checked,
                 "rows_failed": c.rows_failed, "observed": c.observed, "outcome": c.outcome}
                for c in rr.checks])


def _upsert_select(conn, acc, cols: list[str], promote) -> int:  # noqa: ANN001
    """INSERT … SELECT … ON CONFLICT (record_id) DO UPDATE: the accepted row becomes the
    staging row (staging already holds the winning version of each record). Returns the
    rows written, as the database counts them."""
    sel = promote.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True})
    names = ", ".join(f'"{c}"' for c in cols)
    sets = ", ".join(f'"{c}" = excluded."{c}"' for c in cols if c != "record_id")
    # SQLite needs a WHERE in INSERT … SELECT … ON CONFLICT to parse the upsert clause.
    result = conn.exec_driver_sql(f'INSERT INTO "{acc.name}" ({names}) SELECT * FROM ({sel}) AS s WHERE true '
                                  f'ON CONFLICT ("record_id") DO UPDATE SET {sets}')
    return result.rowcount
