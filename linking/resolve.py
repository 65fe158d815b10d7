"""Entity resolution: which person each source record describes.

The passes, each guarding the one before:

1. **Persons from anchors.** Public-security residents and civil-affairs elders (the
   resources that found persons) with a valid ID number that agrees with the record's own
   birth date and gender are grouped by that number: one person per number, however many
   records a platform holds for it (the same person registered in two districts).
2. **Deterministic links.** Any other record with such a trustworthy number joins the
   person holding it (confidence 1). A trustworthy number no anchor holds reaches its
   person through a record pass 3 links; the other records carrying it join that
   person after pass 3 (:func:`_number_links`).
3. **Probabilistic links** for everything else — a broken number (wrong check digit,
   transposed digits), a number contradicting the record's birth date or gender, no
   number, the property platform's masked number. Candidates come from blocking passes
   (the number and its one-error repairs, masked first-6/last-4, pinyin name + birth
   year, name + birth date, pinyin name + day and month of birth, phone), so cost grows
   with the records, not their square; a key too common to say anything alone names
   only the persons who also share another
   value with the record (``_NARROW_BY``).
   Each pair is scored by the Fellegi–Sunter model of ``linking.model`` over the
   comparisons of ``linking.comparisons``, and turned into a match probability per
   candidate under "a record describes at most one person" (rivals share it); a record
   joins its best candidate when that probability is at least ``link_at``; otherwise,
   when the chance that it describes *somebody* is at least ``review_at``, its leading
   candidates go on the stewards' review queue, and the record stays unlinked until a
   steward decides.
   Anchor records go first: one that matches no person certainly founds its own (and
   when it probably is one of them, its candidates go on the review queue). A property
   order that leaves out its masked number, birth year or phone is judged with the
   values the other orders of its resident at its flat give (:func:`_flat_evidence`).
4. **Elders only.** A person is kept when they are aged 60 or over on the platforms'
   as-of date (or on their date of death), by the dates their golden record publishes
   from every record linked to them; otherwise their records are linked to nobody.

**Incremental runs** (``model`` and ``previous`` given) reuse what a record's decision
depends on. Anchors decide who the persons are, so passes 1, 2 and the anchors of pass 3
run in full every time (they are the cheap part: no model to estimate, few broken
anchors). A record the model judged last time keeps that decision when its version is
the same and so are its candidates — the same persons, each with the same anchor records
in the same versions (a *signature* per person) — because then every comparison, the
model (fixed, with its universe ``N``) and so the probabilities are the same. Everything
else is judged again. The result equals a full run with the same model on the same
records.

Clustering stays sane because records only ever join persons: two persons are never
chained together through a third record, and two different trustworthy ID numbers are
never merged by the model. Stewards' decisions (``must_link``/``cannot_link`` between a
record and a record of the person) override every pass.
"""

from __future__ import annotations

import hashlib
import logging
import random
import unicodedata
from array import array
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from operator import attrgetter

import numpy as np

from linking.comparisons import COMPARISONS, Profile, comparison_vector, id_repairs, valid_number
from linking.model import NULL, FSModel, estimate, posteriors
from linking.names import homophones, name_key
from linking.records import PERSON_RESOURCES, LinkRecord

__all__ = ["Decision", "Resolution", "ReviewItem", "StateRow", "resolve"]

log = logging.getLogger(__name__)

Key = tuple[str, str, str]
#: What a run decided for a record the model judged: (batch of its version, signature of
#: its candidates, signature of the person it joined or None, confidence, method).
StateRow = tuple[int, str, str | None, float, str]
#: Decisions an incremental run may reuse (a review item is always judged again, so the
#: queue is rebuilt whole; a steward's ruling always goes through the judge).
_REUSABLE = frozenset({"probabilistic", "unmatched"})


@dataclass(frozen=True)
class Decision:
    """A steward's ruling on a record and a record of a person: ``must_link`` or
    ``cannot_link``."""

    record: Key
    other: Key
    decision: str


@dataclass
class ReviewItem:
    record: int  # index into Resolution.records
    person: int  # index into Resolution.persons
    probability: float
    explanation: list[dict]


@dataclass
class Resolution:
    records: list[LinkRecord]
    person_of: list[int | None]
    confidence: list[float]
    method: list[str]  # id, probabilistic, steward, anchor, not_elder, unmatched, review
    persons: list[list[int]]  # person -> its records (anchor records first)
    model: FSModel | None
    review: list[ReviewItem] = field(default_factory=list)
    stats: dict[str, int] = field(default_factory=dict)
    #: the model's decisions before the elders-only filter, for the next incremental run
    state: dict[Key, StateRow] = field(default_factory=dict)
    #: numbers a golden record may not take from a record contradicting them (``refused_numbers``)
    refuse: frozenset[str] = frozenset()


_CLASS = {key: i for i, key in enumerate(PERSON_RESOURCES)}
#: A blocking key shared by more persons than this says nothing alone: only those of them
#: who also agree with the record on another value are candidates (``_NARROW_BY``)
_BLOCK_CAP = 50
#: … except the property platform's masked number (area and last four digits): in a city
#: of 2.3 million elders ~16 of them share one (up to 40), so beyond this many its block
#: names only those who also agree on the name, birth year, phone or community — at a
#: city's size it would otherwise give each order ~16 candidates (49 million pairs to
#: score instead of a few million), nearly all of them namesakes of nobody
_CAP_OF = {"mask": 8}


class _Persons:
    """Persons under construction, with the blocking indexes over their anchor records."""

    def __init__(self) -> None:
        self.members: list[list[int]] = []
        self.profiles: list[Profile] = []
        self.by_id: dict[str, int] = {}
        # blocking key (``_key``) -> the person holding it, or the set of them when several
        # do (most keys name one person: a set each would cost a city gigabytes)
        self.index: dict[int | tuple, int | set[int]] = {}
        # oversized blocks' own indexes (``_take``), dropped whenever a person changes
        self._narrow: dict[tuple, _BlockIndex] = {}

    def release(self) -> list[list[int]]:
        """The persons' members (anchor records first), to be extended with the records
        linked to them; everything else is let go (the persons are built)."""
        members = self.members
        self.members, self.profiles, self.by_id, self.index, self._narrow = [], [], {}, {}, {}
        return members

    def new(self) -> int:
        self.members.append([])
        self.profiles.append(Profile())
        return len(self.members) - 1

    def add_anchor(self, pid: int, r: LinkRecord) -> None:
        if self._narrow:
            self._narrow.clear()
        self.members[pid].append(r.idx)
        self.profiles[pid].add(r)
        if r.id18:
            if not r.id_contradicted:  # only a trustworthy number links deterministically
                self.by_id.setdefault(r.id18, pid)
            self._put(_key("id", r.id18, 0), pid)
            self._put(_mask_key(r.id18[:6], r.id18[14:]), pid)
        y = r.year()
        if r.name:
            if y is not None:
                self._put(("ny", name_key(r.name), y), pid)
            if r.birth is not None:
                self._put(("nb", r.name, r.birth), pid)
                # the day of birth without the year: a year keyed in wrong (1935 for 1936)
                self._put(("nd", name_key(r.name), r.birth.month, r.birth.day), pid)
        if r.phone:
            self._put(_key("ph", r.phone, 3), pid)

    def _put(self, key: int | tuple, pid: int) -> None:
        have = self.index.get(key)
        if have is None:
            self.index[key] = pid
        elif have.__class__ is int:
            if have != pid:
                self.index[key] = {have, pid}  # type: ignore[arg-type]
        else:
            have.add(pid)  # type: ignore[union-attr]

    def candidates_of(self, rs: Sequence[LinkRecord]) -> list[list[int]]:
        """Each record's candidates, sorted. Given in the order of their masked numbers
        (``_in_mask_order``), records hitting the same oversized block (a masked number
        ~16 elders of a city share, ``_CAP_OF``) find its index built once."""
        return [sorted(self.candidates(r)) for r in rs]

    def candidates(self, r: LinkRecord) -> set[int]:
        try:
            return self._candidates(r)
        except Exception as exc:  # noqa: BLE001 - one odd value must not stop a city's linking
            log.warning("blocking failed on %s/%s/%s (%s); the record gets no candidates", r.platform, r.resource,
                        r.record_id, type(exc).__name__)
            return set()

    def _candidates(self, r: LinkRecord) -> set[int]:
        out: set[int] = set()
        ids = [i for i in (r.id18, r.id_clean) if i]
        for i in ids:
            self._take(out, _key("id", i, 0))
            for fixed in id_repairs(i):  # (with the valid number its first 17 digits begin)
                self._take(out, _key("id", fixed, 0))
            if len(i) == 18 and not i.isascii() and i[:17].isascii() and i[:17].isdigit():
                # the first 17 digits of a number whose last character is no ASCII one
                # (``id_repairs`` takes only ASCII): the valid number they begin
                self._take(out, _key("id", valid_number(i[:17]), 0))
        if r.id_prefix and r.id_suffix:
            self._take(out, _mask_key(r.id_prefix, r.id_suffix), r, "mask")
        y = r.year()
        if r.name:
            if y is not None:
                self._take(out, ("ny", name_key(r.name), y), r, "ny")
            if r.birth is not None:
                self._take(out, ("nb", r.name, r.birth), r, "nb")
                self._take(out, ("nd", name_key(r.name), r.birth.month, r.birth.day), r, "nd")
        if r.phone:
            self._take(out, _key("ph", r.phone, 3), r, "ph")
        return out

    def _take(self, out: set[int], key: int | tuple, r: LinkRecord | None = None, kind: str = "") -> None:
        block = self.index.get(key)
        if block is None:
            return
        if block.__class__ is int:
            out.add(block)  # type: ignore[arg-type]
        elif len(block) <= _CAP_OF.get(kind, _BLOCK_CAP):  # type: ignore[arg-type]
            out.update(block)  # type: ignore[arg-type]
        elif r is not None:
            # A key too common to say anything alone (a common name born in one year, in a
            # city of millions): its persons who also agree with the record on a value the
            # key is not made of, when few enough do — looked up in the block's own index,
            # built once for the many records that hit it
            sub = self._narrow.get(key)
            if sub is None:
                if len(self._narrow) >= _NARROW_CACHE:  # memory stays bounded at a city's scale
                    self._narrow.clear()
                sub = self._narrow[key] = _BlockIndex(block, self.profiles)  # type: ignore[arg-type]
            narrowed = sub.agreeing(r, _NARROW_BY[kind])
            if len(narrowed) <= _BLOCK_CAP:
                out.update(narrowed)


def _key(kind: str, value: str, k: int) -> int | tuple:
    """The blocking key of an ID number (``id``, ``k`` 0), a masked number's first 6 and
    last 4 characters (``mask``, 2) or a phone (``ph``, 3): one integer when the value is
    ASCII digits with at most a final ``X`` — ~36 bytes where a tuple and its substrings
    took ~120–170, for the ~3 such keys of each of a city's persons — else the tuple
    ``(kind, value)``. The integer holds the digits, the value's length (so that leading
    zeros count), the kind, and its sign says a final X: distinct values and kinds never
    share one."""
    if len(value) < 32:
        if value.isdigit() and value.isascii():
            return (int(value) * 32 + len(value)) * 8 + k
        if value[-1:] == "X" and value[:-1].isdigit() and value.isascii():
            return -((int(value[:-1]) * 32 + len(value)) * 8 + k)
    return (kind, value)


def _mask_key(prefix: str, suffix: str) -> int | tuple:
    """``_key`` of a masked number's first 6 and last 4 characters (other lengths: the
    tuple ``("mask", prefix, suffix)``)."""
    if len(prefix) != 6 or len(suffix) != 4:
        return ("mask", prefix, suffix)
    return _key("mask", prefix + suffix, 2)


#: At most this many oversized blocks' own indexes are kept at a time (``_Persons._take``).
_NARROW_CACHE = 4096

#: For a blocking key held by more than ``_BLOCK_CAP`` persons: the values a person must
#: also share with the record to stay a candidate — never those the key is made of.
_NARROW_BY: dict[str, tuple[str, ...]] = {
    "mask": ("name", "year", "phone", "community"),
    "ny": ("birth", "phone", "mask", "community"),
    "nb": ("phone", "mask", "community"),
    "nd": ("phone", "mask", "community"),
    "ph": ("name", "year", "mask"),
}


class _BlockIndex:
    """The persons of one oversized block by each value ``_NARROW_BY`` may ask them to
    share with a record (the community by containment in their addresses, scanned)."""

    __slots__ = ("addresses", "by")

    def __init__(self, pids: set[int], profiles: list[Profile]) -> None:
        by: dict[tuple, set[int]] = defaultdict(set)
        self.addresses: list[tuple[int, tuple[str, ...]]] = []
        for p in sorted(pids):
            prof = profiles[p]
            for n in prof.names:
                by[("name", name_key(n))].add(p)
            for b in prof.births:
                by[("birth", b)].add(p)
                by[("year", b.year)].add(p)
            for ph in prof.phones:
                by[("phone", ph)].add(p)
            for i in prof.ids:
                by[("mask", i[:6], i[14:])].add(p)
            if prof.addresses:
                self.addresses.append((p, prof.addresses))
        self.by = dict(by)

    def agreeing(self, r: LinkRecord, fields: tuple[str, ...]) -> set[int]:
        """The persons sharing a value of one of ``fields`` with ``r``."""
        out: set[int] = set()
        for f in fields:
            if f == "name":
                if r.name:
                    out |= self.by.get(("name", name_key(r.name)), set())
            elif f == "year":
                y = r.year()
                if y is not None:
                    out |= self.by.get(("year", y), set())
            elif f == "birth":
                if r.birth is not None:
                    out |= self.by.get(("birth", r.birth), set())
            elif f == "phone":
                if r.phone:
                    out |= self.by.get(("phone", r.phone), set())
            elif f == "mask":
                if r.id_prefix and r.id_suffix:
                    out |= self.by.get(("mask", r.id_prefix, r.id_suffix), set())
            elif f == "community" and r.community:
                c = r.community
                out.update(p for p, addrs in self.addresses if any(c in a for a in addrs))
        return out


def _trusted(r: LinkRecord) -> bool:
    return r.id18 is not None and not r.id_contradicted


def resolve(records: list[LinkRecord], as_of: date, *, decisions: Iterable[Decision] = (),
            link_at: float = 0.99, review_at: float = 0.5, seed: int = 0,
            progress: Callable[[str], None] | None = None, model: FSModel | None = None,
            previous: Mapping[Key, StateRow] | None = None) -> Resolution:
    """``model``: score with this model instead of estimating one from ``records``;
    ``previous``: the state of the last run (:attr:`Resolution.state`), whose decisions are
    reused where nothing they depend on changed — only together with that run's model."""
    say = progress or (lambda _m: None)
    if previous is not None and model is None:
        raise ValueError("reusing a previous run's decisions needs that run's model")
    n = len(records)
    person_of: list[int | None] = [None] * n
    confidence = [0.0] * n
    method = ["unmatched"] * n
    decisions = list(decisions)
    named = {k for d in decisions for k in (d.record, d.other)}
    named_ids = {k[2] for k in named}
    # (only the records a steward named: a key per record would cost a city a gigabyte)
    by_key = {r.key: r.idx for r in records if r.record_id in named_ids and r.key in named}
    must: dict[int, int] = {}
    cannot: dict[int, set[int]] = defaultdict(set)
    for d in decisions:
        a, b = by_key.get(d.record), by_key.get(d.other)
        if a is None or b is None:
            continue
        if d.decision == "must_link":
            must[a] = b
        elif d.decision == "cannot_link":
            cannot[a].add(b)
            cannot[b].add(a)

    P = _Persons()
    # 1. persons from anchors with a trustworthy number
    residue_anchors: list[LinkRecord] = []
    for r in records:
        if not r.anchor:
            continue
        if _trusted(r) and r.idx not in must and r.idx not in cannot:
            pid = P.by_id.get(r.id18)  # type: ignore[arg-type]
            if pid is None:
                pid = P.new()
            P.add_anchor(pid, r)
            person_of[r.idx], confidence[r.idx], method[r.idx] = pid, 1.0, "id"
        else:
            residue_anchors.append(r)
    # 2. deterministic links
    residue: list[LinkRecord] = []
    # the ID-linked (record, person) pairs, as two integer arrays (16 bytes a pair where a
    # tuple took 72: a city links ~4 million so)
    labelled = (array("q"), array("q"))
    for r in records:
        if r.anchor:
            continue
        decided = r.idx in must or r.idx in cannot  # a steward's ruling goes through the model's pass
        pid = P.by_id.get(r.id18) if _trusted(r) and not decided else None  # type: ignore[arg-type]
        if pid is not None:
            person_of[r.idx], confidence[r.idx], method[r.idx] = pid, 1.0, "id"
            labelled[0].append(r.idx)
            labelled[1].append(pid)
        else:
            residue.append(r)
    residue, borrowed = _flat_evidence(residue)
    say(f"linking: {len(P.members):,} persons from anchors' ID numbers, "
        f"{len(labelled[0]):,} records linked by ID number, "
        f"{len(residue_anchors) + len(residue):,} left for probabilistic linking "
        f"({len(borrowed):,} property orders judged with what their flat's other orders say)")

    # 3. the model, estimated from this data (or the one given)
    cand = _CandidatePairs.none()
    if model is None:
        model, cand = _estimate(records, P, residue_anchors + residue, labelled, seed)
        say(f"linking: model estimated from {min(len(labelled[0]), 20_000):,} ID-linked pairs, "
            f"{min(50_000, 10 * n) if P.members else 0:,} random pairs and {len(cand):,} candidate pairs "
            f"({model.iterations} EM iterations)")
    else:
        say(f"linking: the stored model (estimated over {model.persons:,} persons)")
    n_persons = model.persons

    review: list[ReviewItem] = []
    # The candidate pairs' vectors, scored again below: reused while the person's profile
    # is the one they were computed against (a person that gains an anchor is compared anew)
    estimated_over = len(P.members)
    changed: set[int] = set()

    def vectors(rs: list[LinkRecord], pair_j: list[int], pair_p: list[int]) -> np.ndarray:
        js = np.asarray(pair_j, dtype=np.int64)
        ps = np.asarray(pair_p, dtype=np.int64)
        idx = np.fromiter((r.idx for r in rs), dtype=np.int64, count=len(rs))
        rows = cand.rows(idx[js], ps)
        stale = ps >= estimated_over
        if changed:
            stale |= np.isin(ps, np.fromiter(changed, dtype=np.int64, count=len(changed)))
        rows[stale] = -1
        fresh = np.flatnonzero(rows < 0)
        vs = np.empty((len(js), len(COMPARISONS)), dtype=np.int8)
        have = np.flatnonzero(rows >= 0)
        vs[have] = cand.vectors[rows[have]]
        if len(fresh):
            vs[fresh] = _vectors([(rs[pair_j[k]], P.profiles[pair_p[k]]) for k in fresh.tolist()])
        return vs

    def judge(rs: list[LinkRecord], cands: Sequence[Iterable[int]] | None = None) -> list[tuple[int | None, float, str]]:
        """Decide many records: a vectorised scoring of their candidate pairs, a chunk of
        records at a time (each record's decision is its own; a city's pairs are never all
        held). ``cands``: each record's candidates in the order to score them, when known."""
        out: list[tuple[int | None, float, str]] = []
        for start in range(0, len(rs), _JUDGE_CHUNK):
            part = rs[start:start + _JUDGE_CHUNK]
            out += judge_chunk(part, None if cands is None else cands[start:start + len(part)])
        return out

    def judge_chunk(rs: list[LinkRecord], cands: Sequence[Iterable[int]] | None) -> list[tuple[int | None, float, str]]:
        out: list[tuple[int | None, float, str]] = [(None, 0.0, "unmatched")] * len(rs)
        pair_j: list[int] = []  # position in rs
        pair_p: list[int] = []  # person
        for j, r in enumerate(rs):
            if r.idx in must and person_of[must[r.idx]] is not None:
                out[j] = (person_of[must[r.idx]], 1.0, "steward")
                continue
            banned = cannot.get(r.idx)
            for p in (cands[j] if cands is not None else sorted(P.candidates(r))):
                if not (banned and banned & set(P.members[p])):
                    pair_j.append(j)
                    pair_p.append(p)
        if not pair_j:
            return out
        vs = vectors(rs, pair_j, pair_p)
        g = np.asarray(pair_j, dtype=np.int64)
        cls = np.asarray([_CLASS[(r.platform, r.resource)] for r in rs], dtype=np.int64)
        probs = posteriors(model.score(vs), g, model.prior[cls], n_persons)
        starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
        ends = np.r_[starts[1:], len(g)]
        for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
            j = int(g[a])
            seg = probs[a:b]
            best = a + int(np.argmax(seg))
            pb = float(probs[best])
            if pb >= link_at:
                out[j] = (pair_p[best], pb, "probabilistic")
            elif float(seg.sum()) >= review_at:
                # somebody, probably, but not certainly this one: the steward sees the
                # leading candidates side by side
                for k in (a + np.argsort(-seg)[:3]).tolist():
                    if probs[k] >= 0.05:
                        review.append(ReviewItem(rs[j].idx, pair_p[k], float(probs[k]),
                                                 _explain(model, vs[k].tolist(), borrowed.get(rs[j].idx))))
                out[j] = (None, pb, "review")
            else:
                out[j] = (None, pb, "unmatched")
        return out

    # anchors first: each joins a person, or founds one — the few that found one are
    # judged one at a time, so a second broken record of the same person joins the first
    undecided = []
    for r, (pid, conf, how) in zip(residue_anchors, judge(residue_anchors), strict=True):
        if pid is None or (cannot.get(r.idx) and cannot[r.idx] & set(P.members[pid])):
            undecided.append(r)  # (or a record the steward kept apart joined that person meanwhile)
            continue
        P.add_anchor(pid, r)
        changed.add(pid)
        person_of[r.idx], confidence[r.idx], method[r.idx] = pid, conf, how
    for r in undecided:
        review = [it for it in review if it.record != r.idx]  # judged again below
        pid, conf, how = judge([r])[0]
        if pid is None:
            # it founds its own person; when it probably is one already found (a second
            # registration under a broken number), its leading candidates stay on the
            # review queue, where a steward's must-link joins the two
            pid, conf, how = P.new(), 1.0, "anchor"
        P.add_anchor(pid, r)
        changed.add(pid)
        person_of[r.idx], confidence[r.idx], method[r.idx] = pid, conf, how
    # the rest: leaves, which change no person. Each is scored against its candidates in
    # the order of their signatures, so a run numbering the persons otherwise scores alike.
    sigs = [_signature([records[i] for i in m]) for m in P.members]
    by_sig = {sg: p for p, sg in enumerate(sigs)} if previous is not None else {}  # (only reuse looks up)
    state: dict[Key, StateRow] = {}
    reused = judged = 0
    first_leaf_review = len(review)
    # a chunk of records at a time — their candidates, signatures and judging — so that a
    # city's ~2.5 million candidate lists are never all held (each record is decided as
    # in any other order)
    for part in _in_mask_order(residue):
        todo: list[LinkRecord] = []
        todo_cands: list[list[int]] = []
        todo_csig: list[str] = []
        for r, cands in zip(part, P.candidates_of(part), strict=True):
            cands.sort(key=sigs.__getitem__)
            decided = r.idx in must or r.idx in cannot
            # (a decision a steward made is part of what the record was judged under: when
            # it is withdrawn, the record is judged again)
            lent = borrowed.get(r.idx)
            csig = _digest("\n".join([*(sigs[p] for p in cands), *(["steward"] if decided else []),
                                      *([f"flat:{sorted(lent.items())}"] if lent else [])]))
            prev = previous.get(r.key) if previous is not None else None
            if (prev is not None and not decided and prev[0] == r.batch and prev[1] == csig
                    and prev[4] in _REUSABLE and (prev[2] is None or prev[2] in by_sig)):
                pid = by_sig[prev[2]] if prev[2] is not None else None
                person_of[r.idx], confidence[r.idx], method[r.idx] = pid, prev[3], prev[4]
                state[r.key] = prev
                reused += 1
                continue
            todo.append(r)
            todo_cands.append(cands)
            todo_csig.append(csig)
        judged += len(todo)
        for r, csig, (pid, conf, how) in zip(todo, todo_csig, judge(todo, todo_cands), strict=True):
            person_of[r.idx], confidence[r.idx], method[r.idx] = pid, conf, how
            state[r.key] = (r.batch, csig, sigs[pid] if pid is not None else None, conf, how)
    # the review queue in the records' order, as judged one after another
    review[first_leaf_review:] = sorted(review[first_leaf_review:], key=_review_record)
    if previous is not None:
        say(f"linking: {reused:,} decisions reused, {judged:,} records judged again")

    say(f"linking: judged {len(residue_anchors):,} anchor records without a trustworthy number "
        f"({len(undecided):,} of them again one at a time) and {judged:,} other records")

    # 3b. a trustworthy number no anchor holds: the records carrying it describe one person
    joined = _number_links(residue, person_of, confidence, method, must, cannot, P)
    if joined:
        review = [it for it in review if it.record not in joined]
    # what only blocking and judging use is let go before the elders are found: a city's
    # blocking index, profiles and candidate pairs take gigabytes
    cand = None  # type: ignore[assignment]
    persons = P.release()

    # 4. elders only — by the birth and death dates the golden record will publish, from
    # every record linked to the person (a valid number an insured-person record agrees
    # with outweighs the resident record's typo'd birth date)
    for r in records:
        pid = person_of[r.idx]
        if pid is not None and not r.anchor:
            persons[pid].append(r.idx)
    refuse = refused_numbers(records, person_of)
    for pid, members in enumerate(persons):
        if not _is_elder([records[i] for i in members], as_of, refuse):
            for i in members:
                person_of[i], method[i] = None, "not_elder"
            persons[pid] = []
    review = [it for it in review if persons[it.person]]
    stats: dict[str, int] = defaultdict(int)
    for m in method:
        stats[m] += 1
    stats["persons"] = sum(1 for p in persons if p)
    if previous is not None:
        stats["reused"] = reused
    stats["id_by_linked_record"] = len(joined)
    return Resolution(records, person_of, confidence, method, persons, model, review, dict(stats), state, refuse)


_review_record = attrgetter("record")


def _in_mask_order(rs: list[LinkRecord]) -> Iterator[list[LinkRecord]]:
    """``rs`` in chunks of ``_JUDGE_CHUNK``, in the order of their masked numbers: the
    index of an oversized block many of them hit (a masked number ~16 elders of a city
    share, ``_CAP_OF``) is then built once, not once per record
    (``_Persons.candidates_of``)."""
    order = sorted(range(len(rs)), key=lambda k: (rs[k].id_prefix or "", rs[k].id_suffix or ""))
    for start in range(0, len(order), _JUDGE_CHUNK):
        yield [rs[k] for k in order[start:start + _JUDGE_CHUNK]]


def _number_links(residue: list[LinkRecord], person_of: list[int | None], confidence: list[float],
                  method: list[str], must: Mapping[int, int], cannot: Mapping[int, set[int]],
                  P: _Persons) -> set[int]:  # noqa: N803
    """A valid number that agrees with its record but that no anchor holds (public
    security's number is broken or missing) reaches its person through a record linked by
    the model. Records carrying the same number — a death certificate or care enrolment
    that gives little else — then join that person too, with that link's confidence:
    the number names one person. Not when the number's linked records are two persons',
    nor when another person's anchor records hold it (two people registered under one
    number, which a steward may have kept apart), nor for a record a steward ruled on.
    Returns the records that joined so."""
    linked: dict[str, dict[int, float]] = defaultdict(dict)  # number -> its linked persons' best confidence
    for r in residue:
        pid = person_of[r.idx]
        if pid is not None and _trusted(r):
            best = linked[r.id18]  # type: ignore[index]
            best[pid] = max(best.get(pid, 0.0), confidence[r.idx])
    joined: set[int] = set()
    if not linked:
        return joined
    for r in residue:
        persons = linked.get(r.id18) if r.id18 is not None else None  # type: ignore[arg-type]
        if persons is None or len(persons) != 1 or person_of[r.idx] is not None or not _trusted(r):
            continue
        if r.idx in must or r.idx in cannot:
            continue
        (pid, conf), = persons.items()
        holder = P.index.get(_key("id", r.id18, 0))
        if holder is not None and holder != pid:  # another person's anchor holds it too
            continue
        person_of[r.idx], confidence[r.idx], method[r.idx] = pid, conf, "id"
        joined.add(r.idx)
    return joined


def refused_numbers(records: list[LinkRecord], person_of: list[int | None]) -> frozenset[str]:
    """Valid numbers a linked record contradicts (its birth date or gender disagree) while
    another linked record holds them agreeing: a person whose only number is one of these
    publishes none (a wife's record under her husband's number)."""
    contradicted: set[str] = set()
    agreeing: set[str] = set()
    for r in records:
        if r.id18 is not None and person_of[r.idx] is not None:
            (contradicted if r.id_contradicted else agreeing).add(r.id18)
    return frozenset(contradicted & agreeing)


def _flat_evidence(residue: list[LinkRecord]) -> tuple[list[LinkRecord], dict[int, dict[str, object]]]:
    """The property platform's orders for one resident at one flat — the same name (by
    sound: a name keyed in by ear comes out as a homophone), community, building and
    room (``_flat_part``: "24号楼" is "24") — describe one person, and the platform leaves fields out of some orders (the
    masked number, the birth year, the phone). Such an order is judged with the value
    its flat's other orders give, when they give one value: the
    residue with those orders replaced by filled copies (same ``idx``; the records
    themselves stay as the platform sent them, so survivorship and provenance never see
    a borrowed value), and per filled record what it borrowed (part of what its
    decision depends on, for incremental runs, and shown to stewards).

    Orders of one flat and name that disagree on the masked number or the birth year may
    be two residents: none of them borrows anything. Orders disagreeing on the phone (a
    relative's number) borrow no phone."""
    flats: dict[tuple, list[tuple[list[str], list[int]]]] = defaultdict(list)  # flat -> its residents
    for k, r in enumerate(residue):
        if r.platform != "property_mgmt" or not (r.name and r.community and r.room):
            continue
        residents = flats[(r.community, _flat_part(r.building), _flat_part(r.room))]
        for names, ks in residents:
            if r.name in names or any(homophones(r.name, n) for n in names):
                ks.append(k)
                if r.name not in names:
                    names.append(r.name)
                break
        else:
            residents.append(([r.name], [k]))
    out = list(residue)
    borrowed: dict[int, dict[str, object]] = {}
    for members in (ks for residents in flats.values() for _, ks in residents):
        if len(members) < 2:
            continue
        rs = [residue[k] for k in members]
        masks = {(r.id_prefix, r.id_suffix) for r in rs if r.id_prefix and r.id_suffix}
        years = {r.birth_year for r in rs if r.birth_year is not None}
        if len(masks) > 1 or len(years) > 1:
            continue
        phones = {r.phone for r in rs if r.phone}
        mask = next(iter(masks), None)
        year = next(iter(years), None)
        phone = next(iter(phones)) if len(phones) == 1 else None
        for k, r in zip(members, rs, strict=True):
            fill: dict[str, object] = {}
            if mask and not (r.id_prefix and r.id_suffix):
                fill["id_prefix"], fill["id_suffix"] = mask
            if year is not None and r.birth_year is None:
                fill["birth_year"] = year
            if phone and not r.phone:
                fill["phone"] = phone
            if fill:
                out[k] = r.replace(**fill)
                borrowed[r.idx] = fill
    return out, borrowed


#: Suffixes that name what a building or room number is (楼 building, 栋/幢/座 block, 号
#: number, 室/户 flat): "24号楼", "24栋" and "24" are one building.
_FLAT_SUFFIXES = ("号楼", "栋", "幢", "座", "号", "楼", "室", "户")


def _flat_part(value: str | None) -> str | None:
    """A building or room as the flat's key: full-width folded, spaces dropped, case
    folded, and a trailing "号楼"/"栋"/"室"… taken off (the platform's companies write the
    same building either way)."""
    if value is None:
        return None
    v = unicodedata.normalize("NFKC", value).replace(" ", "").casefold()
    for suffix in _FLAT_SUFFIXES:
        if v.endswith(suffix):
            return v[: -len(suffix)] or v
    return v


#: The comparison that weighs each field an order may borrow from its flat.
_BORROWED_BY = {"id_prefix": "masked_id", "id_suffix": "masked_id", "birth_year": "birth", "phone": "phone"}


def _explain(model: FSModel, vector: list[int], lent: dict[str, object] | None) -> list[dict]:
    """The model's field-by-field explanation, each comparison that weighed a value the
    order borrowed from its flat's other orders marked so (the steward sees the order
    without it)."""
    out = model.explain(vector)
    if lent:
        marked = {_BORROWED_BY[f] for f in lent}
        for entry in out:
            if entry["comparison"] in marked:
                entry["borrowed"] = "from the other orders of the same resident at the same flat"
    return out


class _CandidatePairs:
    """The candidate pairs a model was estimated over — record index and person as two
    integer arrays, their comparison vectors as one ``int8`` matrix — found again by
    (record, person) through a sorted key array (a dictionary would cost a city's tens of
    millions of pairs ~100 bytes each)."""

    __slots__ = ("keys", "order", "stride", "vectors")

    def __init__(self, record: np.ndarray, person: np.ndarray, vectors: np.ndarray, stride: int) -> None:
        keys = record.astype(np.int64) * stride  # (one temporary at a time: a city has ~16 million pairs)
        keys += person
        self.order = np.argsort(keys, kind="stable")
        self.keys = keys[self.order]
        self.vectors = vectors
        self.stride = stride

    @classmethod
    def none(cls) -> _CandidatePairs:
        empty = np.zeros(0, dtype=np.int64)
        return cls(empty, empty, np.zeros((0, len(COMPARISONS)), dtype=np.int8), 1)

    def __len__(self) -> int:
        return len(self.keys)

    def rows(self, record: np.ndarray, person: np.ndarray) -> np.ndarray:
        """The row of each (record, person) pair in :attr:`vectors`, or -1."""
        out = np.full(len(record), -1, dtype=np.int64)
        if not len(self.keys):
            return out
        ok = person < self.stride
        q = record * self.stride + person
        pos = np.minimum(np.searchsorted(self.keys, q), len(self.keys) - 1)
        hit = ok & (self.keys[pos] == q)
        out[hit] = self.order[pos[hit]]
        return out


#: Records judged per vectorised scoring (``resolve``'s ``judge``), and candidate pairs
#: compared per batch while estimating: memory stays flat at a city's size.
_JUDGE_CHUNK = 50_000
_PAIR_CHUNK = 200_000


def _estimate(records: list[LinkRecord], P: _Persons, residue: list[LinkRecord],  # noqa: N803
              labelled: tuple[array, array], seed: int) -> tuple[FSModel, _CandidatePairs]:
    """The model, estimated from this run's records: ``m`` from the ID-linked pairs, ``u``
    from random pairs, EM over the candidate pairs of the records left (returned with
    their vectors, which the judge reuses)."""
    n = len(records)
    rng = random.Random(seed)
    rec, person = labelled
    labelled_v = _vectors([(records[rec[k]], P.profiles[person[k]]) for k in _sample(range(len(rec)), 20_000, rng)])
    if len(labelled_v):
        labelled_v[:, 0] = NULL  # these pairs agree on the number by construction
    if P.members:
        rand_pairs = [(records[rng.randrange(n)], P.profiles[rng.randrange(len(P.members))])
                      for _ in range(min(50_000, 10 * n))]
    else:
        rand_pairs = []
    random_v = _vectors(rand_pairs)
    rec_of, person_of = array("q"), array("q")
    parts: list[np.ndarray] = []
    batch: list[tuple[LinkRecord, Profile]] = []
    for part in _in_mask_order(residue):  # (a chunk's candidates at a time: a city's are never all held)
        for r, cands in zip(part, P.candidates_of(part), strict=True):
            for pid in cands:
                rec_of.append(r.idx)
                person_of.append(pid)
                batch.append((r, P.profiles[pid]))
            if len(batch) >= _PAIR_CHUNK:
                parts.append(_vectors(batch))
                batch = []
    parts.append(_vectors(batch))
    cand_v = np.concatenate(parts)
    groups = np.frombuffer(rec_of, dtype=np.int64) if len(rec_of) else np.zeros(0, dtype=np.int64)
    persons = np.frombuffer(person_of, dtype=np.int64) if len(person_of) else np.zeros(0, dtype=np.int64)
    record_class = np.fromiter((_CLASS[(r.platform, r.resource)] for r in records), dtype=np.int64, count=n)
    model = estimate(COMPARISONS, random_v, labelled_v, cand_v, groups, record_class, len(P.members))
    return model, _CandidatePairs(groups, persons, cand_v, len(P.members) + 1)


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def _signature(anchors: list[LinkRecord]) -> str:
    """A person as the model sees them: their anchor records and those records' versions."""
    return _digest("\n".join(sorted(f"{r.platform}/{r.resource}/{r.record_id}/{r.batch}" for r in anchors)))


def _sample(items: Sequence, k: int, rng: random.Random) -> Sequence:
    return items if len(items) <= k else rng.sample(items, k)


def _vectors(pairs: list[tuple[LinkRecord, Profile]]) -> np.ndarray:
    """The pairs' comparison vectors (``NULL`` for no value), one row each. The
    comparisons' functions are called directly and the levels collected in one byte
    array: a city's 16 million pairs go through here. A pair on which a comparison fails
    goes through ``comparison_vector``, which says so in the log."""
    k = len(_COMPARE)
    out = array("b")
    put, compare = out.extend, _COMPARE
    for r, p in pairs:
        try:
            levels = [f(r, p) for f in compare]
        except Exception:  # noqa: BLE001 - taken as no evidence, in comparison_vector
            levels = list(comparison_vector(r, p))
        put([NULL if v is None else v for v in levels])
    return np.frombuffer(out, dtype=np.int8).reshape(-1, k) if out else np.zeros((0, k), dtype=np.int8)


_COMPARE = tuple(c.compare for c in COMPARISONS)


def age_on(birth: date, day: date) -> int:
    """Full years (周岁) on ``day``."""
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def _is_elder(members: list[LinkRecord], as_of: date, refuse: frozenset[str] = frozenset()) -> bool:
    """Aged 60 or over on ``as_of``, or on the date of death — the birth and death dates
    the golden record publishes (``linking.survivorship.life_dates``); a person whose birth
    date nobody knows is kept (the anchors share elders only)."""
    from linking.survivorship import life_dates

    born, death = life_dates(members, refuse)
    if born is None:
        return True
    day = min(as_of, death) if death else as_of
    return age_on(born, day) >= 60

