"""Reading the published registry: persons with their links, at the current release or
an earlier one, with personal data masked unless the grant allows it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select

from hub.privacy import mask_id, mask_name, mask_phone
from schemas.registry import PersonLink, PersonVersion, RegistryRelease

__all__ = ["current_release", "iter_persons", "mask_person", "published_release", "resolve_id"]

_MASKS = {"id_card_no": mask_id, "name": mask_name, "phone": mask_phone}


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
                 chunk: int = 5000) -> Iterator[dict[str, Any]]:
    """Every person of ``release`` (default: the current one), merged ids left out, each
    with its ``links``. Personal data masked unless ``pii``."""
    release = release if release is not None else published_release(conn)
    if release is None:
        return
    pv, pl = PersonVersion.__table__, PersonLink.__table__
    q = (select(pv.c.person_id, pv.c.content).where(_valid_at(pv, release), pv.c.merged_into.is_(None))
         .order_by(pv.c.person_id))
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
