"""Wire record → staging row, driven by the declarative staging spec.

Each field kind has one converter returning ``(values, issue)`` — one value per staging
column the field yields. A value that cannot be understood becomes null and an issue code
(``field:issue``), never an exception: the record is still landed and the quality checks
decide what to do with it. Converters are plain functions; the expensive ones cache.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from functools import cache, lru_cache
from typing import Any

from sqlalchemy.engine import Dialect

from landing.bulk import bind_processor
from landing.normalize import (
    masked_id_parts,
    normalize_area_code,
    normalize_id_card,
    normalize_name,
    normalize_phone,
    parse_bool,
    parse_date,
    parse_fen,
    parse_gender,
    parse_iso_week,
    parse_month,
    parse_yuan,
)
from schemas.staging import STAGING, Field, StagingSpec

__all__ = ["RowBuilder", "row_builder"]

Conv = Callable[[Any], tuple[tuple[Any, ...], str | None]]
_NONE1: tuple[None] = (None,)
_NONE2: tuple[None, None] = (None, None)


def _empty(v: Any) -> bool:
    return v is None or v == "" or (v.__class__ is str and not v.strip())


def _issue(code: str | None) -> str | None:
    return None if code in (None, "empty") else code


# A person's number recurs across resources (meals, deposits…); 2^18 entries ≈ 60 MB.
@lru_cache(maxsize=1 << 18)
def _id_card(v: str) -> tuple[tuple[str | None, str | None], str | None]:
    r = normalize_id_card(v)
    return (r.value, r.cleaned), _issue(r.issue)


def _int(v: Any) -> tuple[int | None, str | None]:
    if v.__class__ is int:
        return v, None
    if isinstance(v, bool):
        return None, "bad_format"
    try:
        f = float(str(v).strip())
    except ValueError:
        return None, "bad_format"
    return (int(f), None) if f.is_integer() else (None, "bad_format")


def _decimal(v: Any) -> tuple[Decimal | None, str | None]:
    try:
        d = Decimal(str(v).strip())
    except InvalidOperation:
        return None, "bad_format"
    return (d, None) if d.is_finite() else (None, "bad_format")


def _via(fn: Callable[[Any], Any]) -> Callable[[Any], tuple[Any, str | None]]:
    """Adapt a normaliser returning a value (None = not understood) to (value, issue)."""
    def conv(v: Any) -> tuple[Any, str | None]:
        out = fn(v)
        return out, None if out is not None else "bad_format"
    return conv


def _pair(fn: Callable[[Any], tuple[Any, str | None]]) -> Callable[[Any], tuple[Any, str | None]]:
    def conv(v: Any) -> tuple[Any, str | None]:
        if v.__class__ is not str and v.__class__ is not int:
            v = str(v)
        value, issue = fn(v)
        return value, _issue(issue)
    return conv


_SIMPLE: dict[str, Callable[[Any], tuple[Any, str | None]]] = {
    "int": _int,
    "decimal": _decimal,
    "bool": _via(parse_bool),
    "gender": _via(parse_gender),
    "date": _pair(parse_date),
    "month": _pair(parse_month),
    "yuan": _pair(parse_yuan),
    "fen": _pair(parse_fen),
    "name": _via(normalize_name),
    "phone": _via(normalize_phone),
    "area": _pair(normalize_area_code),
}


def _converter(f: Field) -> Conv:
    match f.kind:
        case "id_card":
            def conv(v: Any) -> tuple[tuple[Any, ...], str | None]:
                if _empty(v):
                    return _NONE2, None
                return _id_card(v if v.__class__ is str else str(v))
            return conv
        case "masked_id":
            def conv(v: Any) -> tuple[tuple[Any, ...], str | None]:
                if _empty(v):
                    return _NONE2, None
                p, s = masked_id_parts(str(v))
                return (p, s), None if p else "bad_format"
            return conv
        case "week":
            def conv(v: Any) -> tuple[tuple[Any, ...], str | None]:
                if _empty(v):
                    return _NONE2, None
                monday, issue = parse_iso_week(str(v))
                return (str(v).strip()[:10] if monday else None, monday), _issue(issue)
            return conv
        case "str" | "text":  # the commonest kind, so without the generic wrapper
            length = f.length if f.kind == "str" else None

            def conv(v: Any) -> tuple[tuple[Any, ...], str | None]:
                if v is None:
                    return _NONE1, None
                t = v.strip() if v.__class__ is str else str(v).strip()
                if not t:
                    return _NONE1, None
                if length is not None and len(t) > length:
                    return (t[:length],), "truncated"
                return (t,), None
            return conv
        case _:
            simple = _SIMPLE[f.kind]

            def conv(v: Any) -> tuple[tuple[Any, ...], str | None]:
                if v is None or v == "" or (v.__class__ is str and not v.strip()):
                    return _NONE1, None
                value, issue = simple(v)
                return (value,), issue
            return conv


#: Per field, at most this many distinct raw values are remembered (then the memo starts
#: afresh). Most fields repeat a few values (dates, codes, amounts, a person's ID number
#: across resources), so a hit is a dict lookup instead of a normaliser call.
MEMO_LIMIT = 1 << 16
#: After this many values, a field whose values mostly differ (addresses, record-level
#: numbers) stops being remembered: the memo would cost memory and save nothing.
MEMO_PROBE = 20_000


class _Field:
    __slots__ = ("conv", "lengths", "memo", "misses", "name", "procs", "wire")

    def __init__(self, wire: str, name: str, conv: Conv, procs: list | None, lengths: list | None) -> None:
        self.wire, self.name, self.conv, self.procs, self.lengths = wire, name, conv, procs, lengths
        self.memo: dict | None = {}
        self.misses = 0


class RowBuilder:
    """The typed staging values of one resource's records, in ``columns`` order.

    With a ``dialect``, values come back already converted by the staging columns' bind
    processors for that database (dates as text on SQLite, …), and each field remembers
    what it made of the raw values it saw: converting, issue and binding happen once per
    distinct value, not once per record (fields whose values rarely repeat are not
    remembered).
    """

    def __init__(self, spec: StagingSpec, dialect: Dialect | None = None) -> None:
        self.spec = spec
        self.columns: tuple[str, ...] = tuple(c.name for f in spec.fields for c in f.columns())
        self._fields: list[_Field] = []
        self._rows = 0  # records converted, up to MEMO_PROBE
        for f in spec.fields:
            cols = f.columns()
            procs = [bind_processor(c.type, dialect) if dialect is not None else None for c in cols]
            # a normalised value longer than its column (a name of 200 characters, a
            # "number" of garbage) is cut to fit and flagged: PostgreSQL would refuse the
            # whole chunk, again at every re-read ("str" fields do this themselves)
            lengths = [getattr(c.type, "length", None) for c in cols] if f.kind != "str" else []
            self._fields.append(_Field(f.wire, f.name, _converter(f), procs if any(procs) else None,
                                       lengths if any(lengths) else None))

    @staticmethod
    def _make(f: _Field, v: Any) -> tuple[tuple[Any, ...], str | None]:
        vals, issue = f.conv(v)
        if f.lengths is not None and any(x.__class__ is str and n and len(x) > n for n, x in zip(f.lengths, vals)):
            vals = tuple(x[:n] if x.__class__ is str and n and len(x) > n else x for n, x in zip(f.lengths, vals))
            issue = issue or "truncated"
        if f.procs is not None:
            vals = tuple(p(x) if p is not None and x is not None else x for p, x in zip(f.procs, vals))
        return vals, (f"{f.name}:{issue}" if issue else None)

    def values(self, rec: dict[str, Any]) -> tuple[list[Any], str | None]:
        out: list[Any] = []
        issues: list[str] | None = None
        get = rec.get
        make = self._make
        if self._rows < MEMO_PROBE:
            self._rows += 1
            if self._rows == MEMO_PROBE:
                for f in self._fields:
                    if f.misses > MEMO_PROBE // 2:
                        f.memo = None
        for f in self._fields:
            v = get(f.wire)
            memo = f.memo
            if memo is None:
                hit = make(f, v)
            else:
                # bool and int (and float) values are equal when they hash alike (True == 1):
                # only strings (and None) are remembered under themselves
                key = v if v.__class__ is str or v is None else (v.__class__, v)
                try:
                    hit = memo[key]
                except KeyError:
                    hit = make(f, v)
                    f.misses += 1
                    if len(memo) >= MEMO_LIMIT:
                        memo.clear()
                    memo[key] = hit
                except TypeError:  # unhashable (a list or an object where a value belongs)
                    hit = make(f, v)
            out.extend(hit[0])
            if hit[1]:
                if issues is None:
                    issues = []
                issues.append(hit[1])
        return out, " ".join(issues) if issues else None

    def __call__(self, rec: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
        vals, issues = self.values(rec)
        return dict(zip(self.columns, vals, strict=True)), issues


@cache
def _row_builder(platform: str, resource: str, dialect: Dialect | None) -> RowBuilder:
    return RowBuilder(STAGING[(platform, resource)], dialect)


def row_builder(platform: str, resource: str, dialect: Dialect | None = None) -> RowBuilder:
    """The resource's row builder; with ``dialect``, one that returns bound values."""
    return _row_builder(platform, resource, dialect)
