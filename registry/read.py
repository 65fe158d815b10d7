"""Reading the published registry: persons with their links, at the current release or
an earlier one, with personal data masked unless the grant allows it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select

from hub.privacy import mask_name, mask_phone
from schemas.registry import PersonLink, PersonVersion, RegistryRelease

__all__ = ["current_release", "iter_persons", "link_of", "mask_person", "published_release", "resolve_id"]

def _mask_number(v: str) -> str:
    """The area part only: a person's record also shows the birth date, which with the
    usual first-6-and-last-4 mask would give the whole number back."""
    v = str(v)
    return v[:6] + "*" * max(0, len(v) - 6)


_MASKS = {"id_card_no": _mask_number, "name": mask_name, "phone": mask_phone}


def current_release(conn: Connection) -> int | None:
    """The newest linked release (what the rules judge; readers see ``published_release``)."""
    return conn.execute(select(func.max(RegistryRelease.release))).scalar()


def published_release(conn: Connection) -> int | None:
    """The release consumers see (``registry.publish``)."""
    from registry.publish import published_release as _published

    return _published(conn)


def _valid_at(table: Any, release: int) -> Any:
    c = table.c
    return and_(c.valid_from <= release, or_(c.valid_to.is_(None), c.valid_to > release))


def mask_person(p: dict[str, Any]) -> dict[str, Any]:
    out = dict(p)
    for field, fn in _MASKS.items():
        if out.get(field):
            out[field] = fn(out[field])
    if out.get("address"):
        out["address"] = out["address"][:6] + "…"
    return out


def iter_persons(conn: Connection, *, release: int | None = None, pii: bool = False,
                 chunk: int = 5000, after: str | None = None, limit: int | None = None,
                 id_card_no: str | None = None, person_ids: list[str] | None = None,
                 changed_since: int | None = None) -> Iterator[dict[str, Any]]:
    """Every person of ``release`` (default: the published one), merged ids left out, each
    with its ``links``, in id order: those after ``after``, at most ``limit``, only the
    one(s) holding ``id_card_no`` or named in ``person_ids`` when given, only those whose
    golden record or links changed after release ``changed_since`` when given. Personal data
    masked unless ``pii``."""
    release = release if release is not None else published_release(conn)
    if release is None:
        return
    pv, pl = PersonVersion.__table__, PersonLink.__table__
    q = (select(pv.c.person_id, pv.c.content).where(_valid_at(pv, release), pv.c.merged_into.is_(None))
         .order_by(pv.c.person_id))
    if after is not None:
        q = q.where(pv.c.person_id > after)
    if id_card_no is not None:
        q = q.where(pv.c.id_card_no == id_card_no)
    if person_ids is not None:
        q = q.where(pv.c.person_id.in_(person_ids))
    if changed_since is not None:  # its golden record, or which records it links, changed
        relinked = select(pl.c.person_id).where(
            pl.c.person_id.is_not(None), or_(pl.c.valid_from > changed_since, pl.c.valid_to > changed_since))
        q = q.where(or_(pv.c.valid_from > changed_since, pv.c.person_id.in_(relinked)))
    if limit is not None:
        q = q.limit(limit)
        chunk = min(chunk, max(limit, 1))
    batch: list[tuple[str, dict]] = []
    for row in conn.execute(q).yield_per(chunk):
        batch.append((row[0], row[1]))
        if len(batch) >= chunk:
            yield from _with_links(conn, pl, release, batch, pii)
            batch = []
    if batch:
        yield from _with_links(conn, pl, release, batch, pii)


def _with_links(conn: Connection, pl: Any, release: int, batch: list[tuple[str, dict]],
                pii: bool) -> Iterator[dict[str, Any]]:
    ids = [pid for pid, _ in batch]
    links: dict[str, list[dict[str, Any]]] = {pid: [] for pid in ids}
    q = (select(pl.c.person_id, pl.c.platform, pl.c.resource, pl.c.record_id, pl.c.confidence, pl.c.method)
         .where(_valid_at(pl, release), pl.c.person_id.in_(ids))
         .order_by(pl.c.platform, pl.c.resource, pl.c.record_id))
    for r in conn.execute(q):
        links[r[0]].append({"platform": r[1], "resource": r[2], "record_id": r[3], "confidence": r[4],
                            "method": r[5]})
    for pid, content in batch:
        person = {k: v for k, v in content.items()}
        person["links"] = links[pid]
        yield person if pii else mask_person(person)


def link_of(conn: Connection, platform: str, resource: str, record_id: str,
            release: int | None = None) -> dict[str, Any] | None:
    """What ``release`` says of one source record: its person (None: linked to nobody),
    the confidence and how it was decided (``method``: ``unmatched``, ``not_elder``,
    ``review`` … when linked to nobody). None when the release does not hold the record."""
    release = release if release is not None else published_release(conn)
    if release is None:
        return None
    pl = PersonLink.__table__
    row = conn.execute(select(pl.c.person_id, pl.c.confidence, pl.c.method).where(
        pl.c.platform == platform, pl.c.resource == resource, pl.c.record_id == record_id,
        _valid_at(pl, release))).first()
    if row is None:
        return None
    return {"platform": platform, "resource": resource, "record_id": record_id, "person_id": row[0],
            "confidence": row[1], "method": row[2]}


def resolve_id(conn: Connection, person_id: str, release: int | None = None) -> str | None:
    """The live id ``person_id`` resolves to (following merges); None if unknown or retired."""
    release = release if release is not None else published_release(conn)
    if release is None:
        return None
    pv = PersonVersion.__table__
    seen = set()
    while person_id not in seen:
        seen.add(person_id)
        row = conn.execute(select(pv.c.merged_into).where(pv.c.person_id == person_id, _valid_at(pv, release))).first()
        if row is None:
            return None
        if row[0] is None:
            return person_id
        person_id = row[0]
    return None
