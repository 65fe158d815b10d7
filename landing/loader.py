"""Land one page of records: original payloads, typed staging rows, counts, watermark —
all in one transaction, so an interruption at any point loses nothing and a re-read
doubles nothing.

Set-based per page: one multi-row insert into ``landing_record`` that skips versions
already landed (same record id and content hash) and returns the new ones; one upsert of
the new versions into the staging table in which the later update time wins (on a tie,
the later delivery — the page's own order, and a later page over an earlier one).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, Table, select, update
from sqlalchemy.dialects import postgresql, sqlite

from connectors.paginators import Page, Unparsed
from connectors.platforms import ResourceSpec
from landing.transform import row_builder
from schemas.landing import IngestBatch, IngestWatermark, LandingRecord, LandingReject
from schemas.staging import staging_table

__all__ = ["PageCounts", "land_page", "dialect_insert"]

_landing = LandingRecord.__table__
_reject = LandingReject.__table__
_watermark = IngestWatermark.__table__
_batch = IngestBatch.__table__


def dialect_insert(conn: Connection, table: Table):  # noqa: ANN201
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)


@dataclass
class PageCounts:
    received: int = 0
    landed_new: int = 0
    landed_duplicate: int = 0
    rejected: int = 0
    tombstones: int = 0
    newest: datetime | None = None
    reject_reasons: dict[str, int] = field(default_factory=dict)

    def add(self, other: PageCounts) -> None:
        self.received += other.received
        self.landed_new += other.landed_new
        self.landed_duplicate += other.landed_duplicate
        self.rejected += other.rejected
        self.tombstones += other.tombstones
        if other.newest and (self.newest is None or other.newest > self.newest):
            self.newest = other.newest
        for k, v in other.reject_reasons.items():
            self.reject_reasons[k] = self.reject_reasons.get(k, 0) + v

    @property
    def reconciles(self) -> bool:
        return self.received == self.landed_new + self.landed_duplicate + self.rejected + self.tombstones


def _hash(payload: bytes) -> str:
    return hashlib.blake2b(payload, digest_size=16).hexdigest()


def land_page(engine: Engine, spec: ResourceSpec, batch_id: int, page: Page,
              pending_newest: datetime | None = None) -> PageCounts:
    """Land ``page`` for ``spec``'s resource under ``batch_id``.

    ``pending_newest`` is the newest update time of earlier pages of the same read that
    were not checkpoints (export files); the watermark moves to the newest of both when
    this page is a checkpoint.
    """
    counts = PageCounts(received=len(page.records))
    versions: list[dict[str, Any]] = []
    rejects: list[dict[str, Any]] = []
    for rec in page.records:
        if isinstance(rec, Unparsed):
            rejects.append({"batch_id": batch_id, "platform": spec.platform, "resource": spec.resource,
                            "record_id": None, "reason": rec.reason, "payload": rec.raw})
            continue
        payload = orjson.dumps(rec)
        try:
            rid = spec.record_id(rec)
            updated = spec.updated(rec)
        except ValueError as exc:
            rid_guess = rec.get(spec.id_field)
            rejects.append({"batch_id": batch_id, "platform": spec.platform, "resource": spec.resource,
                            "record_id": str(rid_guess)[:128] if isinstance(rid_guess, (str, int)) else None,
                            "reason": f"cannot key the record: {exc}", "payload": payload.decode()})
            continue
        deleted = spec.is_tombstone(rec) if spec.tombstone_field else False
        versions.append({"platform": spec.platform, "resource": spec.resource, "record_id": rid,
                         "updated_at": updated, "deleted": deleted, "version_hash": _hash(payload),
                         "batch_id": batch_id, "payload": payload.decode(), "_rec": rec})
        if counts.newest is None or updated > counts.newest:
            counts.newest = updated

    counts.rejected = len(rejects)
    for r in rejects:
        counts.reject_reasons[r["reason"]] = counts.reject_reasons.get(r["reason"], 0) + 1
    counts.tombstones = sum(1 for v in versions if v["deleted"])

    # One version per (record id, hash) within the page: a record re-sent inside one page
    # is one version delivered twice.
    unique: dict[tuple[str, str], dict[str, Any]] = {}
    for v in versions:
        unique.setdefault((v["record_id"], v["version_hash"]), v)

    with engine.begin() as conn:
        new_keys: set[tuple[str, str]] = set()
        ids: dict[tuple[str, str], int] = {}
        if unique:
            stmt = (dialect_insert(conn, _landing)
                    .on_conflict_do_nothing(index_elements=["platform", "resource", "record_id", "version_hash"])
                    .returning(_landing.c.id, _landing.c.record_id, _landing.c.version_hash))
            rows = [{k: v for k, v in u.items() if k != "_rec"} for u in unique.values()]
            for row in conn.execute(stmt, rows):
                new_keys.add((row.record_id, row.version_hash))
                ids[(row.record_id, row.version_hash)] = row.id
        new_versions = [u for k, u in unique.items() if k in new_keys]
        # Every delivered copy of an already-landed version counts as a duplicate, and so does
        # a second copy inside this page.
        counts.landed_new = sum(1 for v in new_versions if not v["deleted"])
        counts.landed_duplicate = len(versions) - counts.tombstones - counts.landed_new
        if new_versions:
            _upsert_staging(conn, spec, batch_id, new_versions, ids)
        if rejects:
            conn.execute(_reject.insert(), rejects)
        _bump_batch(conn, batch_id, counts)
        newest = max((t for t in (counts.newest, pending_newest) if t), default=None)
        if page.checkpoint and newest:
            _advance_watermark(conn, spec, newest, page.server_time)
    return counts


def _upsert_staging(conn: Connection, spec: ResourceSpec, batch_id: int,
                    new_versions: list[dict[str, Any]], ids: dict[tuple[str, str], int]) -> None:
    table = staging_table(spec.platform, spec.resource)
    build = row_builder(spec.platform, spec.resource)
    latest: dict[str, dict[str, Any]] = {}
    for v in new_versions:  # page order = delivery order; later wins ties
        prev = latest.get(v["record_id"])
        if prev is not None and prev["updated_at"] > v["updated_at"]:
            continue
        cols, issues = build(v["_rec"])
        row = {"record_id": v["record_id"], "updated_at": v["updated_at"], "deleted": v["deleted"],
               "landing_id": ids[(v["record_id"], v["version_hash"])], "batch_id": batch_id,
               "issues": None if v["deleted"] else issues, **cols}
        latest[v["record_id"]] = row
    ins = dialect_insert(conn, table)
    stmt = ins.on_conflict_do_update(
        index_elements=["record_id"],
        set_={c.name: ins.excluded[c.name] for c in table.columns if c.name != "record_id"},
        where=ins.excluded.updated_at >= table.c.updated_at,
    )
    conn.execute(stmt, list(latest.values()))


def _bump_batch(conn: Connection, batch_id: int, c: PageCounts) -> None:
    b = _batch.c
    conn.execute(update(_batch).where(b.id == batch_id).values(
        received=b.received + c.received, landed_new=b.landed_new + c.landed_new,
        landed_duplicate=b.landed_duplicate + c.landed_duplicate, rejected=b.rejected + c.rejected,
        tombstones=b.tombstones + c.tombstones, pages=b.pages + 1))


def _advance_watermark(conn: Connection, spec: ResourceSpec, newest: datetime,
                       server_time: datetime | None) -> None:
    w = _watermark.c
    now = datetime.now(timezone.utc)
    current = conn.execute(select(w.watermark).where(w.platform == spec.platform,
                                                     w.resource == spec.resource)).first()
    if current is None:
        conn.execute(_watermark.insert().values(platform=spec.platform, resource=spec.resource,
                                                watermark=newest, server_time=server_time, updated_at=now))
        return
    values: dict[str, Any] = {"updated_at": now}
    if current.watermark is None or newest > current.watermark:
        values["watermark"] = newest
    if server_time:
        values["server_time"] = server_time
    conn.execute(update(_watermark).where(w.platform == spec.platform, w.resource == spec.resource)
                 .values(**values))
