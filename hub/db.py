"""Engines and schema migration. Every command goes through :func:`get_engine`, which
brings the schema up to date through Alembic on first use."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event, text

from hub.errors import HubError
from hub.settings import HubSettings, get_settings

__all__ = ["DatabaseError", "analyze", "get_engine", "make_engine", "upgrade"]

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).resolve().parent.parent / "schemas" / "migrations"

_engines: dict[str, Engine] = {}
_lock = threading.Lock()


class DatabaseError(HubError):
    pass


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    # Let SQLAlchemy's "begin" event start transactions (see _sqlite_begin).
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=120000")
    # Landing writes big transactions: a 64 MB page cache per connection and a 64 MB
    # automatic checkpoint (instead of 4 MB) each gave about a fifth more records/s.
    cur.execute("PRAGMA cache_size=-65536")
    cur.execute("PRAGMA wal_autocheckpoint=16384")
    cur.close()


def _sqlite_begin(conn) -> None:
    # Take the write lock up front: several platforms land at once, and a deferred
    # transaction that upgrades to writing fails at once instead of waiting its turn.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str) -> Engine:
    """A new engine for ``url``: SQLite in WAL mode with a long busy timeout (several
    platforms land at once), PostgreSQL through psycopg 3. Errors never show the bound
    values (``hide_parameters``): they are names and ID numbers, and error texts reach
    logs, batch rows and ``hub status``."""
    if url.startswith(("postgresql://", "postgres://")):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 120}, hide_parameters=True)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    # No server-side prepared statements: psycopg prepares a query after five runs, and
    # the generic plan of the landing lookup (record_id = ANY(…)) scans the whole table
    # while the table is growing faster than its statistics.
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=5,
                         connect_args={"prepare_threshold": None}, hide_parameters=True)


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision (idempotent)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def analyze(target: Engine | Connection, tables: list[str], *, stale_only: bool = False,
            stale_fraction: float = 0.1) -> list[str]:
    """PostgreSQL: refresh the planner's statistics of ``tables``; returns the tables it
    analyzed (none on SQLite, whose join orders the queries fix themselves).

    Without statistics a freshly filled table looks empty or tiny, and a join against it
    is planned as a scan per row of the other side — a rule over 8,000 service orders
    took 240 s instead of 0.1 s that way. ``stale_only`` skips tables analyzed since less
    than ``stale_fraction`` of their rows changed (ANALYZE samples, so even a big table
    costs a second or two, but a run should not pay that for nothing)."""
    if target.dialect.name != "postgresql" or not tables:
        return []
    if isinstance(target, Engine):
        with target.begin() as conn:
            return analyze(conn, tables, stale_only=stale_only, stale_fraction=stale_fraction)
    todo = list(tables)
    if stale_only:
        fresh = {r.relname for r in target.execute(text(
            "SELECT relname FROM pg_stat_user_tables WHERE schemaname = current_schema() AND relname = ANY(:t) "
            "AND COALESCE(last_analyze, last_autoanalyze) IS NOT NULL "
            "AND n_mod_since_analyze <= :f * GREATEST(n_live_tup, 1)"), {"t": todo, "f": stale_fraction})}
        todo = [t for t in todo if t not in fresh]
    for name in todo:
        target.exec_driver_sql(f'ANALYZE "{name}"')
    return todo


def manual_checkpoints(engine: Engine) -> None:
    """SQLite: this engine's connections no longer checkpoint on their own at commit; the
    caller runs :func:`checkpoint_passive` itself, at a moment of its choosing.

    SQLite's automatic checkpoint runs inside the committing call, so a landing process
    would copy the log into the database while it still holds the hub's landing lock
    (``landing.ingest``), and the other landing processes would wait for it although
    SQLite lets them write meanwhile. Run after the lock is released, the copy overlaps
    their writes."""
    if engine.dialect.name != "sqlite":
        return

    def no_autocheckpoint(dbapi_conn, _record) -> None:
        dbapi_conn.execute("PRAGMA wal_autocheckpoint=0")

    event.listen(engine, "connect", no_autocheckpoint)
    engine.dispose()  # connections made before now checkpoint on their own still


def checkpoint_passive(engine: Engine) -> None:
    """SQLite: copy what the write-ahead log holds into the database without waiting for
    or blocking writers (what an automatic checkpoint does); a no-op elsewhere."""
    if engine.dialect.name != "sqlite" or engine.url.database in (None, "", ":memory:"):
        return
    raw = engine.raw_connection()
    try:
        raw.driver_connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
    finally:
        raw.close()


def checkpoint_if_large(engine: Engine, limit_bytes: int) -> bool:
    """SQLite: when the write-ahead log has grown past ``limit_bytes``, copy it into the
    database and truncate it. Several processes landing at once always keep one
    transaction open, so SQLite's automatic (passive) checkpoints never get to reset
    the log, and it would grow until the disk is full. Returns whether it ran."""
    if engine.dialect.name != "sqlite":
        return False
    db = engine.url.database
    if not db or db == ":memory:":
        return False
    try:
        size = Path(db + "-wal").stat().st_size
    except FileNotFoundError:
        return False
    if size <= limit_bytes:
        return False
    raw = engine.raw_connection()
    try:  # autocommit connection (isolation_level None): the checkpoint runs outside a transaction
        raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        raw.close()
    log.info("SQLite write-ahead log was %.0f MB; checkpointed and truncated", size / 2**20)
    return True


def get_engine(settings: HubSettings | None = None, *, migrate: bool = True) -> Engine:
    """The engine for the configured database, migrated to the newest schema.

    ``migrate=False`` is for worker processes whose parent has just migrated (importing
    Alembic costs each of them about a second)."""
    settings = settings or get_settings()
    url = settings.db_url
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            engine = make_engine(url)
            try:
                if migrate:
                    upgrade(engine)
            except Exception as exc:  # alembic/driver errors vary; say what to check
                raise DatabaseError(
                    f"could not open or migrate the hub database ({engine.url.render_as_string(hide_password=True)}): "
                    f"{exc}. Check HUB_DATABASE_URL and that the server answers."
                ) from exc
            _engines[url] = engine
    return engine
