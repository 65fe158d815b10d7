"""Multi-row writes through the DBAPI's ``executemany``, with SQLAlchemy's own bind
processors computed once per column.

SQLAlchemy's ``conn.execute(insert, list_of_dicts)`` builds parameters row by row and
costs more than the database's own work at millions of rows; here rows are tuples in a
fixed column order and only the columns whose type needs conversion on this engine
(dates on SQLite, our UTC timestamps, …) are touched. The SQL is the same portable
``INSERT … ON CONFLICT`` on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Select, Table
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeEngine

__all__ = ["Writer", "bind_processor", "indexes_built_after", "raw_rows", "result_processors", "writer"]


def bind_processor(type_: TypeEngine, dialect: Dialect) -> Callable[[Any], Any] | None:
    """What SQLAlchemy applies to a value of ``type_`` before handing it to ``dialect``'s
    driver: the processor of the type's implementation for that dialect. The generic
    type's own ``bind_processor`` is not it: a ``Date``'s is None (SQLite's date type
    formats the text; without it sqlite3's default adapter would, which Python 3.12
    deprecates), and a ``Numeric``'s turns decimals into floats even where the driver
    takes decimals (psycopg)."""
    return type_.dialect_impl(dialect).bind_processor(dialect)


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class Writer:
    """INSERT (optionally ON CONFLICT …) of tuples into ``table``'s ``columns``."""

    def __init__(self, dialect: Dialect, table: Table, columns: Sequence[str], conflict: str = "",
                 prebound: Sequence[str] = ()) -> None:
        self.columns = tuple(columns)
        self.table = table.name
        self.temp = f"tmp_{table.name}"
        self.conflict = conflict
        mark = "?" if dialect.paramstyle == "qmark" else "%s"
        self.sql = (f"INSERT INTO {_q(table.name)} ({', '.join(_q(c) for c in self.columns)}) "
                    f"VALUES ({', '.join([mark] * len(self.columns))}) {conflict}")
        # ``prebound`` columns arrive already converted (one value shared by two tables).
        procs = [(i, bind_processor(table.c[c].type, dialect)) for i, c in enumerate(self.columns)
                 if c not in prebound]
        self._procs: list[tuple[int, Callable[[Any], Any]]] = [(i, p) for i, p in procs if p is not None]

    def prepare(self, rows: Iterable[Sequence[Any]]) -> list[tuple[Any, ...]]:
        """The rows as tuples (what the drivers' ``executemany`` takes), each column's
        bind processor applied."""
        if not self._procs:
            return [r if r.__class__ is tuple else tuple(r) for r in rows]
        out = []
        procs = self._procs
        for r in rows:
            r = list(r)
            for i, p in procs:
                v = r[i]
                if v is not None:
                    r[i] = p(v)
            out.append(tuple(r))
        return out

    def write(self, conn: Connection, rows: Iterable[Sequence[Any]]) -> int:
        return self.write_prepared(conn, self.prepare(rows))

    def write_prepared(self, conn: Connection, prepared: list[tuple[Any, ...]]) -> int:
        """Write rows already converted by :meth:`prepare` (so that the conversion can run
        before a transaction takes the database's write lock). Returns how many rows
        were inserted or changed (a row the conflict clause skipped counts none)."""
        if not prepared:
            return 0
        if conn.dialect.name == "postgresql":
            return self._copy(conn, prepared)
        return conn.exec_driver_sql(self.sql, prepared).rowcount

    def _copy(self, conn: Connection, rows: list[tuple[Any, ...]]) -> int:
        """PostgreSQL: COPY into a session-temporary twin of the table, then one
        INSERT … SELECT with the same conflict clause."""
        cols = ", ".join(_q(c) for c in self.columns)
        conn.exec_driver_sql(f"CREATE TEMP TABLE IF NOT EXISTS {_q(self.temp)} "
                             f"(LIKE {_q(self.table)} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS")
        raw = conn.connection.dbapi_connection
        with raw.cursor() as cur:  # type: ignore[union-attr]
            with cur.copy(f"COPY {_q(self.temp)} ({cols}) FROM STDIN") as copy:
                for r in rows:
                    copy.write_row(r)
        written = conn.exec_driver_sql(f"INSERT INTO {_q(self.table)} ({cols}) SELECT {cols} FROM {_q(self.temp)} "
                                       f"{self.conflict}").rowcount
        conn.exec_driver_sql(f"DELETE FROM {_q(self.temp)}")
        return written


def raw_rows(conn: Connection, stmt: Select) -> Iterator[tuple[Any, ...]]:
    """The rows of a select, as the DBAPI cursor returns them (plain tuples, no result
    processing): reading the registry's million current links this way takes a third of
    the time. Values come as the driver gives them — SQLite returns dates, timestamps and
    booleans as text and integers; :func:`result_processors` says what turns them into
    the columns' Python values, for a caller to apply (once per distinct value, where
    values repeat). The select's parameters go to the driver as they are: strings and
    numbers only (a value that needs a bind processor — a date on SQLite — is refused)."""
    compiled = stmt.compile(dialect=conn.dialect)
    params = compiled.construct_params()
    for name, bind in compiled.binds.items():
        if name in params and bind_processor(bind.type, conn.dialect) is not None:
            raise ValueError(f"raw_rows passes parameters as they are; {name} ({bind.type}) needs converting")
    cur = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        if not params:
            cur.execute(str(compiled))
        elif compiled.positional:
            cur.execute(str(compiled), [params[k] for k in compiled.positiontup])  # type: ignore[union-attr]
        else:
            cur.execute(str(compiled), params)
        while batch := cur.fetchmany(10_000):
            yield from batch
    finally:
        cur.close()


def result_processors(conn: Connection, stmt: Select) -> list[Callable[[Any], Any] | None]:
    """Per selected column of ``stmt``, the function SQLAlchemy applies to a value the
    driver returned on this engine (``None``: the value is used as it is)."""
    return [c.type.dialect_impl(conn.dialect).result_processor(conn.dialect, None) for c in stmt.selected_columns]


@lru_cache(maxsize=256)
def _cached(dialect_name: str, dialect: Dialect, table: Table, columns: tuple[str, ...], conflict: str,
            prebound: tuple[str, ...]) -> Writer:
    return Writer(dialect, table, columns, conflict, prebound)


def writer(conn: Connection | Dialect, table: Table, columns: Sequence[str], conflict: str = "",
           prebound: Sequence[str] = ()) -> Writer:
    dialect = conn if isinstance(conn, Dialect) else conn.dialect
    return _cached(dialect.name, dialect, table, tuple(columns), conflict, tuple(prebound))


def upsert_latest(table: Table, key: str = "record_id") -> str:
    """ON CONFLICT clause: replace the row when the incoming version is not older and is
    not the very version the row holds already (same ``version_hash``)."""
    cols = [c.name for c in table.columns if c.name != key]
    sets = ", ".join(f"{_q(c)} = excluded.{_q(c)}" for c in cols)
    t = _q(table.name)
    return (f"ON CONFLICT ({_q(key)}) DO UPDATE SET {sets} "
            f"WHERE excluded.{_q('updated_at')} >= {t}.{_q('updated_at')} "
            f"AND excluded.{_q('version_hash')} <> {t}.{_q('version_hash')}")


@contextmanager
def indexes_built_after(conn: Connection, table: Table) -> Iterator[None]:
    """Fill ``table`` without its secondary indexes, and build them at the end: one sort
    each instead of a keyed insert per row into each, which at millions of rows reaches
    pages all over indexes far larger than the page cache. For a table that was empty
    (a registry's first release): inside the transaction the indexes are gone, and on
    PostgreSQL readers of the table wait until it commits. Its primary key stays;
    rows in its order cost the least."""
    indexes = sorted(table.indexes, key=lambda ix: ix.name or "")
    for ix in indexes:
        ix.drop(conn)
    yield
    for ix in indexes:
        ix.create(conn)
