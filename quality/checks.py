"""The kinds of check a suite is made of.

A check is declared once and used twice, so that the two can never disagree:

* :meth:`Check.expectation` — the Great Expectations expectation that validates it on the
  database (GX's SQL data sources, SQLite or PostgreSQL), for the pass rates, the
  history and the Data Docs;
* :meth:`Check.failing` — the same condition as an SQL predicate over the staging table,
  with which the hub quarantines the failing rows set-based (``INSERT … SELECT``).

Row checks look at the versions waiting for the gate (pending rows, tombstones
excluded); table checks (freshness, volume) at everything live in the staging table.

Every check has a ``severity`` and a ``threshold``: the largest share of failing rows
tolerated. Beyond it a ``warn`` check warns and a ``block`` check blocks the resource
(nothing of it reaches the registry this run) — provided at least ten rows fail; fewer
only warn (``quality.validate.BLOCK_MIN_FAILED``). ``quarantine`` holds the failing rows
themselves back, whatever the share: for faults that leave a row unusable.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, ClassVar

from sqlalchemy import String, Table, and_, case, cast, exists, func, not_, or_, select
from sqlalchemy.sql.elements import ColumnElement

__all__ = [
    "AgreesWithId", "Between", "Check", "CheckContext", "DateValid", "Flagged", "Fresh",
    "IdPresent", "IdValid", "InSet", "NotFuture", "NotNull", "References", "UniqueInDelivery", "Volume",
]


@dataclass(frozen=True)
class CheckContext:
    """What a check may depend on besides the rows: the platform's clock and the past."""

    as_of: datetime | None  # the platform's server time of the newest read (UTC)
    previous_live: int | None = None  # live rows at the previous validation
    live: int | None = None  # live rows now
    tables: dict[tuple[str, str], Table] = field(default_factory=dict)  # other staging tables
    dialect: Any = None  # the engine's dialect, to render the checks GX runs as SQL

    @property
    def local_date(self) -> date | None:
        """The platform's date (Asia/Shanghai) at ``as_of``: dates after it are in the future."""
        return (self.as_of + timedelta(hours=8)).date() if self.as_of else None


@dataclass(frozen=True, kw_only=True)
class Check:
    severity: str = "warn"
    threshold: float = 0.0
    #: A block check warns past ``threshold`` and blocks past ``block_at`` (default: the
    #: threshold itself) — for failures that are ordinary noise at a few percent (broken
    #: ID numbers, impossible dates) but a broken feed beyond.
    block_at: float | None = None
    quarantine: bool = False
    note: str = ""
    scope: ClassVar[str] = "row"

    def __post_init__(self) -> None:
        if self.severity not in ("warn", "block"):
            raise ValueError(f"{self.name}: severity must be warn or block, not {self.severity!r}")
        if not 0.0 <= self.threshold <= 1.0:
            raise ValueError(f"{self.name}: threshold is a share between 0 and 1")
        if self.block_at is not None and not (self.severity == "block" and self.threshold <= self.block_at <= 1.0):
            raise ValueError(f"{self.name}: block_at is for block checks, between the threshold and 1")

    @property
    def block_share(self) -> float:
        """The share of failing rows past which a block check blocks."""
        return self.threshold if self.block_at is None else self.block_at

    @property
    def name(self) -> str:
        raise NotImplementedError

    @property
    def column(self) -> str | None:
        """The column whose value a quarantine row records."""
        return None

    def applies(self, ctx: CheckContext) -> bool:
        return True

    def failing(self, t: Table, ctx: CheckContext) -> ColumnElement[bool]:
        raise NotImplementedError

    def expectation(self, t: Table, ctx: CheckContext, pending: ColumnElement[bool]) -> Any:
        """The GX expectation; ``pending`` selects the rows under validation (for the
        checks that GX runs as a query of their own)."""
        raise NotImplementedError

    def describe(self) -> str:
        return self.note or self.name

    def _meta(self) -> dict[str, Any]:
        return {"check": self.name, "severity": self.severity, "threshold": self.threshold,
                "block_at": self.block_share, "quarantine": self.quarantine}


def _gxe():
    from great_expectations import expectations

    return expectations


@dataclass(frozen=True, kw_only=True)
class _ColumnCheck(Check):
    """A check of one column, named ``<column>.<label>``."""

    col: str
    label: str = ""

    @property
    def name(self) -> str:
        return f"{self.col}.{self.label}"

    @property
    def column(self) -> str:
        return self.col


@dataclass(frozen=True, kw_only=True)
class InSet(_ColumnCheck):
    """A coded column holds one of the allowed codes (nulls are for completeness checks)."""

    values: tuple[Any, ...]
    label: str = "in_set"

    def failing(self, t: Table, ctx: CheckContext) -> ColumnElement[bool]:
        c = t.c[self.col]
        return and_(c.is_not(None), c.not_in(self.values))

    def expectation(self, t: Table, ctx: CheckContext, pending: ColumnElement[bool]) -> Any:
        return _gxe().ExpectColumnValuesToBeInSet(column=self.col, value_set=list(self.values),
                                                  meta=self._meta())


@dataclass(frozen=True, kw_only=True)
class Between(_ColumnCheck):
    """A number (or date) lies within bounds (either may be open)."""

    low: Any = None
    high: Any = None
    label: str = "in_range"

    def bounds(self, ctx: CheckContext) -> tuple[Any, Any]:
        return self.low, self.high

    def failing(self, t: Table, ctx: CheckContext) -> ColumnElement[bool]:
        c = t.c[self.col]
        low, high = self.bounds(ctx)
        out = [c < low] if low is not None else []
        if high is not None:
            out.append(c > high)
        return and_(c.is_not(None), or_(*out))

    def expectation(self, t: Table, ctx: CheckContext, pending: ColumnElement[bool]) -> Any:
        low, high = self.bounds(ctx)
        return _gxe().ExpectColumnValuesToBeBetween(column=self.col, min_value=low, max_value=high,
                                                    meta=self._meta())


@dataclass(frozen=True, kw_only=True)
class NotFuture(Between):
    """A date is not after the platform's own date (``as_of``, never the hub's clock)."""

    label: str = "not_future"

    def applies(self, ctx: CheckContext) -> bool:
        return ctx.as_of is not None

    def bounds(self, ctx: CheckContext) -> tuple[Any, Any]:
        return None, ctx.local_date


@dataclass(frozen=True, kw_only=True)
class NotNull(_ColumnCheck):
    """Completeness: the column has a value (the normalisers leave null what they could
    not read, so this also counts unreadable values)."""

    label: str = "complete"

    def failing(self, t: Table, ctx: CheckContext) -> ColumnElement[bool]:
        return t.c[self.col].is_(None)

    def expectation(self, t: Table, ctx: CheckContext, pending: ColumnElement[bool]) -> Any:
        return _gxe().ExpectColumnValuesToNotBeNull(column=self.col, meta=self._meta())


@dataclass(frozen=True, kw_only=True)
class Flagged(Check):
    """The normaliser raised one of ``codes`` on ``field`` while landing the row (the
    ``issues`` column lists ``field:code`` words)."""

    field_name: str
    codes: tuple[str, ...]
    label: str = "valid"
    value_col: str | None = None

    @property
    def name(self) -> str:
        return f"{self.field_name}.{self.label}"

    @property
    def column(self) -> str:
        return self.value_col or self.field_name

    def patterns(self) -> list[str]:
        words = [f"{self.field_name}:{c}" for c in self.codes]
        return [p for w in words for p in (f"{w}", f"{w} %", f"% {w}", f"% {w} %")]

    def failing(self, t: Table, ctx: CheckContext) -> ColumnElement[bool]:
        c = t.c.issues
        return and_(c.is_not(None), or_(*(c.like(p) for p in self.patterns())))

    def expectation(self, t: Table, ctx: CheckContext, pending: ColumnElement[bool]) -> Any:
        return _gxe().ExpectColumnValuesToNotMatchLikePatternList(
            column="issues", like_pattern_list=self.patterns(), meta=self._meta())


def IdValid(col: str = "id_card_no", **kw: Any) -> Flagged:  # noqa: N802 — reads as a check
    """The ID number has the GB 11643 form and check digit and a real birth date."""
    return Flagged(field_name=col, codes=("bad_format", "bad_checksum", "bad_date"), value_col=f"{col}_cleaned",
                   **kw)


def DateValid(col: str, **kw: Any) -> Flagged:  # noqa: N802
    """The date exists (no 30 February) and has the platform's format."""
    return Flagged(field_name=col, codes=("bad_format", "invalid_date"), **kw)


@dataclass(frozen=True, kw_only=True)
class _SqlCheck(Check):
    """A check GX runs as a query of its own (``UnexpectedRowsExpectation``): for
    conditions across columns or tables. The query returns record ids only, so no
    personal data reaches the Data Docs."""

    def expectation(self, t: Table, ctx: CheckContext, pending: ColumnElement[bool]) -> Any:
        # GX puts the batch's own query in place of {batch}, aliased "subselect".
        # The query is rendered whole, so that subqueries correlate with the outer row,
        # then its FROM is pointed at the batch.
        b = t.alias("subselect")
        q = select(b.c.record_id).where(self.failing(b, ctx))
        sql = str(q.compile(dialect=ctx.dialect, compile_kwargs={"literal_binds": True}))
        sql = sql.replace("{", "{{").replace("}", "}}")
        outer = f"FROM {ctx.dialect.identifier_preparer.format_table(t)} AS subselect"
        if sql.count(outer) != 1:
            raise ValueError(f"{self.name}: cannot point the query at the batch: {sql}")
        query = sql.replace(outer, "FROM {batch}")
        return _gxe().UnexpectedRowsExpectation(unexpected_rows_query=query, description=self.describe(),
                                                meta=self._meta())


@dataclass(frozen=True, kw_only=True)
class IdPresent(NotNull):
    """The record carries an ID number at all."""

    col: str = "id_card_no_cleaned"

    @property
    def name(self) -> str:
        return "id_card_no.present"


@dataclass(frozen=True, kw_only=True)
class AgreesWithId(_SqlCheck):
    """The record's birth date or gender agrees with what its (valid) ID number encodes:
    digits 7–14 are the birth date, digit 17 is odd for men."""

    what: str  # "birth_date" or "gender"
    id_col: str = "id_card_no"

    @property
    def name(self) -> str:
        return f"{self.what}.agrees_with_id"

    @property
    def column(self) -> str:
        return self.what

    def failing(self, t: Table, ctx: CheckContext) -> ColumnElement[bool]:
        idc, c = t.c[self.id_col], t.c[self.what]
        if self.what == "birth_date":
            stated = func.replace(cast(c, String), "-", "")
            return and_(idc.is_not(None), c.is_not(None), stated != func.substr(idc, 7, 8))
        encoded = case((func.substr(idc, 17, 1).in_(("1", "3", "5", "7", "9")), "M"), else_="F")
        return and_(idc.is_not(None), c.is_not(None), c != encoded)


@dataclass(frozen=True, kw_only=True)
class References(_SqlCheck):
    """Referential integrity: ``col`` points at an existing record of another resource."""

    col: str
    target: tuple[str, str]
    target_col: str = "record_id"
    label: str = "references"
    target_where: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (column, allowed values)

    @property
    def name(self) -> str:
        return f"{self.col}.{self.label}"

    @property
    def column(self) -> str:
        return self.col

    def applies(self, ctx: CheckContext) -> bool:
        return self.target in ctx.tables

    def failing(self, t: Table, ctx: CheckContext) -> ColumnElement[bool]:
        target = ctx.tables[self.target].alias("ref")
        conds = [target.c[self.target_col] == t.c[self.col], not_(target.c.deleted)]
        conds += [target.c[c].in_(vals) for c, vals in self.target_where]
        found = exists(select(1).select_from(target).where(*conds)).correlate_except(target)
        return and_(t.c[self.col].is_not(None), not_(found))


@dataclass(frozen=True, kw_only=True)
class Fresh(Check):
    """Freshness: the newest update time is no older than ``max_age`` before the
    platform's clock."""

    max_age: timedelta = timedelta(days=30)
    scope: ClassVar[str] = "table"

    @property
    def name(self) -> str:
        return "updated_at.fresh"

    def applies(self, ctx: CheckContext) -> bool:
        return ctx.as_of is not None and ctx.live != 0  # an empty feed has no newest update

    def cutoff(self, ctx: CheckContext) -> datetime:
        return (ctx.as_of - self.max_age).replace(tzinfo=None)  # staging stores naive UTC

    def expectation(self, t: Table, ctx: CheckContext, pending: ColumnElement[bool]) -> Any:
        cutoff: Any = self.cutoff(ctx)
        if ctx.dialect is not None and ctx.dialect.name == "sqlite":
            cutoff = cutoff.isoformat(sep=" ")  # SQLite keeps times as text; GX compares the text
        return _gxe().ExpectColumnMaxToBeBetween(column="updated_at", min_value=cutoff, meta=self._meta())


@dataclass(frozen=True, kw_only=True)
class Volume(Check):
    """Volume: the live rows have not fallen below ``min_share`` of what the previous
    validation saw (a feed that suddenly halves is suspicious)."""

    min_share: float = 0.5
    scope: ClassVar[str] = "table"

    @property
    def name(self) -> str:
        return "rows.volume"

    def applies(self, ctx: CheckContext) -> bool:
        return bool(ctx.previous_live)

    def minimum(self, ctx: CheckContext) -> int:
        return math.ceil(ctx.previous_live * self.min_share)

    def expectation(self, t: Table, ctx: CheckContext, pending: ColumnElement[bool]) -> Any:
        return _gxe().ExpectTableRowCountToBeBetween(min_value=self.minimum(ctx), meta=self._meta())


@dataclass(frozen=True, kw_only=True)
class UniqueInDelivery(Check):
    """Each record id appears once in what the platform delivered (for a bulk export that
    promises each resident once). Checked on the landed versions of the pending batches:
    two different versions of one record in one snapshot contradict each other. (A copy
    identical to a version landed before is not landed again, so such a repeat is not
    seen here; it is also harmless.)"""

    scope: ClassVar[str] = "delivery"

    @property
    def name(self) -> str:
        return "record_id.unique_in_delivery"

    def expectation(self, t: Table, ctx: CheckContext, pending: ColumnElement[bool]) -> Any:
        return _gxe().ExpectColumnValuesToBeUnique(column="record_id", meta=self._meta())
