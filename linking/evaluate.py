"""Linkage quality against a generator's ground truth (tests and benchmarks only).

Pairwise: a pair of records is *predicted* when both are linked to the same person, and
*true* when both describe the same real person who is an elder (records of anyone else
must be linked to nobody). Precision = true predicted pairs / predicted pairs; recall =
true predicted pairs / true pairs. Counted from cluster sizes, never by listing pairs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import orjson
from sqlalchemy import Connection, Engine, select

from schemas.registry import PersonLink

__all__ = ["PairwiseScore", "current_links", "load_truth", "pairwise", "score_release"]


@dataclass
class PairwiseScore:
    true_pairs: int
    predicted_pairs: int
    correct_pairs: int
    records: int
    non_elder_linked: int  # records of a non-elder (or of nobody) linked to a person

    @property
    def precision(self) -> float:
        return self.correct_pairs / self.predicted_pairs if self.predicted_pairs else 1.0

    @property
    def recall(self) -> float:
        return self.correct_pairs / self.true_pairs if self.true_pairs else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def __str__(self) -> str:
        return (f"precision {self.precision:.4f}  recall {self.recall:.4f}  F1 {self.f1:.4f}  "
                f"({self.correct_pairs:,} of {self.predicted_pairs:,} predicted pairs, "
                f"{self.true_pairs:,} true pairs, {self.records:,} records, "
                f"{self.non_elder_linked} non-elder records linked)")


def _pairs(sizes: Iterable[int]) -> int:
    return sum(s * (s - 1) // 2 for s in sizes)


def pairwise(predicted: Mapping[tuple[str, str, str], str | None],
             truth: Mapping[tuple[str, str, str], str | None], elders: set[str]) -> PairwiseScore:
    """``predicted``: record key -> person id (None = linked to nobody), over the records
    the linker saw; ``truth``: record key -> true person key; ``elders``: the true person
    keys that belong in the registry."""
    pred_sizes: Counter = Counter()
    true_sizes: Counter = Counter()
    both: Counter = Counter()
    non_elder = 0
    for key, pid in predicted.items():
        t = truth.get(key)
        t_elder = t if t in elders else None
        if pid is not None:
            pred_sizes[pid] += 1
            if t_elder is None:
                non_elder += 1
        if t_elder is not None:
            true_sizes[t_elder] += 1
        if pid is not None and t_elder is not None:
            both[(pid, t_elder)] += 1
    return PairwiseScore(_pairs(true_sizes.values()), _pairs(pred_sizes.values()), _pairs(both.values()),
                         len(predicted), non_elder)


def load_truth(truth_dir: Path) -> tuple[dict[tuple[str, str, str], str | None], set[str]]:
    """A generator's truth files (``simulators.truth``): record -> person key, and the
    keys of the persons who are elders."""
    truth: dict[tuple[str, str, str], str | None] = {}
    with (truth_dir / "records.ndjson").open("rb") as f:
        for line in f:
            o = orjson.loads(line)
            truth[(o["platform"], o["resource"], o["record_id"])] = o["person_key"]
    elders: set[str] = set()
    with (truth_dir / "persons.ndjson").open("rb") as f:
        for line in f:
            o = orjson.loads(line)
            if o["is_elder"]:
                elders.add(o["person_key"])
    return truth, elders


def current_links(conn: Connection) -> dict[tuple[str, str, str], str | None]:
    """The published registry's links: record -> person id (None: linked to nobody)."""
    pl = PersonLink.__table__.c
    rows = conn.execute(select(pl.platform, pl.resource, pl.record_id, pl.person_id).where(pl.valid_to.is_(None)))
    return {(r[0], r[1], r[2]): r[3] for r in rows}


def score_release(engine: Engine, truth_dir: Path) -> PairwiseScore | None:
    """Pairwise scores of the published registry against truth files, if there are any."""
    if not (truth_dir / "records.ndjson").exists():
        return None
    truth, elders = load_truth(truth_dir)
    with engine.connect() as conn:
        return pairwise(current_links(conn), truth, elders)
