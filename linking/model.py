"""Fellegi–Sunter scoring with parameters estimated from the data.

For every comparison level, ``m`` is the probability of the level among true matches and
``u`` among non-matches; a pair's match weight is the sum of ``log2(m/u)`` over its non-null
levels plus the prior log-odds. Nothing here is tuned by hand:

* ``u`` comes from random (record, person) pairs — almost all of them non-matches, the
  way Splink estimates it;
* ``m`` starts from the deterministic links (records whose valid ID number named their
  person: a labelled sample of true matches), and expectation–maximisation on the blocked
  candidate pairs then refines ``m`` and, per resource, the prior that a record's person
  is in the registry at all, with ``u`` held fixed. The labelled matches stay in every
  M-step as certain matches (semi-supervised EM), so a handful of odd candidate pairs
  cannot talk the model out of what thousands of known matches show. Levels the
  deterministic links never show (the property platform's masked numbers) are learnt by
  EM alone.

Every probability is kept inside ``[1e-4, 1 - 1e-4]``: a level never seen must not make
a pair certain or impossible on its own.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from linking.comparisons import Comparison

__all__ = ["FSModel", "estimate"]

_EPS = 1e-4
_PRIOR_WEIGHT = 20
#: Candidate pairs taken per step of EM (``estimate``): its temporaries stay ~100 MB.
_EM_CHUNK = 1 << 20
NULL = -1


@dataclass
class FSModel:
    comparisons: tuple[str, ...]
    levels: tuple[tuple[str, ...], ...]
    m: list[np.ndarray]
    u: list[np.ndarray]
    prior: np.ndarray  # per resource class: the share of its records whose person is known
    iterations: int = 0
    pairs: int = 0
    notes: list[str] = field(default_factory=list)
    #: The number of persons a record's candidates are drawn from (``N`` of
    #: :func:`posteriors`), fixed when the model is estimated: every record of a run — and of
    #: the incremental runs reusing this model — is judged against the same universe, so a
    #: record's probability does not depend on when in the run, or in which run, it is judged.
    persons: int = 1

    def weights(self) -> list[np.ndarray]:
        return [np.log2(m / u) for m, u in zip(self.m, self.u, strict=True)]

    def score(self, vectors: np.ndarray) -> np.ndarray:
        """Match weight (log2 likelihood ratio, no prior) of each row of ``vectors``."""
        w = np.zeros(len(vectors))
        for k, wk in enumerate(self.weights()):
            col = vectors[:, k]
            ok = col != NULL
            w[ok] += wk[col[ok]]
        return w

    def explain(self, vector: Sequence[int]) -> list[dict]:
        """Field by field, what a pair's levels contributed (for the review queue)."""
        out = []
        weights = self.weights()
        for k, level in enumerate(vector):
            if level == NULL:
                out.append({"comparison": self.comparisons[k], "level": "null", "weight": 0.0})
            else:
                out.append({"comparison": self.comparisons[k], "level": self.levels[k][level],
                            "weight": round(float(weights[k][level]), 2)})
        return out

    def to_dict(self) -> dict:
        """The model as JSON-able data, exact (floats round-trip): :meth:`from_dict` gives
        back a model that scores every pair the same, which incremental runs rely on."""
        return {
            "prior": [float(x) for x in self.prior], "iterations": self.iterations, "pairs": self.pairs,
            "persons": self.persons, "notes": self.notes,
            "comparisons": {
                name: {lvl: {"m": float(m[i]), "u": float(u[i])} for i, lvl in enumerate(levels)}
                for name, levels, m, u in zip(self.comparisons, self.levels, self.m, self.u, strict=True)},
        }

    @classmethod
    def from_dict(cls, data: dict, comparisons: Sequence[Comparison]) -> FSModel:
        """The model :meth:`to_dict` wrote, for ``comparisons`` (which must be the ones it
        was estimated over, level for level: otherwise :class:`ValueError`)."""
        stored = data["comparisons"]
        names = tuple(c.name for c in comparisons)
        if tuple(stored) != names or any(tuple(stored[c.name]) != c.levels for c in comparisons):
            raise ValueError("the stored linkage model was estimated over other comparisons "
                             f"({', '.join(stored)}); estimate it again (a full link run)")
        return cls(names, tuple(c.levels for c in comparisons),
                   [np.array([stored[c.name][lvl]["m"] for lvl in c.levels]) for c in comparisons],
                   [np.array([stored[c.name][lvl]["u"] for lvl in c.levels]) for c in comparisons],
                   prior=np.array(data["prior"], dtype=float), iterations=data.get("iterations", 0),
                   pairs=data.get("pairs", 0), notes=list(data.get("notes", [])), persons=data["persons"])


def _counts(vectors: np.ndarray, k: int, n_levels: int, weights: np.ndarray | None = None) -> np.ndarray:
    """How often (or with how much weight) each level of comparison ``k`` occurs."""
    col = vectors[:, k] if len(vectors) else np.zeros(0, dtype=np.int8)
    ok = col != NULL
    return np.bincount(col[ok].astype(np.intp), weights=None if weights is None else weights[ok],
                       minlength=n_levels)[:n_levels].astype(float)


def _shares(counts: np.ndarray) -> np.ndarray:
    total = counts.sum()
    if total <= 0:
        return np.full(len(counts), 1.0 / len(counts))
    return counts / total


def _frequencies(vectors: np.ndarray, k: int, n_levels: int) -> np.ndarray:
    return _shares(_counts(vectors, k, n_levels))


def _clip(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, _EPS, 1 - _EPS)
    return p / p.sum()


def posteriors(weights: np.ndarray, groups: np.ndarray, prior: np.ndarray, n_persons: int) -> np.ndarray:
    """Match probability of each candidate pair under "a record describes at most one
    person": for record ``g`` with candidates ``j``,
    ``P(j) = (λ_g/N)·L_j / ((1 − λ_g) + (λ_g/N)·Σ_k L_k)``, where ``L`` is the pair's
    likelihood ratio (``2**weight``), ``N`` the number of persons and ``λ_g`` the prior
    that the record's person is in the registry at all. Rival candidates share the
    probability, so two equally good persons leave neither certain."""
    if not len(weights):
        return np.zeros(0)
    log_n = math.log2(max(n_persons, 1))
    # log2 of (λ/N)·L, shifted per group by its maximum for numerical safety
    lam = prior[groups]
    a = weights + np.log2(lam) - log_n
    b = np.log2(1 - lam)
    top = np.maximum(np.maximum.reduceat(a, _starts(groups)), b[_starts(groups)])
    shift = np.repeat(top, np.diff(np.append(_starts(groups), len(groups))))
    ea = np.power(2.0, a - shift)
    sums = np.add.reduceat(ea, _starts(groups))
    denom = np.repeat(sums, np.diff(np.append(_starts(groups), len(groups)))) + np.power(2.0, b - shift)
    return ea / denom


def _starts(groups: np.ndarray) -> np.ndarray:
    """First index of each run of equal values (pairs are sorted by record)."""
    return np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])


def estimate(comparisons: Sequence[Comparison], random_vectors: np.ndarray, labelled_matches: np.ndarray,
             candidate_vectors: np.ndarray, groups: np.ndarray, group_class: np.ndarray, n_persons: int,
             max_iterations: int = 30, tolerance: float = 1e-4) -> FSModel:
    """``random_vectors``: comparison vectors of random pairs (for ``u``);
    ``labelled_matches``: vectors of pairs known to match (the deterministic links; for the
    starting ``m``); ``candidate_vectors``: the blocked pairs to be scored, sorted by
    record, ``groups[i]`` the record of pair ``i``; ``group_class[g]`` the resource class
    of record ``g`` (each class gets its own prior λ); ``n_persons``: candidates' universe.

    EM alternates the posteriors of :func:`posteriors` (E) with ``m`` and the per-class
    priors re-estimated from them (M); ``u`` stays at its random-pair estimate."""
    names = tuple(c.name for c in comparisons)
    levels = tuple(c.levels for c in comparisons)
    u = [_clip(_frequencies(random_vectors, k, len(lv))) for k, lv in enumerate(levels)]
    m = []
    notes = []
    for k, lv in enumerate(levels):
        seen = int((labelled_matches[:, k] != NULL).sum()) if len(labelled_matches) else 0
        if seen >= 50:
            m.append(_clip(_frequencies(labelled_matches, k, len(lv))))
        else:  # no labelled evidence: start from "agreement is likely", let EM decide
            start = np.array([0.9 / (len(lv) - 1)] * (len(lv) - 1) + [0.1])
            m.append(_clip(start))
            notes.append(f"{names[k]}: m from EM only ({seen} labelled pairs)")
    n_class = int(group_class.max()) + 1 if len(group_class) else 1
    model = FSModel(names, levels, m, u, prior=np.full(n_class, 0.5), pairs=len(candidate_vectors), notes=notes,
                    persons=max(n_persons, 1))
    if not len(candidate_vectors):
        return model
    starts = _starts(groups)
    cls = group_class[groups[starts]]  # each record's class
    n_class_records = np.bincount(cls, minlength=n_class)
    # the labelled matches count as matches with certainty in every step (semi-supervised)
    labelled_counts = [_counts(labelled_matches, k, len(lv)) for k, lv in enumerate(levels)]
    # E and M a chunk of records at a time: a city's ~16 million candidate pairs would
    # otherwise need ~100 bytes each of temporaries (scores, posteriors, weights) at once
    at = np.searchsorted(starts, np.arange(0, len(groups), _EM_CHUNK))  # the first record from each step on
    bounds = [*np.unique(starts[at[at < len(starts)]]).tolist(), len(groups)]
    for it in range(1, max_iterations + 1):
        counts = [c.copy() for c in labelled_counts]
        per_group = np.empty(len(starts))
        g = 0
        record_prior = model.prior[group_class]
        for a, b in zip(bounds[:-1], bounds[1:], strict=True):
            chunk = candidate_vectors[a:b]
            p = posteriors(model.score(chunk), groups[a:b], record_prior, n_persons)
            for k, lv in enumerate(levels):
                counts[k] += _counts(chunk, k, len(lv), p)
            sums = np.add.reduceat(p, _starts(groups[a:b]))
            per_group[g:g + len(sums)] = sums
            g += len(sums)
        new_m = [_clip(_shares(c)) for c in counts]
        overall = float(per_group.mean())
        # a class with few records leans on the overall share (_PRIOR_WEIGHT pseudo-records)
        totals = np.bincount(cls, weights=per_group, minlength=n_class)
        new_prior = np.array([np.clip((totals[c] + _PRIOR_WEIGHT * overall) / (n_class_records[c] + _PRIOR_WEIGHT),
                                      0.01, 0.99) for c in range(n_class)])
        delta = max(max(float(np.abs(a - b).max()) for a, b in zip(new_m, model.m, strict=True)),
                    float(np.abs(new_prior - model.prior).max()))
        model.m, model.prior, model.iterations = new_m, new_prior, it
        if delta < tolerance:
            break
    return model
