"""Publish a resolution as the next registry release: stable person ids, redirects,
history, and the review queue — in one transaction, so readers see the previous release
or the new one, never half of one.

**Stable ids.** A new cluster inherits the id of the previous persons its records were
linked to, by vote (anchor records count ten times): the greatest overlaps are granted
first, each old id to one cluster only. A cluster with no inherited id takes the id of a
live person with the same golden ID number (a record re-keyed by its platform), else a
new one. So a person keeps their id when new sources arrive or an ID number is
corrected; when two persons turn out to be one, the survivor keeps the id with the larger
overlap and the other id is **merged** (a version with ``merged_into`` — asking for it
returns the survivor); when one person turns out to be two, the larger part keeps the id
and the other part gets a new one (a **split**). An id whose records all vanished
(withdrawn, or no longer an elder) is retired: its last version is closed.

**History.** Only what changed is written: a person's version is replaced when its golden
content (fields and provenance) changed, a link row when its person, method or confidence
changed.

**Incremental runs** do not build a golden record again when what it is built from — its
records in their versions, and which of them are linked confidently — is what the
current version was built from (``members_hash``). A full run builds every one.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Collection, Container, Iterable
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, date, datetime
from itertools import groupby
from operator import attrgetter, itemgetter
from typing import Any, NamedTuple

import numpy as np
import orjson
from sqlalchemy import Connection, Table, bindparam, func, insert, literal, select, update

from landing.bulk import indexes_built_after, raw_rows, writer
from linking.resolve import Key, Resolution, StateRow
from linking.survivorship import golden, golden_number
from schemas.registry import LinkReview, LinkState, PersonLink, PersonVersion, RegistryRelease

__all__ = ["PublishResult", "publish"]

_ANCHOR_VOTE = 10
#: Person versions are written in chunks of this many rows (memory stays flat however many).
_VERSIONS_CHUNK = 20_000


@dataclass
class PublishResult:
    release: int
    persons: int
    links: int  # records linked to a person
    unlinked: int
    new_ids: int
    kept_ids: int
    merged_ids: int
    retired_ids: int
    versions_written: int
    links_written: int
    reviews: int
    person_ids: list[str | None]  # per Resolution.persons index
    goldens_built: int = 0


class _Current(NamedTuple):
    """A person's current version, as far as publishing needs it."""

    person_id: str
    merged_into: str | None
    id_card_no: str | None
    content_hash: str | None
    members_hash: str | None


def _hash(content: dict[str, Any]) -> str:
    return hashlib.blake2b(orjson.dumps(content, option=orjson.OPT_SORT_KEYS, default=str),
                           digest_size=16).hexdigest()


def _new_id(n: int) -> str:
    return f"P{n:09d}"


def publish(conn: Connection, res: Resolution, link_run_id: int, as_of: date | None,
            link_at: float = 0.99, *, incremental: bool = False,
            previous_state: dict[Key, StateRow] | None = None) -> PublishResult:
    """``incremental``: keep a golden record whose inputs did not change without building
    it again; ``previous_state``: the ``link_state`` rows as they are (only what differs
    from ``res.state`` is written)."""
    release = (conn.execute(select(func.max(RegistryRelease.release))).scalar() or 0) + 1
    pl, pv = PersonLink.__table__.c, PersonVersion.__table__.c
    current_persons = {r[0]: _Current(*r) for r in raw_rows(
        conn, select(pv.person_id, pv.merged_into, pv.id_card_no, pv.content_hash, pv.members_hash)
        .where(pv.valid_to.is_(None)))}
    live = {pid for pid, r in current_persons.items() if r.merged_into is None}
    max_id = conn.execute(select(func.max(pv.person_id))).scalar()
    counter = int(max_id[1:]) if max_id else 0

    records = res.records
    clusters = [(c, members) for c, members in enumerate(res.persons) if members]
    ids = _Ids(current_persons)
    methods: dict[str, int] = {}
    old = _old_links(conn, records, ids, methods)
    cluster_of = np.fromiter((-1 if c is None else c for c in res.person_of), dtype=np.int64, count=len(records))
    anchor = np.zeros(len(records), dtype=bool)
    anchor[[r.idx for r in records if r.anchor]] = True
    # the records whose current link names a live person, and which cluster they are in now
    is_live = np.zeros(len(ids.pids), dtype=bool)
    is_live[[ids.of[pid] for pid in live]] = True
    voting = (cluster_of >= 0) & (old.person >= 0)
    voting[voting] = is_live[old.person[voting]]

    # --- ids: inherit by vote, then by ID number, else new
    person_ids: list[str | None] = [None] * len(res.persons)
    taken: set[str] = set()
    for c, code in _by_votes(cluster_of[voting], old.person[voting],
                             np.where(anchor[voting], _ANCHOR_VOTE, 1), ids.pids):
        pid = ids.pids[code]
        if person_ids[c] is None and pid not in taken:
            person_ids[c] = pid
            taken.add(pid)
    confident = _Confident(res.confidence, link_at)
    members_of = dict(clusters)
    built = 0

    # A valid number that contradicts its own record may stand in a golden record only
    # where nobody else holds it as their own (a wife's record carrying her husband's
    # number founds her own person; she must not publish his number) — as the resolution
    # found it, over every linked record, so who counts as an elder went by the same
    refuse = res.refuse

    built_from = {c: _members_hash(records, members, confident, refuse) for c, members in clusters}
    by_number = {r.id_card_no: pid for pid, r in current_persons.items()
                 if pid in live and r.id_card_no and pid not in taken}
    new_ids = 0
    pending = [c for c, _members in clusters if person_ids[c] is None]
    earlier = _earlier_ids(conn, records, {c: members_of[c] for c in pending}, live) if pending else {}
    for c in pending:
        # (on a first run nobody holds a number yet: no golden record's number is needed)
        number = golden_number([records[i] for i in members_of[c]], refuse) if by_number else None
        pid = by_number.pop(number, None) if number else None
        if pid is None or pid in taken:
            pid = earlier.get(c)  # an id this person had before, nobody's now
        if pid is None or pid in taken:
            counter += 1
            pid = _new_id(counter)
            new_ids += 1
        person_ids[c] = pid
        taken.add(pid)

    # --- old ids not kept: merged into the cluster holding most of their records (of equal
    # ones, the first), or retired
    kept = np.zeros(len(ids.pids), dtype=bool)
    kept[[ids.of[pid] for pid in taken if pid in ids.of]] = True
    left = voting.copy()
    left[left] = ~kept[old.person[left]]
    merged = {ids.pids[code]: person_ids[c] for code, c in _most_held(old.person[left], cluster_of[left])}
    retired = live - taken - set(merged)

    # --- person versions
    # a first release of a city: its millions of versions without the secondary indexes,
    # built once at the end
    bulk = len(clusters) >= _BULK_ROWS and _empty(conn, PersonVersion)
    with indexes_built_after(conn, PersonVersion.__table__) if bulk else nullcontext():
        new_versions: list[dict[str, Any]] = []
        close: list[str] = []
        restamp: list[dict[str, str]] = []  # the same golden record, built from other versions
        versions_written = 0
        for c, _members in clusters:
            pid = person_ids[c]
            cur = current_persons.get(pid)  # type: ignore[arg-type]
            live_now = cur is not None and cur.merged_into is None
            if incremental and live_now and cur.members_hash == built_from[c]:
                continue  # built from exactly what it was built from last time
            content = {"person_id": pid, **golden([records[i] for i in members_of[c]], confident, refuse)}
            built += 1  # (only its row is kept from here on: a city's golden records do not pile up)
            h = _hash(content)
            if live_now and cur.content_hash == h:
                if cur.members_hash != built_from[c]:
                    restamp.append({"p": pid, "m": built_from[c]})  # type: ignore[dict-item]
                continue
            if cur is not None:
                close.append(pid)  # type: ignore[arg-type]
            new_versions.append(_version_row(pid, release, content, h, built_from[c]))  # type: ignore[arg-type]
            if len(new_versions) >= _VERSIONS_CHUNK:  # written as they come: a city's rows are never all held
                versions_written += len(new_versions)
                _close(conn, PersonVersion, pv.person_id, close, release)  # the old versions first
                _bulk(conn, PersonVersion.__table__, new_versions, prebound=("content",))
                close, new_versions = [], []
        if restamp:
            conn.execute(update(PersonVersion).where(pv.person_id == bindparam("p"), pv.valid_to.is_(None))
                         .values(members_hash=bindparam("m")), restamp)
        for pid, survivor in merged.items():
            close.append(pid)
            new_versions.append({"person_id": pid, "valid_from": release, "valid_to": None, "merged_into": survivor,
                                 "content": _json({"person_id": pid, "merged_into": survivor}), "content_hash": None})
        close.extend(retired)
        # an id merged earlier follows its survivor if that one was merged now
        for pid, r in current_persons.items():
            if r.merged_into in merged:
                close.append(pid)
                new_versions.append({"person_id": pid, "valid_from": release, "valid_to": None,
                                     "merged_into": merged[r.merged_into],
                                     "content": _json({"person_id": pid, "merged_into": merged[r.merged_into]}),
                                     "content_hash": None})
        _close(conn, PersonVersion, pv.person_id, close, release)
        _bulk(conn, PersonVersion.__table__, new_versions, prebound=("content",))
        versions_written += len(new_versions)

    # --- links: a record's row is replaced when its person, method or confidence changed
    code_of_cluster = np.asarray([-1 if pid is None else ids.code(pid) for pid in person_ids], dtype=np.int64)
    person_now = np.where(cluster_of >= 0, code_of_cluster[np.maximum(cluster_of, 0)], -1)
    method_now = np.fromiter((methods.setdefault(m, len(methods)) for m in res.method), dtype=np.int16,
                             count=len(records))
    linked = int(np.count_nonzero(person_now >= 0))
    same = (old.method == method_now) & (old.person == person_now)  # (old.method is -1 where no link)
    conf_now = np.asarray(res.confidence, dtype=np.float64)
    unequal = same & (old.confidence != conf_now)
    for i in np.flatnonzero(unequal).tolist():  # the stored confidence is rounded to 4 places
        same[i] = round(float(conf_now[i]), 4) == round(float(old.confidence[i]), 4)
    link_rows: list[tuple[Any, ...]] = []  # in _LINK_COLS order (tuples: a city has millions)
    close_links: list[dict[str, str]] = []
    for i in np.flatnonzero(~same).tolist():
        r = records[i]
        if old.method[i] >= 0:
            close_links.append({"p": r.platform, "r": r.resource, "i": r.record_id})
        c = res.person_of[i]
        link_rows.append((r.platform, r.resource, r.record_id, release, None,
                          person_ids[c] if c is not None else None, round(float(conf_now[i]), 4), res.method[i]))
    close_links.extend({"p": k[0], "r": k[1], "i": k[2]} for k in old.gone)  # withdrawn records are unlinked
    if close_links:  # one statement, executed for many rows
        conn.execute(update(PersonLink).where(pl.platform == bindparam("p"), pl.resource == bindparam("r"),
                                              pl.record_id == bindparam("i"), pl.valid_to.is_(None))
                     .values(valid_to=release), close_links)
    link_writer = writer(conn, PersonLink.__table__, _LINK_COLS)
    if len(link_rows) >= _BULK_ROWS and _empty(conn, PersonLink):
        # a first release of a city: ten million links, their indexes built once at the end
        with indexes_built_after(conn, PersonLink.__table__):
            link_writer.write(conn, _in_key_order(link_rows))
    else:
        link_writer.write(conn, link_rows)

    # --- the review queue: this run's uncertain matches replace the open ones
    lr = LinkReview.__table__.c
    conn.execute(update(LinkReview).where(lr.status == "open").values(status="obsolete"))
    reviews = []
    for item in res.review:
        r = records[item.record]
        other = records[res.persons[item.person][0]]
        reviews.append({"link_run_id": link_run_id, "platform": r.platform, "resource": r.resource,
                        "record_id": r.record_id, "person_id": person_ids[item.person],
                        "other_platform": other.platform, "other_resource": other.resource,
                        "other_record_id": other.record_id, "probability": round(item.probability, 4),
                        "explanation": item.explanation, "status": "open"})
    if reviews:
        conn.execute(insert(LinkReview), reviews)

    _write_state(conn, res.state, previous_state)

    conn.execute(insert(RegistryRelease).values(release=release, link_run_id=link_run_id,
                                                published_at=datetime.now(UTC), as_of=as_of,
                                                persons=len(clusters), links=linked))
    return PublishResult(release, len(clusters), linked, len(records) - linked, new_ids,
                         len(clusters) - new_ids, len(merged), len(retired), versions_written, len(link_rows),
                         len(reviews), person_ids, built)


class _Ids:
    """Person ids as small integers, so that a city's links are compared as arrays."""

    __slots__ = ("of", "pids")

    def __init__(self, pids: Iterable[str]) -> None:
        self.of: dict[str, int] = {pid: k for k, pid in enumerate(pids)}
        self.pids: list[str] = list(self.of)

    def code(self, pid: str) -> int:
        k = self.of.get(pid)
        if k is None:
            k = self.of[pid] = len(self.pids)
            self.pids.append(pid)
        return k


class _OldLinks(NamedTuple):
    """The current link of each of the resolution's records, by record index: its person
    (an ``_Ids`` code; -1: none), confidence and method (a code; -1: the record has no
    current link) — about 18 bytes a record where a dict of tuples took ~500 (4.4 GB of a
    city's re-link); and the current links of records no longer among them (withdrawn)."""

    person: np.ndarray
    confidence: np.ndarray
    method: np.ndarray
    gone: list[Key]


def _old_links(conn: Connection, records: list, ids: _Ids, methods: dict[str, int]) -> _OldLinks:
    """Read the current links one platform/resource at a time, each matched to its
    records by record id (so only one resource's lookup is held at a time)."""
    n = len(records)
    person = np.full(n, -1, dtype=np.int64)
    confidence = np.zeros(n, dtype=np.float64)
    method = np.full(n, -1, dtype=np.int16)
    gone: list[Key] = []
    pl = PersonLink.__table__.c
    of_group: dict[tuple[str, str], list] = defaultdict(list)
    for group, run in groupby(records, key=attrgetter("platform", "resource")):
        of_group[group].extend(run)
    linked_groups = conn.execute(select(pl.platform, pl.resource).where(pl.valid_to.is_(None)).distinct()).all()
    for platform, resource in sorted({*of_group, *((p, r) for p, r in linked_groups)}):
        at = {r.record_id: r.idx for r in of_group.pop((platform, resource), ())}
        idx: list[int] = []
        persons: list[int] = []
        confs: list[float] = []
        hows: list[int] = []
        code_of, method_of = ids.of, methods  # (looked up inline: this loop runs for every link)
        for rid, pid, conf, how in raw_rows(conn, select(pl.record_id, pl.person_id, pl.confidence, pl.method).where(
                pl.platform == platform, pl.resource == resource, pl.valid_to.is_(None))):
            i = at.get(rid)
            if i is None:
                gone.append((platform, resource, rid))
                continue
            idx.append(i)
            k = code_of.get(pid)
            persons.append(k if k is not None else -1 if pid is None else ids.code(pid))
            confs.append(conf)
            m = method_of.get(how)
            hows.append(m if m is not None else method_of.setdefault(how, len(method_of)))
        person[idx] = persons
        confidence[idx] = confs
        method[idx] = hows
    return _OldLinks(person, confidence, method, gone)


def _by_votes(cluster: np.ndarray, old: np.ndarray, weight: np.ndarray, pids: list[str]) -> list[tuple[int, int]]:
    """(cluster, old person) pairs by the votes of the cluster's records for the person
    their current link names, most first; of equal votes, the smaller id, then cluster."""
    if not len(cluster):
        return []
    width = np.int64(len(pids))
    pairs, where = np.unique(cluster * width + old, return_inverse=True)
    votes = np.bincount(where, weights=weight)
    c, o = pairs // width, pairs % width
    voted = np.unique(o).tolist()  # only the ids voted for are ranked (a city's are millions)
    rank = np.empty(len(pids), dtype=np.int64)
    rank[sorted(voted, key=pids.__getitem__)] = np.arange(len(voted))
    order = np.lexsort((c, rank[o], -votes))
    return list(zip(c[order].tolist(), o[order].tolist(), strict=True))


def _most_held(old: np.ndarray, cluster: np.ndarray) -> list[tuple[int, int]]:
    """For each old person, the cluster holding most of the records it held (of equal
    ones, the first)."""
    if not len(old):
        return []
    width = np.int64(cluster.max() + 1)
    pairs, held = np.unique(old * width + cluster, return_counts=True)
    o, c = pairs // width, pairs % width
    order = np.lexsort((c, -held, o))
    first = order[np.r_[True, o[order][1:] != o[order][:-1]]]
    return list(zip(o[first].tolist(), c[first].tolist(), strict=True))


class _Confident:
    """The records linked with confidence (``confidence >= link_at``), by record index: a
    lookup into the resolution's confidences rather than a set of a city's ten million."""

    __slots__ = ("confidence", "link_at")

    def __init__(self, confidence: list[float], link_at: float) -> None:
        self.confidence = confidence
        self.link_at = link_at

    def __contains__(self, i: object) -> bool:
        return self.confidence[i] >= self.link_at  # type: ignore[index]


_LINK_COLS = ("platform", "resource", "record_id", "valid_from", "valid_to", "person_id", "confidence", "method")


def _version_row(pid: str, release: int, content: dict[str, Any], h: str, members_hash: str) -> dict[str, Any]:
    return {"person_id": pid, "valid_from": release, "valid_to": None, "merged_into": None,
            "id_card_no": content.get("id_card_no"), "name": content.get("name"), "gender": content.get("gender"),
            "birth_date": content.get("birth_date"), "district_code": content.get("district_code"),
            "status": content.get("status"), "death_date": content.get("death_date"),
            "content": _json(content), "content_hash": h, "members_hash": members_hash}


def _earlier_ids(conn: Connection, records: list, pending: dict[int, list[int]], live: set[str]) -> dict[int, str]:
    """For persons no current link or number names: the id their records were last
    linked to, when that id is no live person's now — retired (every record of the
    person withdrawn for a while, then sent again) or merged away (a merge a steward's
    decision has since undone). REGISTRY.md: a later run gives the same person the same
    id. The latest closed link of each record votes; the most votes win."""
    pl = PersonLink.__table__.c
    if conn.execute(select(pl.record_id).where(pl.valid_to.is_not(None)).limit(1)).first() is None:
        return {}  # no link was ever closed (a first run): nothing to give back
    of: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)  # (platform, resource) -> record -> person
    for c, members in pending.items():
        for i in members:
            r = records[i]
            of[(r.platform, r.resource)][r.record_id] = c
    tally: dict[int, Counter] = defaultdict(Counter)
    for (platform, resource), cluster_of in of.items():
        ids = list(cluster_of)
        last: dict[str, tuple[int, str]] = {}  # record -> (closed at, person)
        for k in range(0, len(ids), 500):  # the primary key's leading columns: an index lookup
            for rid, person, closed in conn.execute(select(pl.record_id, pl.person_id, pl.valid_to).where(
                    pl.platform == platform, pl.resource == resource, pl.record_id.in_(ids[k:k + 500]),
                    pl.valid_to.is_not(None), pl.person_id.is_not(None))):
                if person not in live and (rid not in last or last[rid][0] < closed):
                    last[rid] = (closed, person)
        for rid, (_closed, person) in last.items():
            tally[cluster_of[rid]][person] += 1
    out: dict[int, str] = {}
    claimed: set[str] = set()
    for c, votes in sorted(tally.items(), key=lambda kv: -max(kv[1].values())):
        pid = next((p for p, _n in votes.most_common() if p not in claimed), None)
        if pid is not None:
            out[c] = pid
            claimed.add(pid)
    return out


def _members_hash(records: list, members: list[int], confident: Container[int], refuse: Collection[str]) -> str:
    """What a golden record is built from: its records in order, each one's version,
    whether it is linked confidently, and whether its number is one another person holds
    as their own (``refuse``: that depends on other persons' records, so a change there
    must build this one again too)."""
    text = "\n".join(f"{r.platform}/{r.resource}/{r.record_id}/{r.batch}/{i in confident:d}"
                     f"{'/refused' if r.id18 is not None and r.id18 in refuse else ''}"
                     for i in members for r in (records[i],))
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


_STATE_COLS = ("platform", "resource", "record_id", "batch_id", "candidates", "person_sig", "confidence", "method")


def _write_state(conn: Connection, state: dict[Key, StateRow], previous: dict[Key, StateRow] | None) -> None:
    """Make ``link_state`` hold ``state``, writing only the rows that differ from
    ``previous`` (its current rows; ``None``: replace them all)."""
    ls = LinkState.__table__.c
    gone = [k for k, row in previous.items() if state.get(k) != row] if previous else []
    if not previous or len(gone) * 2 > len(previous):
        # none yet, or most rows change (a full run's new model): all written anew, in key order —
        # a city's 2.4 million deleted one by one cost more than writing them again
        conn.execute(LinkState.__table__.delete())
        rows = [(*k, *row) for k, row in state.items()]
        rows.sort(key=_state_key)
        writer(conn, LinkState.__table__, _STATE_COLS).write(conn, rows)
        return
    if gone:
        conn.execute(LinkState.__table__.delete().where(
            ls.platform == bindparam("p"), ls.resource == bindparam("r"), ls.record_id == bindparam("i")),
            [{"p": k[0], "r": k[1], "i": k[2]} for k in gone])
    rows = [(*k, *row) for k, row in state.items() if previous.get(k) != row]
    writer(conn, LinkState.__table__, _STATE_COLS).write(conn, rows)


_state_key = itemgetter(0, 1, 2)


#: From this many rows into an empty table (links, or persons' versions), its secondary
#: indexes are built after the rows are in (``landing.bulk.indexes_built_after``).
_BULK_ROWS = 100_000


def _empty(conn: Connection, model: type) -> bool:
    return conn.execute(select(literal(1)).select_from(model.__table__).limit(1)).first() is None


def _in_key_order(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Link rows (in ``_LINK_COLS`` order) in the order of the table's primary key:
    grouped by platform and resource, each group by record id (sorting the groups alone
    costs a fraction of sorting all rows by the three)."""
    groups: dict[tuple[str, str], list[tuple[Any, ...]]] = defaultdict(list)
    for row in rows:
        groups[(row[0], row[1])].append(row)
    out: list[tuple[Any, ...]] = []
    for key in sorted(groups):
        out.extend(sorted(groups.pop(key), key=itemgetter(2)))
    return out


def _json(content: dict[str, Any]) -> str:
    """The golden record as the JSON text stored (dates as ISO text), made once here
    rather than by the column type's own encoder."""
    return orjson.dumps(content, default=str).decode()


def _bulk(conn: Connection, table: Table, rows: list[dict[str, Any]], prebound: tuple[str, ...] = ()) -> None:
    """Multi-row insert through the DBAPI (``landing.bulk``): SQLAlchemy's per-row
    parameter building costs more than the database's work at a city's scale.
    ``prebound`` columns hold values already in the database's form (JSON text)."""
    if not rows:
        return
    given = set().union(*rows)  # (a redirect's row names fewer columns than a golden record's)
    cols = [c.name for c in table.columns if c.name in given]
    writer(conn, table, cols, prebound=prebound).write(conn, ([r.get(c) for c in cols] for r in rows))


def _close(conn: Connection, model: type, key_col: Any, keys: list[str], release: int) -> None:
    tbl = model.__table__
    for i in range(0, len(keys), 500):
        conn.execute(update(tbl).where(key_col.in_(keys[i:i + 500]), tbl.c.valid_to.is_(None))
                     .values(valid_to=release))
