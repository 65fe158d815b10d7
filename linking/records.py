"""The records the linker reads: every accepted, not withdrawn record of the
person-describing resources (REGISTRY.md), as one uniform :class:`LinkRecord`.

Read from the quality gate's ``acc_*`` tables, so a quarantined version or a blocked
batch never reaches the registry. Tombstoned records are not read: a withdrawn record is
unlinked.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from operator import attrgetter
from typing import Any

from sqlalchemy import Connection, select

from landing.bulk import raw_rows, result_processors
from landing.normalize import id_birth_date, id_gender
from schemas.staging import accepted_table

__all__ = ["ANCHORS", "PERSON_RESOURCES", "LinkRecord", "load_records"]

#: The resources whose records each describe one person (REGISTRY.md).
PERSON_RESOURCES: tuple[tuple[str, str], ...] = (
    ("public_security", "residents"),
    ("civil_affairs", "elders"),
    ("health", "family-doctor-contracts"),
    ("health", "death-certificates"),
    ("medical_insurance", "insured-persons"),
    ("medical_insurance", "ltc-enrolments"),
    ("property_mgmt", "service-orders"),
)
#: The resources that found persons: the registry holds everyone these know as an elder.
ANCHORS = frozenset({("public_security", "residents"), ("civil_affairs", "elders")})

# acc column -> LinkRecord attribute, per resource (only what identifies a person).
_COLUMNS: dict[tuple[str, str], dict[str, str]] = {
    ("public_security", "residents"): {
        "id_card_no": "id18", "id_card_no_cleaned": "id_clean", "name": "name", "gender": "gender",
        "birth_date": "birth", "district_code": "district", "address": "address",
        "registration_status": "ps_status", "death_date": "death_date"},
    ("civil_affairs", "elders"): {
        "id_card_no": "id18", "id_card_no_cleaned": "id_clean", "name": "name", "gender": "gender",
        "birth_date": "birth", "district_code": "district", "phone": "phone", "address": "address"},
    ("health", "family-doctor-contracts"): {
        "id_card_no": "id18", "id_card_no_cleaned": "id_clean", "name": "name", "gender": "gender",
        "birth_date": "birth"},
    ("health", "death-certificates"): {
        "id_card_no": "id18", "id_card_no_cleaned": "id_clean", "name": "name", "date_of_death": "death_date"},
    ("medical_insurance", "insured-persons"): {
        "id_card_no": "id18", "id_card_no_cleaned": "id_clean", "name": "name", "gender": "gender",
        "birth_date": "birth", "district_code": "district"},
    ("medical_insurance", "ltc-enrolments"): {"id_card_no": "id18", "id_card_no_cleaned": "id_clean"},
    ("property_mgmt", "service-orders"): {
        "resident_name": "name", "resident_phone": "phone", "resident_id_prefix": "id_prefix",
        "resident_id_suffix": "id_suffix", "resident_birth_year": "birth_year",
        "community_name": "community", "building": "building", "room": "room"},
}

# Fields only survivorship reads (assistance, flags, assessments), kept per record.
_EXTRA: dict[tuple[str, str], tuple[str, ...]] = {
    ("civil_affairs", "elders"): (
        "hukou_type", "town", "village", "assistance_type", "left_behind", "lives_alone", "lost_only_child",
        "ability_level", "ability_assessed_on"),
    ("medical_insurance", "ltc-enrolments"): ("disability_level", "assessed_on"),
}


@dataclass(slots=True, eq=False)
class LinkRecord:
    """What one source record says about who it describes (normalised at landing)."""

    idx: int  # position in the run's record list
    platform: str
    resource: str
    record_id: str
    updated_at: object = None
    batch: int = 0  # the ingest batch of the accepted version: a new version, a new batch
    id18: str | None = None  # a valid 18-character ID number, else None
    id_clean: str | None = None  # the cleaned number even when invalid (for repair)
    name: str | None = None
    gender: str | None = None
    birth: date | None = None
    birth_year: int | None = None
    district: str | None = None
    phone: str | None = None
    address: str | None = None
    community: str | None = None
    building: str | None = None  # property platform: the flat the order was served at
    room: str | None = None
    id_prefix: str | None = None  # property platform: first 6 of a masked ID
    id_suffix: str | None = None  # … and last 4
    ps_status: str | None = None
    death_date: date | None = None
    extra: dict | None = None  # survivorship-only fields (see _EXTRA)

    @property
    def key(self) -> tuple[str, str, str]:
        return self.platform, self.resource, self.record_id

    @property
    def anchor(self) -> bool:
        return (self.platform, self.resource) in ANCHORS

    @property
    def id_broken(self) -> bool:
        """A number was given but it is not a valid ID number (check digit, date, shape)."""
        return self.id18 is None and self.id_clean is not None

    @property
    def id_contradicted(self) -> bool:
        """A valid number whose embedded birth date or gender disagrees with the record's own."""
        if self.id18 is None:
            return False
        if self.birth is not None and id_birth_date(self.id18) != self.birth:
            return True
        if self.gender is not None and id_gender(self.id18) != self.gender:
            return True
        return self.birth_year is not None and int(self.id18[6:10]) != self.birth_year

    def year(self) -> int | None:
        if self.birth is not None:
            return self.birth.year
        return self.birth_year


def load_records(conn: Connection) -> list[LinkRecord]:
    out: list[LinkRecord] = []
    for rec in _iter_records(conn):
        rec.idx = len(out)
        out.append(rec)
    return out


#: Values that recur across many records (codes, dates, years, community names; names,
#: numbers, phones and addresses, which a person's several records repeat): each
#: distinct one is kept once per column and shared, so a city's records do not each hold
#: a copy (per column, so that equal values of different types — 1, True, Decimal(1) —
#: are never exchanged).
_SHARED = frozenset({"gender", "birth", "birth_year", "district", "community", "building", "room", "ps_status",
                     "death_date", "name", "id18", "id_clean", "phone", "address", "id_prefix", "id_suffix"})


def _iter_records(conn: Connection) -> Iterator[LinkRecord]:
    """Rows straight from the driver (``landing.bulk.raw_rows``); a value that needs
    converting (a date SQLite returns as text) is converted once per distinct value of a
    shared column. (Measured at 916,957 records: no faster than SQLAlchemy's result rows —
    building the records is most of the time — but the per-column sharing is inlined in
    the loop below rather than calling :func:`_shared`, which the survivorship-only fields
    use, because this loop runs for every field of every record.)"""
    shared: dict[str, dict] = defaultdict(dict)
    for platform, resource in PERSON_RESOURCES:
        table = accepted_table(platform, resource)
        mapping = _COLUMNS[(platform, resource)]
        extra = _EXTRA.get((platform, resource), ())
        cols = [table.c.record_id, table.c.updated_at, table.c.batch_id, *(table.c[c] for c in mapping),
                *(table.c[c] for c in extra)]
        # in record-id order, sorted here: the database's ORDER BY walks the primary-key
        # index row by row (SQLite) or follows its collation (PostgreSQL), and a run must
        # see the records in the same order on either
        q = select(*cols).where(table.c.deleted.is_(False))
        procs = result_processors(conn, q)
        n = len(mapping)
        # per column: (attribute, the shared values by what the driver returned, converter)
        plan = [(a, shared[a] if a in _SHARED else None, proc)
                for a, proc in zip(mapping.values(), procs[3:3 + n], strict=True)]
        extra_plan = [(shared[f"extra.{k}"], proc) for k, proc in zip(extra, procs[3 + n:], strict=True)]
        when, batches = procs[1], shared["batch"]
        out: list[LinkRecord] = []
        for row in raw_rows(conn, q):
            t, b = row[1], row[2]
            rec = LinkRecord(0, platform, resource, row[0], when(t) if when and t is not None else t,
                             batches.setdefault(b, b))
            for (attr, seen, proc), value in zip(plan, row[3:3 + n], strict=True):
                if value is None:
                    continue
                if seen is not None:
                    v = seen.get(value)
                    if v is None:
                        v = seen[value] = proc(value) if proc else value
                    value = v
                elif proc is not None:
                    value = proc(value)
                setattr(rec, attr, value)
            if rec.id_clean is not None and rec.id_clean == rec.id18:
                rec.id_clean = rec.id18  # the same number: one string
            if extra:
                rec.extra = {k: _shared(seen, proc, v)
                             for k, (seen, proc), v in zip(extra, extra_plan, row[3 + n:], strict=True)}
            if rec.birth_year is None and rec.birth is not None:
                rec.birth_year = shared["birth_year"].setdefault(rec.birth.year, rec.birth.year)
            out.append(rec)
        out.sort(key=_record_id)
        yield from out


_record_id = attrgetter("record_id")


def _shared(seen: dict, proc: Callable[[Any], Any] | None, value: Any) -> Any:  # noqa: ANN401
    if value is None:
        return None
    v = seen.get(value)
    if v is None:
        v = seen[value] = proc(value) if proc else value
    return v
