"""One judging run: every rule of ``rules.definitions`` over the published registry, and
the findings merged into ``finding`` — in one transaction, so readers see the previous
findings or the new ones.

1. **Window and context** (``rules.context``): the as-of date is the platforms' clock,
   the window starts at ``HUB_RULES_WINDOW_START`` or the earliest transaction received;
   the working tables are filled afresh.
2. **Rules**, each one ``INSERT … SELECT`` into ``rule_out``, spread into
   ``finding_candidate`` one row per evidence record (timed per rule).
3. **Merge.** A finding is named by ``(rule, person, organisation, period, anchor)``
   (``natural_key``) and its id is derived from that name, so the same breach keeps its
   id, and its steward's decision, on every later run. A finding of a person since merged
   into another moves to the survivor's id first. Then:

   * new → ``open``; found again → ``open`` (a closed one reopens);
   * dismissed or marked fixed, and the evidence changed since the decision → the
     decision is lifted (logged as ``reopened``): the steward looks again;
   * open but not found by this run, its period inside the window → ``closed`` (never
     deleted); findings outside the window are left as they are.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import (
    Connection,
    Date,
    Engine,
    bindparam,
    delete,
    func,
    insert,
    select,
    text,
    update,
)

from hub.db import analyze, get_engine
from hub.settings import HubSettings, get_settings
from linking.run import platform_as_of
from registry.read import current_release
from rules.context import Window, build_catalog, build_context, window
from rules.definitions import RULES, Rule
from rules.errors import RulesError
from rules.params import load_params
from schemas.findings import Finding, FindingCandidate, FindingDecision, RuleOut, RuleRun
from schemas.registry import PersonVersion
from schemas.staging import accepted_table

__all__ = ["JudgeResult", "finding_id", "judge"]

log = logging.getLogger(__name__)
Progress = Callable[[str], None]


@dataclass
class RuleStats:
    found: int = 0
    new: int = 0
    reopened: int = 0
    closed: int = 0
    amount: Decimal = Decimal(0)
    seconds: float = 0.0


@dataclass
class JudgeResult:
    run_id: int
    status: str
    window: Window | None
    release: int | None
    rules: dict[str, RuleStats] = field(default_factory=dict)
    context: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    report: Path | None = None

    @property
    def found(self) -> int:
        return sum(s.found for s in self.rules.values())

    def as_dict(self) -> dict:
        return {"rule_run": self.run_id, "status": self.status, "release": self.release,
                "window": None if self.window is None else {"start": str(self.window.start),
                                                            "as_of": str(self.window.as_of)},
                "seconds": round(self.seconds, 1), "warnings": self.warnings, "context": self.context,
                "rules": {k: {"found": v.found, "new": v.new, "reopened": v.reopened, "closed": v.closed,
                              "amount_at_risk": str(v.amount), "seconds": round(v.seconds, 2)}
                          for k, v in self.rules.items()}}


#: The tables the context and the rules read.
_INPUTS = ["person_link", "person_version", "landing_record", "catalog_snapshot",
           *(accepted_table(p, r).name for p, r in (
               ("civil_affairs", "elders"), ("civil_affairs", "benefits"), ("civil_affairs", "card-deposits"),
               ("civil_affairs", "meal-records"), ("civil_affairs", "subsidy-payments"),
               ("civil_affairs", "time-bank"), ("medical_insurance", "ltc-enrolments"),
               ("medical_insurance", "ltc-payments"), ("property_mgmt", "service-orders"),
               ("public_security", "residents")))]


def finding_id(natural_key: str) -> str:
    """The stable id of the finding named ``natural_key``."""
    return "F" + hashlib.blake2b(natural_key.encode(), digest_size=8).hexdigest()


def judge(settings: HubSettings | None = None, *, engine: Engine | None = None,
          progress: Progress | None = None, window_start: date | None = None, window_end: date | None = None,
          reports: bool = True) -> JudgeResult:
    """Judge every rule over the published registry; see the module docstring."""
    settings = settings or get_settings()
    engine = engine or get_engine(settings)
    say = progress or log.info
    params = load_params(settings.policy_file)
    t0 = time.monotonic()
    with engine.begin() as conn:
        run_id = conn.execute(insert(RuleRun).values(started_at=datetime.now(UTC), status="running")
                              .returning(RuleRun.id)).scalar_one()
    try:
        with engine.begin() as conn:
            result = _judge(conn, run_id, params, window_start or settings.rules_window_start, window_end, say)
            result.seconds = time.monotonic() - t0
            conn.execute(update(RuleRun).where(RuleRun.id == run_id).values(
                finished_at=datetime.now(UTC), status=result.status, release=result.release,
                window_start=result.window.start if result.window else None,
                as_of=result.window.as_of if result.window else None, stats=result.as_dict()))
    except Exception as exc:
        with engine.begin() as conn:
            conn.execute(update(RuleRun).where(RuleRun.id == run_id).values(
                finished_at=datetime.now(UTC), status="failed", error=f"{type(exc).__name__}: {exc}"))
        raise
    if reports:
        from rules.report import write_reports

        result.report = write_reports(engine, (settings.home / "reports" / "findings").resolve())
        say(f"findings report for stewards: {result.report}")
    return result


def _judge(conn: Connection, run_id: int, params, start: date | None, end: date | None,  # noqa: ANN001
           say: Progress) -> JudgeResult:
    if conn.dialect.name == "postgresql":
        # a few dozen big statements: memory for their hashes and sorts, and no JIT
        # compilation (it costs seconds a statement and saves none here)
        conn.exec_driver_sql("SET LOCAL work_mem = '256MB'")
        conn.exec_driver_sql("SET LOCAL jit = off")
    release = current_release(conn)
    if release is None:
        raise RulesError("no registry release has been published yet: link first (hub link, or hub run)")
    w = window(conn, platform_as_of(conn), start, end)
    result = JudgeResult(run_id, "done", w, release)
    if w is None:
        result.warnings.append("nothing dated received yet: no window to judge")
        say("rules: nothing dated received yet, nothing judged")
        return result
    uncovered = params.uncovered(w.start, w.as_of)
    if uncovered:
        msg = (f"policy parameters in {params.path} have no value for part of the window "
               f"({'; '.join(uncovered)}): dates there are not judged by the rules that need them")
        result.warnings.append(msg)
        say(f"WARNING: {msg}")
    t = time.monotonic()
    # the planner's statistics of the inputs (ingest and linking have just filled them) …
    stale = analyze(conn, _INPUTS, stale_only=True)
    if stale:
        say(f"rules: fresh planner statistics for {len(stale)} input tables ({time.monotonic() - t:.1f}s)")
    result.context = build_context(conn, w, params)
    build_catalog(conn)
    # … and of the freshly filled working tables
    analyze(conn, ["rule_person", "rule_id", "rule_enrolment", "rule_assessment", "rule_calendar", "rule_month",
                   "rule_week", "rule_catalog", "policy_param"])
    say(f"rules: window {w.start} .. {w.as_of} (as of the platforms' clock), registry release {release}; "
        f"context {time.monotonic() - t:.1f}s ({result.context['persons']:,} persons, "
        f"{result.context['ids']:,} ID numbers, {result.context['assessments']:,} assessments)")
    conn.execute(delete(FindingCandidate))
    binds = {"ws": w.start, "as_of": w.as_of}
    for r in RULES:
        t = time.monotonic()
        n = _run_rule(conn, r, binds)
        result.rules[r.code] = RuleStats(found=n, seconds=time.monotonic() - t)
    _merge(conn, run_id, w, result)
    for code, s in result.rules.items():
        say(f"  {code:32} {s.found:>8,} found ({s.new:,} new, {s.reopened:,} reopened, {s.closed:,} closed), "
            f"{s.amount:,.2f} yuan at risk, {s.seconds:.1f}s")
    return result


def _run_rule(conn: Connection, r: Rule, binds: dict[str, Any]) -> int:
    """Run one rule into ``finding_candidate``; returns how many findings it produced."""
    conn.execute(delete(RuleOut))
    cols = ("person_id, org_code, period, key_period, period_start, period_end, anchor, amount_at_risk, "
            "measure, expected, note, ev1, ev2, ev3, ev4")
    body = r.sql(conn.dialect.name)
    used = [b for b in binds if f":{b}" in body]
    sql = text(f"INSERT INTO rule_out ({cols}) SELECT {cols} FROM ({body}) AS r").bindparams(
        *[bindparam(b, type_=Date) for b in used])
    conn.execute(sql, {b: binds[b] for b in used})
    key = ("o.person_id_k || '|' || o.org_code_k || '|' || o.key_period || '|' || o.anchor")
    agg = "SUM" if r.amount == "sum" else "MAX"
    spread = " UNION ALL ".join(
        f"SELECT k.natural_key, k.amount_total, o.*, o.ev{i} AS ev FROM keyed k JOIN o ON o.id = k.id "
        f"WHERE o.ev{i} IS NOT NULL" for i in range(1, 5))
    conn.execute(text(f"""
INSERT INTO finding_candidate (natural_key, rule, person_id, org_code, period, period_start, period_end,
                               amount_at_risk, measure, expected, note, platform, resource, record_id)
WITH o AS (
  SELECT rule_out.*, COALESCE(person_id, '') AS person_id_k, COALESCE(org_code, '') AS org_code_k FROM rule_out
), keyed AS (
  SELECT o.id, '{r.code}|' || {key} AS natural_key,
         {agg}(o.amount_at_risk) OVER (PARTITION BY o.person_id_k, o.org_code_k, o.key_period, o.anchor)
           AS amount_total
  FROM o
), spread AS ({spread})
SELECT natural_key, '{r.code}', person_id, org_code, period, period_start, period_end, amount_total, measure,
       expected, note, {_split_ref(conn.dialect.name)}
FROM spread"""))
    return conn.execute(text(
        "SELECT COUNT(*) FROM (SELECT DISTINCT person_id, org_code, key_period, anchor FROM rule_out) AS f")).scalar_one()


def _split_ref(dialect: str) -> str:
    """``platform/resource/record_id`` → three columns (platform and resource hold no '/')."""
    if dialect == "sqlite":
        p = "instr(ev, '/')"
        rest = f"substr(ev, {p} + 1)"
        return (f"substr(ev, 1, {p} - 1), substr({rest}, 1, instr({rest}, '/') - 1), "
                f"substr({rest}, instr({rest}, '/') + 1)")
    return ("split_part(ev, '/', 1), split_part(ev, '/', 2), "
            "substr(ev, length(split_part(ev, '/', 1)) + length(split_part(ev, '/', 2)) + 3)")


# ------------------------------------------------------------------------------ merge


def _remap_merged_persons(conn: Connection, run_id: int) -> None:
    """Findings of a person merged into another move to the survivor's id (a finding the
    survivor already has is closed instead)."""
    f, pv = Finding.__table__.c, PersonVersion.__table__.c
    rows = conn.execute(select(f.finding_id, f.natural_key, pv.merged_into).join(
        PersonVersion.__table__, (pv.person_id == f.person_id) & pv.valid_to.is_(None) & pv.merged_into.is_not(None))
    ).all()
    for fid, nk, survivor in rows:
        rule_code, _person, rest = nk.split("|", 2)
        new_key = f"{rule_code}|{survivor}|{rest}"
        if conn.execute(select(f.finding_id).where(f.natural_key == new_key)).first():
            conn.execute(update(Finding).where(f.finding_id == fid).values(state="closed", closed_run=run_id))
        else:
            conn.execute(update(Finding).where(f.finding_id == fid).values(person_id=survivor, natural_key=new_key))


def _candidates(conn: Connection) -> Iterator[tuple[dict[str, Any], Any, list[list[str]]]]:
    """The run's findings, one at a time: its values, the finding of the same name
    already known (or None), its evidence (sorted, distinct)."""
    c = FindingCandidate.__table__.c
    f = Finding.__table__.c
    q = (select(c.natural_key, c.rule, c.person_id, c.org_code, c.period, c.period_start, c.period_end,
                c.amount_at_risk, c.measure, c.expected, c.note, c.platform, c.resource, c.record_id,
                f.finding_id, f.state, f.decision, f.decision_evidence_hash)
         .outerjoin(Finding.__table__, f.natural_key == c.natural_key).order_by(c.natural_key))
    cur: dict[str, Any] | None = None
    old: Any = None
    evidence: set[tuple[str, str, str]] = set()
    for row in conn.execute(q).yield_per(10_000):
        if cur is None or row.natural_key != cur["natural_key"]:
            if cur is not None:
                yield cur, old, [list(e) for e in sorted(evidence)]
            cur = {k: getattr(row, k) for k in ("natural_key", "rule", "person_id", "org_code", "period",
                                                "period_start", "period_end", "amount_at_risk", "measure",
                                                "expected", "note")}
            old = row if row.finding_id is not None else None
            evidence = set()
        else:  # the row's own values where the first row had none
            for k in ("measure", "expected", "note"):
                if cur[k] is None and getattr(row, k) is not None:
                    cur[k] = getattr(row, k)
        evidence.add((row.platform, row.resource, row.record_id))
    if cur is not None:
        yield cur, old, [list(e) for e in sorted(evidence)]


def _evidence_hash(evidence: list[list[str]]) -> str:
    return hashlib.blake2b(orjson.dumps(evidence), digest_size=16).hexdigest()


def _merge(conn: Connection, run_id: int, w: Window, result: JudgeResult) -> None:
    _remap_merged_persons(conn, run_id)
    f = Finding.__table__
    now = datetime.now(UTC)
    inserts: list[dict] = []
    updates: list[dict] = []
    reopen_log: list[dict] = []

    def flush() -> None:
        if inserts:
            conn.execute(insert(f), inserts)
            inserts.clear()
        if updates:
            conn.execute(update(f).where(f.c.finding_id == bindparam("fid")).values(
                {k: bindparam(k) for k in updates[0] if k != "fid"}), updates)
            updates.clear()

    # writing while the stream reads is safe: it joins a finding only in its own block of rows
    for cand, old, evidence in _candidates(conn):
        stats = result.rules[cand["rule"]]
        stats.amount += cand["amount_at_risk"] or 0
        ev_hash = _evidence_hash(evidence)
        values = {k: cand[k] for k in ("period", "period_start", "period_end", "amount_at_risk", "measure",
                                       "expected", "note")}
        values.update(evidence=evidence, evidence_hash=ev_hash, state="open", last_run=run_id, closed_run=None)
        if old is None:
            stats.new += 1
            inserts.append({**values, "finding_id": finding_id(cand["natural_key"]),
                            "natural_key": cand["natural_key"], "rule": cand["rule"],
                            "person_id": cand["person_id"], "org_code": cand["org_code"], "first_run": run_id,
                            "decision": None, "decision_by": None, "decision_at": None, "decision_reason": None,
                            "decision_evidence_hash": None})
        else:
            if old.state == "closed":
                stats.reopened += 1
            lift = old.decision in ("dismissed", "fixed") and old.decision_evidence_hash != ev_hash
            values["decision"] = None if lift else old.decision
            if lift:
                reopen_log.append({"finding_id": old.finding_id, "decision": "reopened", "steward": "hub",
                                   "reason": f"evidence changed since it was {old.decision}",
                                   "decided_at": now, "evidence_hash": ev_hash})
            updates.append({"fid": old.finding_id, **values})
        if len(inserts) + len(updates) >= 5000:
            flush()
    flush()
    if reopen_log:
        conn.execute(insert(FindingDecision), reopen_log)
    # where the persons of this run's findings live (outreach lists go by district and town)
    conn.execute(text(
        "UPDATE finding SET district_code = (SELECT p.district_code FROM rule_person p "
        "WHERE p.person_id = finding.person_id), town = (SELECT p.town FROM rule_person p "
        "WHERE p.person_id = finding.person_id) WHERE last_run = :run"), {"run": run_id})
    # open findings of periods this run judged, which it did not find: their cause is gone
    stale = (f.c.state == "open", f.c.last_run < run_id, f.c.period_start >= w.start, f.c.period_end <= w.as_of)
    for code, n in conn.execute(select(f.c.rule, func.count()).where(*stale).group_by(f.c.rule)):
        if code in result.rules:
            result.rules[code].closed = n
    conn.execute(update(f).where(*stale).values(state="closed", closed_run=run_id))
