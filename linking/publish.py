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
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import orjson
from sqlalchemy import Connection, Table, bindparam, func, insert, select, update

from landing.bulk import writer
from linking.resolve import Resolution
from linking.survivorship import golden
from schemas.registry import LinkReview, PersonLink, PersonVersion, RegistryRelease

__all__ = ["PublishResult", "publish"]

_ANCHOR_VOTE = 10


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


def _hash(content: dict[str, Any]) -> str:
    return hashlib.blake2b(orjson.dumps(content, option=orjson.OPT_SORT_KEYS, default=str),
                           digest_size=16).hexdigest()


def _new_id(n: int) -> str:
    return f"P{n:09d}"


def publish(conn: Connection, res: Resolution, link_run_id: int, as_of: date | None,
            link_at: float = 0.99) -> PublishResult:
    release = (conn.execute(select(func.max(RegistryRelease.release))).scalar() or 0) + 1
    pl, pv = PersonLink.__table__.c, PersonVersion.__table__.c
    current_links = {(r.platform, r.resource, r.record_id): (r.person_id, r.confidence, r.method)
                     for r in conn.execute(select(pl.platform, pl.resource, pl.record_id, pl.person_id,
                                                  pl.confidence, pl.method).where(pl.valid_to.is_(None)))}
    current_persons = {r.person_id: r for r in conn.execute(
        select(pv.person_id, pv.merged_into, pv.id_card_no, pv.content_hash).where(pv.valid_to.is_(None)))}
    live = {pid for pid, r in current_persons.items() if r.merged_into is None}
    max_id = conn.execute(select(func.max(pv.person_id))).scalar()
    counter = int(max_id[1:]) if max_id else 0

    records = res.records
    clusters = [(c, members) for c, members in enumerate(res.persons) if members]

    # --- ids: inherit by vote, then by ID number, else new
    votes: list[tuple[int, int, str]] = []
    for c, members in clusters:
        tally: Counter = Counter()
        for i in members:
            old = current_links.get(records[i].key)
            if old and old[0] in live:
                tally[old[0]] += _ANCHOR_VOTE if records[i].anchor else 1
        votes.extend((n, c, pid) for pid, n in tally.items())
    votes.sort(key=lambda v: (-v[0], v[2], v[1]))
    person_ids: list[str | None] = [None] * len(res.persons)
    taken: set[str] = set()
    for _n, c, pid in votes:
        if person_ids[c] is None and pid not in taken:
            person_ids[c] = pid
            taken.add(pid)
    contents: dict[int, dict[str, Any]] = {}
    confident = {i for i, conf in enumerate(res.confidence) if conf >= link_at}
    for c, members in clusters:
        contents[c] = golden([records[i] for i in members], confident)
    by_number = {r.id_card_no: pid for pid, r in current_persons.items()
                 if pid in live and r.id_card_no and pid not in taken}
    new_ids = 0
    for c, _members in clusters:
        if person_ids[c] is not None:
            continue
        pid = by_number.pop(contents[c].get("id_card_no"), None) if contents[c].get("id_card_no") else None
        if pid is None or pid in taken:
            counter += 1
            pid = _new_id(counter)
            new_ids += 1
        person_ids[c] = pid
        taken.add(pid)

    # --- old ids not kept: merged into the cluster holding most of their records, or retired
    where_now: dict[str, Counter] = defaultdict(Counter)
    for c, members in clusters:
        for i in members:
            old = current_links.get(records[i].key)
            if old and old[0] in live and old[0] not in taken:
                where_now[old[0]][person_ids[c]] += 1
    merged = {pid: where_now[pid].most_common(1)[0][0] for pid in live - taken if where_now.get(pid)}
    retired = live - taken - set(merged)

    # --- person versions
    new_versions: list[dict[str, Any]] = []
    close: list[str] = []
    for c, _members in clusters:
        pid = person_ids[c]
        content = {"person_id": pid, **contents[c]}
        h = _hash(content)
        cur = current_persons.get(pid)  # type: ignore[arg-type]
        if cur is not None and cur.content_hash == h and cur.merged_into is None:
            continue
        if cur is not None:
            close.append(pid)  # type: ignore[arg-type]
        new_versions.append(_version_row(pid, release, content, h))  # type: ignore[arg-type]
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

    # --- links
    seen: set[tuple[str, str, str]] = set()
    link_rows: list[tuple[Any, ...]] = []  # in _LINK_COLS order (tuples: a city has millions)
    close_links: list[dict[str, str]] = []
    linked = 0
    for r in records:
        c = res.person_of[r.idx]
        pid = person_ids[c] if c is not None else None
        linked += pid is not None
        conf = round(float(res.confidence[r.idx]), 4)
        new = (pid, conf, res.method[r.idx])
        key = r.key
        seen.add(key)
        old = current_links.get(key)
        if old is not None and (old[0], round(old[1], 4), old[2]) == new:
            continue
        if old is not None:
            close_links.append({"p": r.platform, "r": r.resource, "i": r.record_id})
        link_rows.append((r.platform, r.resource, r.record_id, release, None, pid, conf, res.method[r.idx]))
    close_links.extend({"p": k[0], "r": k[1], "i": k[2]}
                       for k in current_links if k not in seen)  # withdrawn records are unlinked
    if close_links:  # one statement, executed for many rows
        conn.execute(update(PersonLink).where(pl.platform == bindparam("p"), pl.resource == bindparam("r"),
                                              pl.record_id == bindparam("i"), pl.valid_to.is_(None))
                     .values(valid_to=release), close_links)
    writer(conn, PersonLink.__table__, _LINK_COLS).write(conn, link_rows)

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

    conn.execute(insert(RegistryRelease).values(release=release, link_run_id=link_run_id,
                                                published_at=datetime.now(UTC), as_of=as_of,
                                                persons=len(clusters), links=linked))
    return PublishResult(release, len(clusters), linked, len(records) - linked, new_ids,
                         len(clusters) - new_ids, len(merged), len(retired), len(new_versions), len(link_rows),
                         len(reviews), person_ids)


_LINK_COLS = ("platform", "resource", "record_id", "valid_from", "valid_to", "person_id", "confidence", "method")


def _version_row(pid: str, release: int, content: dict[str, Any], h: str) -> dict[str, Any]:
    return {"person_id": pid, "valid_from": release, "valid_to": None, "merged_into": None,
            "id_card_no": content.get("id_card_no"), "name": content.get("name"), "gender": content.get("gender"),
            "birth_date": content.get("birth_date"), "district_code": content.get("district_code"),
            "status": content.get("status"), "death_date": content.get("death_date"),
            "content": _json(content), "content_hash": h}


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
    cols = [c.name for c in table.columns if c.name in rows[0]]
    writer(conn, table, cols, prebound=prebound).write(conn, ([r[c] for c in cols] for r in rows))


def _close(conn: Connection, model: type, key_col: Any, keys: list[str], release: int) -> None:
    tbl = model.__table__
    for i in range(0, len(keys), 500):
        conn.execute(update(tbl).where(key_col.in_(keys[i:i + 500]), tbl.c.valid_to.is_(None))
                     .values(valid_to=release))
