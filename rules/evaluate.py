"""Findings against a generator's planted breaches (tests, the demo and benchmarks only).

A finding and a planted breach are the same when they have the same rule and period and
either name the same person (the hub's person mapped to the truth's by the majority of its
linked records) or share an evidence record — the latter is what ties a breach of a
resident the registry does not hold (a property order for a 45-year-old). Each breach
matches at most one finding. Precision = matched findings / findings; recall = matched
breaches / breaches; per rule.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import orjson
from sqlalchemy import Connection, Engine, select

from rules.definitions import RULES
from schemas.findings import Finding
from schemas.registry import PersonLink

__all__ = ["RuleScore", "load_breaches", "score", "score_findings"]

Ref = tuple[str, str, str]


@dataclass
class RuleScore:
    findings: int = 0
    breaches: int = 0
    matched: int = 0

    @property
    def precision(self) -> float:
        return self.matched / self.findings if self.findings else 1.0

    @property
    def recall(self) -> float:
        return self.matched / self.breaches if self.breaches else 1.0

    def __str__(self) -> str:
        return (f"precision {self.precision:.4f}  recall {self.recall:.4f}  "
                f"({self.matched} matched, {self.findings} found, {self.breaches} planted)")


def load_breaches(truth_dir: Path) -> tuple[list[dict], dict[Ref, str | None]]:
    """The planted breaches and record -> true person of a truth directory."""
    with (truth_dir / "breaches.ndjson").open("rb") as f:
        breaches = [orjson.loads(line) for line in f]
    record_person: dict[Ref, str | None] = {}
    with (truth_dir / "records.ndjson").open("rb") as f:
        for line in f:
            o = orjson.loads(line)
            record_person[(o["platform"], o["resource"], o["record_id"])] = o["person_key"]
    return breaches, record_person


def _person_map(conn: Connection, record_person: Mapping[Ref, str | None]) -> dict[str, str]:
    """Hub person id -> the true person most of its linked records describe."""
    pl = PersonLink.__table__.c
    votes: dict[str, Counter] = defaultdict(Counter)
    for p, r, rid, pid in conn.execute(select(pl.platform, pl.resource, pl.record_id, pl.person_id).where(
            pl.valid_to.is_(None), pl.person_id.is_not(None))):
        t = record_person.get((p, r, rid))
        if t is not None:
            votes[pid][t] += 1
    return {pid: c.most_common(1)[0][0] for pid, c in votes.items()}


def score(conn: Connection, breaches: Iterable[dict], record_person: Mapping[Ref, str | None]) -> dict[str, RuleScore]:
    """Per rule: the open findings of the last judging run against ``breaches``."""
    people = _person_map(conn, record_person)
    f = Finding.__table__.c
    found: dict[tuple[str, str], list[tuple[str | None, set[Ref]]]] = defaultdict(list)
    scores = {r.code: RuleScore() for r in RULES}
    for code, period, pid, evidence in conn.execute(select(f.rule, f.period, f.person_id, f.evidence).where(
            f.state == "open")):
        found[(code, period)].append((people.get(pid) if pid else None, {tuple(e) for e in evidence}))
        scores.setdefault(code, RuleScore()).findings += 1
    for b in breaches:
        s = scores.setdefault(b["rule"], RuleScore())
        s.breaches += 1
        ev = {tuple(e) for e in b["evidence"]}
        pool = found.get((b["rule"], b["period"]), [])
        for i, (person, fev) in enumerate(pool):
            if (person is not None and person == b["person_key"]) or (ev & fev):
                s.matched += 1
                pool.pop(i)
                break
    return scores


def score_findings(engine: Engine, truth_dir: Path) -> dict[str, RuleScore] | None:
    """Per-rule scores of the current findings against truth files, if there are any."""
    if not (truth_dir / "breaches.ndjson").exists():
        return None
    breaches, record_person = load_breaches(truth_dir)
    with engine.connect() as conn:
        return score(conn, breaches, record_person)
