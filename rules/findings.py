"""Reading findings (for exports, the API and the stewards) and the stewards' decisions.

A finding carries what POLICY.md lists — ``finding_id`` (stable across runs), ``rule``,
``person_id`` (null only when the resident is no elder in the registry), ``org_code`` for
the institution rules, ``period``, ``amount_at_risk`` (yuan; 0 for omissions) and its
``evidence`` (the source records) — plus the rule's explanation in Chinese and English,
whether it is ``open`` or ``closed``, and the steward's decision. It holds no personal
data: persons and records are named by their ids only.

Decisions: ``confirmed``, ``dismissed`` (a reason is required), ``fixed``. Each is kept
with who made it and when (``finding_decision`` keeps them all); a dismissed or fixed
finding whose evidence later changes is reopened by the next run for another look.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from rules.definitions import rule
from rules.errors import RulesError
from schemas.findings import Finding, FindingDecision

__all__ = ["DECISIONS", "decide", "explain", "finding_counts", "iter_findings"]

DECISIONS = ("confirmed", "dismissed", "fixed")


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, Decimal):
        v = v.normalize()
        return f"{v:f}"
    return str(v)


def explain(f: Any) -> dict[str, str]:
    """The rule's explanation of finding ``f`` (a row of ``finding``), in Chinese and English."""
    r = rule(f.rule)
    fields = {"period": f.period, "amount": _fmt(f.amount_at_risk), "measure": _fmt(f.measure),
              "expected": _fmt(f.expected), "note": f.note or "-"}
    return {"zh": r.explain_zh.format(**fields), "en": r.explain_en.format(**fields)}


def as_dict(f: Any) -> dict[str, Any]:
    return {
        "finding_id": f.finding_id, "rule": f.rule, "person_id": f.person_id, "org_code": f.org_code,
        "period": f.period, "amount_at_risk": float(f.amount_at_risk),  # yuan, a JSON number (0 for omissions)
        "evidence": [{"platform": p, "resource": r, "record_id": i} for p, r, i in f.evidence],
        "explanation": explain(f), "state": f.state, "district_code": f.district_code, "town": f.town,
        "decision": None if f.decision is None else {
            "decision": f.decision, "by": f.decision_by, "at": f.decision_at.isoformat() if f.decision_at else None,
            "reason": f.decision_reason},
        "first_run": f.first_run, "last_run": f.last_run,
    }


def iter_findings(conn: Connection, *, state: str | None = "open", rules: list[str] | None = None,
                  person_id: str | None = None, after: str | None = None, limit: int | None = None,
                  chunk: int = 5000) -> Iterator[dict[str, Any]]:
    """Findings in id order (``state`` None: open and closed), as dicts."""
    f = Finding.__table__.c
    q = select(Finding.__table__).order_by(f.finding_id)
    if state:
        q = q.where(f.state == state)
    if rules:
        q = q.where(f.rule.in_(rules))
    if person_id:
        q = q.where(f.person_id == person_id)
    if after:
        q = q.where(f.finding_id > after)
    if limit:
        q = q.limit(limit)
    for row in conn.execute(q).yield_per(chunk):
        yield as_dict(row)


def finding_counts(conn: Connection) -> dict[str, dict[str, int]]:
    """Per rule: open, closed, and open findings by decision."""
    f = Finding.__table__.c
    out: dict[str, dict[str, int]] = {}
    for code, state, decision, n in conn.execute(
            select(f.rule, f.state, f.decision, func.count()).group_by(f.rule, f.state, f.decision)):
        d = out.setdefault(code, {"open": 0, "closed": 0, "confirmed": 0, "dismissed": 0, "fixed": 0})
        d[state] += n
        if decision and state == "open":
            d[decision] += n
    return out


def decide(conn: Connection, finding_id: str, decision: str, steward: str, reason: str | None = None) -> None:
    """Record a steward's ``decision`` on a finding (inside the caller's transaction)."""
    if decision not in DECISIONS:
        raise RulesError(f"decision must be one of {', '.join(DECISIONS)}, got {decision!r}")
    if not steward or not steward.strip():
        raise RulesError("a decision needs the steward who made it")
    if decision == "dismissed" and not (reason and reason.strip()):
        raise RulesError("dismissing a finding needs a reason (why it is not a breach)")
    f = Finding.__table__.c
    row = conn.execute(select(f.finding_id, f.evidence_hash).where(f.finding_id == finding_id)).first()
    if row is None:
        raise RulesError(f"no finding {finding_id!r}; list them with `hub export findings`")
    now = datetime.now(UTC)
    conn.execute(update(Finding).where(f.finding_id == finding_id).values(
        decision=decision, decision_by=steward.strip(), decision_at=now, decision_reason=reason,
        decision_evidence_hash=row.evidence_hash))
    conn.execute(insert(FindingDecision).values(finding_id=finding_id, decision=decision, steward=steward.strip(),
                                                reason=reason, decided_at=now, evidence_hash=row.evidence_hash))
