"""Wire record → staging row, driven by the declarative staging spec.

Each field kind has one converter returning ``(columns, issue)``; a value that cannot be
understood becomes null in its column and an issue code (``field:issue``), never an
exception — the record is still landed and quality checks decide what to do with it.
Converters are plain functions over hashable inputs, and the expensive ones cache.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

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

__all__ = ["row_builder"]

Out = list[tuple[str, Any]]


def _empty(v: Any) -> bool:  # noqa: ANN401
    return v is None or (isinstance(v, str) and not v.strip())


def _issue(code: str | None) -> str | None:
    return None if code in (None, "empty") else code


@lru_cache(maxsize=1 << 20)
def _id_card(v: str) -> tuple[str | None, str | None, str | None]:
    r = normalize_id_card(v)
    return r.value, r.cleaned, r.issue


def _int(v: Any) -> tuple[int | None, str | None]:  # noqa: ANN401
    if isinstance(v, bool):
        return None, "bad_format"
    if isinstance(v, int):
        return v, None
    try:
        f = float(str(v).strip())
    except ValueError:
        return None, "bad_format"
    return (int(f), None) if f.is_integer() else (None, "bad_format")


def _decimal(v: Any) -> tuple[Decimal | None, str | None]:  # noqa: ANN401
    try:
        d = Decimal(str(v).strip())
    except InvalidOperation:
        return None, "bad_format"
    return (d, None) if d.is_finite() else (None, "bad_format")


def _converter(f: Field) -> Callable[[Any], tuple[Out, str | None]]:  # noqa: C901, PLR0911
    n = f.name
    match f.kind:
        case "id_card":
            def conv(v: Any) -> tuple[Out, str | None]:  # noqa: ANN401
                if _empty(v):
                    return [(n, None), (f"{n}_cleaned", None)], None
                value, cleaned, issue = _id_card(str(v))
                return [(n, value), (f"{n}_cleaned", cleaned)], issue
            return conv
        case "masked_id":
            def conv(v: Any) -> tuple[Out, str | None]:  # noqa: ANN401
                if _empty(v):
                    return [(f"{n}_prefix", None), (f"{n}_suffix", None)], None
                p, s = masked_id_parts(str(v))
                return [(f"{n}_prefix", p), (f"{n}_suffix", s)], None if p else "bad_format"
            return conv
        case "week":
            def conv(v: Any) -> tuple[Out, str | None]:  # noqa: ANN401
                if _empty(v):
                    return [(n, None), (f"{n}_start", None)], None
                monday, issue = parse_iso_week(str(v))
                return [(n, str(v).strip()[:10] if monday else None), (f"{n}_start", monday)], _issue(issue)
            return conv
        case _:
            simple = _SIMPLE[f.kind]
            length = f.length

            def conv(v: Any) -> tuple[Out, str | None]:  # noqa: ANN401
                if _empty(v):
                    return [(n, None)], None
                value, issue = simple(v)
                if isinstance(value, str) and len(value) > length and f.kind == "str":
                    value, issue = value[:length], "truncated"
                return [(n, value)], issue
            return conv


def _via(fn: Callable[[Any], Any]) -> Callable[[Any], tuple[Any, str | None]]:  # noqa: ANN401
    """Adapt a normaliser returning a value (None = not understood) to (value, issue)."""
    def conv(v: Any) -> tuple[Any, str | None]:  # noqa: ANN401
        out = fn(v)
        return out, None if out is not None else "bad_format"
    return conv


def _pair(fn: Callable[[str], tuple[Any, str | None]]) -> Callable[[Any], tuple[Any, str | None]]:  # noqa: ANN401
    def conv(v: Any) -> tuple[Any, str | None]:  # noqa: ANN401
        value, issue = fn(v if isinstance(v, (str, int)) and not isinstance(v, bool) else str(v))
        return value, _issue(issue)
    return conv


_SIMPLE: dict[str, Callable[[Any], tuple[Any, str | None]]] = {
    "str": lambda v: (str(v).strip(), None),
    "text": lambda v: (str(v).strip(), None),
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


class RowBuilder:
    """Builds the typed columns and the issue list of one resource's staging rows."""

    def __init__(self, spec: StagingSpec) -> None:
        self.spec = spec
        self._fields = [(f.wire, f.name, _converter(f)) for f in spec.fields]

    def __call__(self, rec: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
        row: dict[str, Any] = {}
        issues: list[str] = []
        for wire, name, conv in self._fields:
            cols, issue = conv(rec.get(wire))
            row.update(cols)
            if issue:
                issues.append(f"{name}:{issue}")
        return row, " ".join(issues) if issues else None


@lru_cache(maxsize=None)
def row_builder(platform: str, resource: str) -> RowBuilder:
    return RowBuilder(STAGING[(platform, resource)])
