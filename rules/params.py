"""Policy parameters as effective-dated data (``rules/policy.yaml``).

The file is what policy staff read and change; :func:`load_params` validates it (a value
that cannot be understood is an error that names the parameter and the entry), and
:func:`store_params` writes it into ``policy_param``, from which the rules' SQL picks the
value in force on the date it judges (a district's own value before the city's).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import Connection, delete, insert

from rules.errors import RulesError
from schemas.findings import PolicyParam

__all__ = ["DEFAULT_FILE", "END_OF_TIME", "Param", "PolicyParams", "load_params", "store_params"]

DEFAULT_FILE = Path(__file__).with_name("policy.yaml")
#: ``to`` of a value still in force
END_OF_TIME = date(9999, 12, 31)

#: Every parameter the rules read, with the keys it must have (None: no key).
REQUIRED: dict[str, tuple[str, ...] | None] = {
    "elder_age": None,
    "card_min_deposit": ("1", "2"),
    "card_subsidy": ("1", "2"),
    "meal_subsidy": None,
    "meal_min_age": None,
    "delivery_subsidy": None,  # bands: any keys
    "delivery_min_level": None,
    "delivery_max_level": None,
    "time_bank_weekly_hours": None,
    "support_min_level": None,
}


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    value: Decimal
    valid_from: date = Field(alias="from")
    valid_to: date = Field(default=END_OF_TIME, alias="to")
    district: str | None = None
    key: str | None = None
    upper: Decimal | None = None
    source: str
    assumed: bool = False

    @field_validator("district")
    @classmethod
    def _district(cls, v: str | None) -> str | None:
        if v is not None and not (len(v) == 6 and v.isascii() and v.isdigit()):
            raise ValueError(f"district must be a 6-digit area code, got {v!r}")
        return v


class _Param(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str
    values: list[_Entry]


@dataclass(frozen=True)
class Param:
    name: str
    value: Decimal
    valid_from: date
    valid_to: date
    district: str | None
    key: str | None
    upper: Decimal | None
    source: str
    assumed: bool


class PolicyParams:
    """The validated parameters, with a lookup of the value in force."""

    def __init__(self, entries: list[Param], descriptions: dict[str, str], path: Path) -> None:
        self.entries = entries
        self.descriptions = descriptions
        self.path = path

    def value(self, name: str, on: date, district: str | None = None, key: str | None = None) -> Decimal | None:
        """The value of ``name`` in force on ``on`` (the district's own before the city's)."""
        best: Param | None = None
        for p in self.entries:
            if p.name != name or p.key != key or not (p.valid_from <= on <= p.valid_to):
                continue
            if p.district == district:
                return p.value
            if p.district is None:
                best = p
        return best.value if best else None

    def uncovered(self, start: date, end: date) -> list[str]:
        """Parameters with no city-wide value for some day between ``start`` and ``end``."""
        out = []
        for name in REQUIRED:
            spans = sorted((p.valid_from, p.valid_to) for p in self.entries if p.name == name and p.district is None)
            day = start
            for a, b in spans:
                if a > day:
                    break
                if b >= day:
                    day = date.fromordinal(min(b.toordinal() + 1, END_OF_TIME.toordinal()))
                if day > end:
                    break
            if day <= end:
                out.append(f"{name} from {day.isoformat()}")
        return out


def load_params(path: Path | str | None = None) -> PolicyParams:
    path = Path(path) if path else DEFAULT_FILE
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise RulesError(f"cannot read the policy parameters {path}: {exc}") from exc
    if not isinstance(raw, dict):
        raise RulesError(f"{path}: expected a mapping of parameter names, got {type(raw).__name__}")
    entries: list[Param] = []
    descriptions = {}
    for name, body in raw.items():
        try:
            param = _Param.model_validate(body)
        except ValidationError as exc:
            raise RulesError(f"{path}: parameter {name!r} is not understood: {exc}") from exc
        descriptions[name] = param.description
        for i, e in enumerate(param.values):
            if e.valid_to < e.valid_from:
                raise RulesError(f"{path}: {name} value {i + 1}: 'to' {e.valid_to} is before 'from' {e.valid_from}")
            entries.append(Param(name, e.value, e.valid_from, e.valid_to, e.district, e.key, e.upper, e.source,
                                 e.assumed))
    _check_overlaps(entries, path)
    missing = [n for n in REQUIRED if n not in descriptions]
    if missing:
        raise RulesError(f"{path}: the rules need these parameters too: {', '.join(missing)}")
    for name, keys in REQUIRED.items():
        if keys:
            have = {p.key for p in entries if p.name == name}
            if not set(keys) <= have:
                raise RulesError(f"{path}: {name} needs a value for each of the keys {', '.join(keys)}")
    return PolicyParams(entries, descriptions, path)


def _check_overlaps(entries: Iterable[Param], path: Path) -> None:
    seen: dict[tuple, list[Param]] = {}
    for p in entries:
        for q in seen.setdefault((p.name, p.district, p.key), []):
            if p.valid_from <= q.valid_to and q.valid_from <= p.valid_to:
                where = f" in {p.district}" if p.district else ""
                key = f" [{p.key}]" if p.key else ""
                raise RulesError(f"{path}: two values of {p.name}{key}{where} are in force at once "
                                 f"({q.valid_from}..{q.valid_to} and {p.valid_from}..{p.valid_to})")
        seen[(p.name, p.district, p.key)].append(p)


def store_params(conn: Connection, params: PolicyParams) -> None:
    """Replace ``policy_param`` with ``params`` (inside the caller's transaction)."""
    conn.execute(delete(PolicyParam))
    conn.execute(insert(PolicyParam), [
        {"name": p.name, "district_code": p.district, "key": p.key, "valid_from": p.valid_from,
         "valid_to": p.valid_to, "value": p.value, "upper": p.upper} for p in params.entries])
