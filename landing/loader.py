"""Land one page of records: original payloads, typed staging rows and counts, all in
one transaction, so an interruption at any point loses nothing and a re-read doubles
nothing. The watermark moves afterwards, once every earlier page has landed too
(``landing.ingest``): a crash in between only means a longer re-read next time.

Set-based per page, and as little as possible inside the transaction (on SQLite it holds
the one write lock every landing process waits for): one multi-row insert of the versions
into ``landing_record``, whose unique key (update time, record id, content hash — the
update time is part of the content, and leads the key so that keys arrive in order) skips a
version landed before — the insert's own count says how many were new, so no lookup precedes it — and
one upsert of each record's latest version here into the staging table, in which the
later update time wins (on a tie, the later delivery: the page's own order, and a later
page over an earlier one). A staging row that holds the very version delivered again
is left alone; a version delivered again is counted as a duplicate.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, Table, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect

from connectors.paginators import Page, Unparsed
from connectors.platforms import ResourceSpec
from landing.bulk import bind_processor, upsert_latest, writer
from landing.transform import row_builder
from schemas.base import UTCDateTime
from schemas.landing import IngestBatch, IngestWatermark, LandingRecord, LandingReject
from schemas.staging import staging_table

__all__ = ["PageCounts", "advance_watermark", "dialect_insert", "land_page"]

log = logging.getLogger(__name__)

_landing = LandingRecord.__table__
_reject = LandingReject.__table__
_watermark = IngestWatermark.__table__
_batch = IngestBatch.__table__


def dialect_insert(conn: Connection, table: Table):
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


def _hash(payload: bytes) -> str:
    return hashlib.blake2b(payload, digest_size=16).hexdigest()


def land_page(engine: Engine, spec: ResourceSpec, batch_id: int, page: Page,
              write_lock: Any = None) -> PageCounts:
    """Land ``page`` (one or several platform pages, or the part of them a landing worker
    holds) for ``spec``'s resource under ``batch_id``, in one transaction: the new
    versions, the staging rows they win, the rejects and the batch's counters.

    The watermark is not moved here: the ingest coordinator moves it once every page
    up to a checkpoint has landed (``advance_watermark``).
    """
    counts = PageCounts(received=len(page.records))
    dialect = engine.dialect
    bind_time = _bind_time(dialect)
    # (record id, update time, the time as bound, deleted, hash, payload, record)
    versions: list[tuple[str, datetime, Any, bool, str, str, dict[str, Any]]] = []
    rejects: list[dict[str, Any]] = []
    for rec in page.records:
        if isinstance(rec, Unparsed):
            rejects.append({"batch_id": batch_id, "platform": spec.platform, "resource": spec.resource,
                            "record_id": None, "reason": rec.reason, "payload": rec.raw})
            continue
        # keys sorted: a version re-sent with its fields in another order is the same version
        payload = orjson.dumps(rec, option=orjson.OPT_SORT_KEYS)
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
        versions.append((rid, updated, bind_time(updated), deleted, _hash(payload), payload.decode(), rec))
        if counts.newest is None or updated > counts.newest:
            counts.newest = updated

    counts.rejected = len(rejects)
    for r in rejects:
        counts.reject_reasons[r["reason"]] = counts.reject_reasons.get(r["reason"], 0) + 1
    counts.tombstones = sum(1 for v in versions if v[3])

    # Everything per record happens before the transaction: on SQLite the transaction
    # holds the one write lock that every platform's process waits for.
    table = staging_table(spec.platform, spec.resource)
    build = row_builder(spec.platform, spec.resource, dialect)  # returns bound values
    stg_cols = ("record_id", "updated_at", "deleted", "version_hash", "batch_id", "issues", *build.columns)
    # the update time is bound once for both tables; a bool needs no converting on either database
    land_w = writer(dialect, _landing, _LANDING_COLS, _LANDING_CONFLICT, prebound=("updated_at", "deleted"))
    stg_w = writer(dialect, table, stg_cols, upsert_latest(table),
                   prebound=("updated_at", "deleted", *build.columns))
    # One staging row per record: its latest version here, on a tie the later one.
    latest: dict[str, int] = {}
    for i, v in enumerate(versions):
        prev = latest.get(v[0])
        if prev is None or versions[prev][1] <= v[1]:
            latest[v[0]] = i
    plat, res = spec.platform, spec.resource
    live_rows = land_w.prepare([(plat, res, v[0], v[2], False, v[4], batch_id, v[5]) for v in versions if not v[3]])
    dead_rows = land_w.prepare([(plat, res, v[0], v[2], True, v[4], batch_id, v[5]) for v in versions if v[3]])
    stg_rows = []
    for i in latest.values():  # typed values only for the version staging keeps
        rid, _, bound, dele, h, _, rec = versions[i]
        vals, issues = build.values(rec)
        stg_rows.append((rid, bound, dele, h, batch_id, None if dele else issues, *vals))
    stg_rows = stg_w.prepare(stg_rows)

    with write_lock or nullcontext(), engine.begin() as conn:
        # A version landed before (or twice here) meets the landing table's unique key
        # and is skipped: what the insert counts is what was new.
        counts.landed_new = land_w.write_prepared(conn, live_rows)
        land_w.write_prepared(conn, dead_rows)
        counts.landed_duplicate = len(versions) - counts.tombstones - counts.landed_new
        # the staging upsert leaves a row alone that holds this very version already
        stg_w.write_prepared(conn, stg_rows)
        if rejects:
            conn.execute(_reject.insert(), rejects)
        # last: on PostgreSQL the batch row stays locked until commit, and several
        # landing workers count into it
        _bump_batch(conn, batch_id, counts)
    return counts


def _bind_time(dialect: Dialect) -> Callable[[datetime], Any]:
    """The update time as bound for both tables, converted once. On SQLite it is text,
    and the landing key compares it: written here as sqlite3's default adapter has
    written it since the bulk writer (``…:44`` for a whole second, ``…:44.250000``
    otherwise), which migration 0009 made every stored time agree with — once per
    version instead of once per table, and without that adapter, which Python 3.12
    deprecates."""
    proc = bind_processor(_landing.c.updated_at.type, dialect) or (lambda v: v)
    if dialect.name != "sqlite":
        return proc
    return _sqlite_time


def _sqlite_time(v: datetime) -> str:
    """What ``UTCDateTime`` binds (naive UTC), as text (see ``_bind_time``): its own
    conversion, called directly rather than through SQLAlchemy's processor chain. A time
    in UTC already (what the platforms' parsers return) is its ISO text less the
    ``+00:00`` — 0.7 µs less a record than converting it to a naive time first."""
    if v.tzinfo is UTC:
        return v.isoformat(" ")[:-6]
    return _UTC.process_bind_param(v, None).isoformat(" ")


_UTC = UTCDateTime()


_LANDING_COLS = ("platform", "resource", "record_id", "updated_at", "deleted", "version_hash", "batch_id",
                 "payload")
_LANDING_CONFLICT = 'ON CONFLICT ("platform", "resource", "updated_at", "record_id", "version_hash") DO NOTHING'
def _bump_batch(conn: Connection, batch_id: int, c: PageCounts) -> None:
    b = _batch.c
    conn.execute(update(_batch).where(b.id == batch_id).values(
        received=b.received + c.received, landed_new=b.landed_new + c.landed_new,
        landed_duplicate=b.landed_duplicate + c.landed_duplicate, rejected=b.rejected + c.rejected,
        tombstones=b.tombstones + c.tombstones, pages=b.pages + 1))


def advance_watermark(engine: Engine, spec: ResourceSpec, newest: datetime,
                      server_time: datetime | None) -> None:
    """Move ``spec``'s watermark to ``newest`` (never backwards): every record up to it
    has landed. ``server_time`` is the platform's clock at that read.

    Never past the platform's clock (``server_time``, or this machine's when the platform
    gave none): a record dated in the future (noise the contract lists) would otherwise
    carry the watermark there, and every later read would start after the changes still
    to come. Held at the clock, the next read starts at it (less the overlap) and only
    gets the future-dated record again, which the landing recognises. A watermark found
    in the future (stored before) is brought back to what this read landed (at most the
    clock): the next read then starts there."""
    with engine.begin() as conn:
        _advance_watermark(conn, spec, newest, server_time)


def _advance_watermark(conn: Connection, spec: ResourceSpec, newest: datetime,
                       server_time: datetime | None) -> None:
    w = _watermark.c
    now = datetime.now(UTC)
    clock = server_time or now
    if newest > clock:
        log.warning("%s/%s: update times up to %s are ahead of the platform's clock (%s); the watermark "
                    "stays at the clock", spec.platform, spec.resource, newest.isoformat(), clock.isoformat())
        newest = clock
    current = conn.execute(select(w.watermark).where(w.platform == spec.platform,
                                                     w.resource == spec.resource)).first()
    if current is None:
        conn.execute(_watermark.insert().values(platform=spec.platform, resource=spec.resource,
                                                watermark=newest, server_time=server_time, updated_at=now))
        return
    values: dict[str, Any] = {"updated_at": now}
    if current.watermark is None or newest > current.watermark:
        values["watermark"] = newest
    elif current.watermark > clock:
        log.warning("%s/%s: the stored watermark %s is ahead of the platform's clock; brought back to %s "
                    "(records changed in between may need a backfill: the hub_ingest DAG's since param)", spec.platform,
                    spec.resource, current.watermark.isoformat(), newest.isoformat())
        values["watermark"] = newest
    if server_time:
        values["server_time"] = server_time
    conn.execute(update(_watermark).where(w.platform == spec.platform, w.resource == spec.resource)
                 .values(**values))
