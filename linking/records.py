"""The records the linker reads: every accepted, not withdrawn record of the
person-describing resources (REGISTRY.md), as one uniform :class:`LinkRecord`.

Read from the quality gate's ``acc_*`` tables, so a quarantined version or a blocked
batch never reaches the registry. Tombstoned records are not read: a withdrawn record is
unlinked.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC
from itertools import islice, repeat
from operator import attrgetter
from typing import Any

from sqlalchemy import Connection, select

from landing.bulk import raw_rows, result_processors
from landing.normalize import id_birth_date, id_gender
from schemas.staging import accepted_table

__all__ = ["ANCHORS", "PERSON_RESOURCES", "Extra", "LinkRecord", "load_records", "record_class"]

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


class Extra:
    """A record's survivorship-only fields (``_EXTRA``), read like a mapping (``get``,
    ``extra[name]``): the resource's field names, shared by all its records, and the
    values. 104–160 bytes where a dict took 184–272 (a city's 2.3 million civil-affairs
    elders each hold nine)."""

    __slots__ = ("names", "values")

    def __init__(self, names: tuple[str, ...], values: tuple[Any, ...]) -> None:
        self.names = names
        self.values = values

    def get(self, name: str, default: Any = None) -> Any:
        try:
            return self.values[self.names.index(name)]
        except ValueError:
            return default

    def __getitem__(self, name: str) -> Any:
        try:
            return self.values[self.names.index(name)]
        except ValueError:
            raise KeyError(name) from None

    def items(self) -> Iterator[tuple[str, Any]]:
        return zip(self.names, self.values, strict=True)

    def __repr__(self) -> str:
        return f"Extra({dict(self.items())!r})"


#: Every field a record may carry after its key, in the order the loader passes them.
_FIELDS: tuple[str, ...] = (
    "updated_at", "batch", "id18", "id_clean", "name", "gender", "birth", "birth_year", "district", "phone",
    "address", "community", "building", "room", "id_prefix", "id_suffix", "ps_status", "death_date", "extra")
#: The fields every record holds in a slot of its own; the others only the resources
#: that carry them (``_OWN``), and read ``None`` elsewhere.
_COMMON = ("idx", "record_id", "updated_at", "batch", "id18", "id_clean", "name", "gender", "birth", "birth_year")
#: The fields beyond ``_COMMON`` each resource's records carry: what ``_COLUMNS`` and
#: ``_EXTRA`` read for it. A resource not named here (a test's own) carries every field.
_OWN: dict[tuple[str, str], tuple[str, ...]] = {
    resource: tuple(f for f in _FIELDS if f not in _COMMON and (f in columns.values() or
                                                                (f == "extra" and resource in _EXTRA)))
    for resource, columns in _COLUMNS.items()}
_ALL_OWN = tuple(f for f in _FIELDS if f not in _COMMON)


class LinkRecord:
    """What one source record says about who it describes (normalised at landing).

    Each resource's records are of its own subclass (:func:`record_class`), made with
    ``(idx, record_id, updated_at=None, batch=0, <its fields>…)``: its platform, resource
    and whether it is an anchor are class attributes, and it has slots only for the
    fields the resource carries — every other field reads ``None`` (a class attribute
    here), and setting one raises ``AttributeError``. A city's 10.5 million records so take
    ~85 bytes less each than with a slot for every field of every resource (27 slots,
    248 bytes).

    Fields: ``idx``, the position in the run's record list; ``updated_at``, the accepted
    version's update time as a POSIX timestamp (when loaded; any values that order alike
    will do — a float takes 24 bytes where a datetime takes 48, and floats order the
    platforms' microsecond times exactly as the times do); ``batch``, the ingest batch of
    the accepted version (a new version, a new batch); ``id18``, a valid 18-character ID
    number, else ``None``; ``id_clean``, the cleaned number even when invalid (for
    repair); the property platform's ``building`` and ``room`` (the flat an order was
    served at) and ``id_prefix``/``id_suffix`` (first 6 and last 4 of its masked number);
    ``extra``, the survivorship-only fields (``_EXTRA``), read with ``get`` / ``[]``."""

    __slots__ = _COMMON
    platform: str = ""
    resource: str = ""
    anchor: bool = False  # the resource founds persons (``ANCHORS``)
    #: the record's fields after ``record_id``, in ``_FIELDS`` order (its constructor's)
    fields: tuple[str, ...] = ()
    district = phone = address = community = building = room = None
    id_prefix = id_suffix = ps_status = death_date = extra = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("LinkRecord is the base of the resources' record classes: use record_class(platform, resource)")

    def replace(self, **changes: Any) -> LinkRecord:
        """A copy with ``changes`` (fields the resource carries: else ``AttributeError``)."""
        unknown = set(changes).difference(self.fields)
        if unknown:
            raise AttributeError(f"{self.platform}/{self.resource} records have no field {', '.join(sorted(unknown))}")
        return type(self)(self.idx, self.record_id, *(changes.get(f, getattr(self, f)) for f in self.fields))

    def __repr__(self) -> str:
        shown = ", ".join(f"{f}={getattr(self, f)!r}" for f in self.fields if getattr(self, f) is not None)
        return f"{type(self).__name__}({self.idx}, {self.record_id!r}, {shown})"

    @property
    def key(self) -> tuple[str, str, str]:
        return self.platform, self.resource, self.record_id

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


_CLASSES: dict[tuple[str, str], type[LinkRecord]] = {}


def record_class(platform: str, resource: str) -> type[LinkRecord]:
    """The class of a resource's records (made once per resource; a resource ``_OWN``
    does not name carries every field). Its constructor is written out field by field,
    as a dataclass's is: a city's 10.5 million records are built through it."""
    cls = _CLASSES.get((platform, resource))
    if cls is not None:
        return cls
    own = _OWN.get((platform, resource), _ALL_OWN)
    names = tuple(f for f in _FIELDS if f in _COMMON or f in own)
    params = ", ".join(f"{f}={0 if f == 'batch' else None}" for f in names)
    body = "".join(f"\n    self.{f} = {f}" for f in ("idx", "record_id", *names))
    namespace: dict[str, Any] = {}
    exec(f"def __init__(self, idx, record_id, {params}):{body}", namespace)  # noqa: S102 - our own field names
    title = "".join(part.title() for part in f"{platform}_{resource}".replace("-", "_").split("_")) + "Record"
    cls = _CLASSES[(platform, resource)] = type(title, (LinkRecord,), {
        "__slots__": own, "__module__": __name__, "__qualname__": title, "__init__": namespace["__init__"],
        "platform": platform, "resource": resource, "anchor": (platform, resource) in ANCHORS, "fields": names})
    return cls


def load_records(conn: Connection) -> list[LinkRecord]:
    out: list[LinkRecord] = []
    for part in _records(conn):
        out.extend(part)
    for i, rec in enumerate(out):
        rec.idx = i
    return out


#: Values that recur across many records (codes, dates, years, community names; names,
#: numbers, phones and addresses, which a person's several records repeat): each
#: distinct one is kept once per column and shared, so a city's records do not each hold
#: a copy (per column, so that equal values of different types — 1, True, Decimal(1) —
#: are never exchanged).
_SHARED = frozenset({"gender", "birth", "birth_year", "district", "community", "building", "room", "ps_status",
                     "death_date", "name", "id18", "id_clean", "phone", "address", "id_prefix", "id_suffix"})


def _records(conn: Connection) -> Iterator[list[LinkRecord]]:
    """Rows straight from the driver (``landing.bulk.raw_rows``), turned into records a
    chunk at a time, column by column: each column's values are converted and shared
    (``_SHARED``) by ``map`` over the whole column — a value that needs converting (a
    date SQLite returns as text) once per distinct value — and the records are built
    from the columns in one pass. (Row by row, with a lookup and a ``setattr`` per field,
    building the records took ~80 % of reading them; column by column, reading 200,000
    elders' records takes ~11 % less.)"""
    shared: dict[str, dict] = defaultdict(dict)
    for platform, resource in PERSON_RESOURCES:
        table = accepted_table(platform, resource)
        mapping = _COLUMNS[(platform, resource)]
        cls = record_class(platform, resource)
        extra = _EXTRA.get((platform, resource), ())
        cols = [table.c.record_id, table.c.updated_at, table.c.batch_id, *(table.c[c] for c in mapping),
                *(table.c[c] for c in extra)]
        # in record-id order, sorted here: the database's ORDER BY walks the primary-key
        # index row by row (SQLite) or follows its collation (PostgreSQL), and a run must
        # see the records in the same order on either
        q = select(*cols).where(table.c.deleted.is_(False))
        procs = result_processors(conn, q)
        n = len(mapping)
        attrs = list(mapping.values())
        plan = [(shared[a] if a in _SHARED else None, proc) for a, proc in zip(attrs, procs[3:3 + n], strict=True)]
        extra_plan = [(shared[f"extra.{k}"], proc) for k, proc in zip(extra, procs[3 + n:], strict=True)]
        when = procs[1]
        out: list[LinkRecord] = []
        rows = raw_rows(conn, q)
        while chunk := list(islice(rows, _CHUNK)):
            columns = list(zip(*chunk, strict=True))
            del chunk
            values = dict(zip(attrs, (_column(c, seen, proc) for c, (seen, proc) in
                                      zip(columns[3:3 + n], plan, strict=True)), strict=True))
            values["updated_at"] = _timestamps(columns[1], when)
            values["batch"] = list(map(shared["batch"].setdefault, columns[2], columns[2]))
            if "id18" in values and "id_clean" in values:  # the same number: one string
                values["id_clean"] = [i if c is not None and c == i else c
                                      for i, c in zip(values["id18"], values["id_clean"], strict=True)]
            if "birth" in values:
                years = shared["birth_year"]
                given = values.get("birth_year") or repeat(None)
                values["birth_year"] = [y if y is not None or b is None else years.setdefault(b.year, b.year)
                                        for y, b in zip(given, values["birth"])]
            if extra:
                values["extra"] = list(map(Extra, repeat(extra), zip(
                    *(_column(c, seen, proc) for c, (seen, proc) in zip(columns[3 + n:], extra_plan, strict=True)),
                    strict=True)))
            out.extend(map(cls, repeat(0), columns[0], *(values.get(f, _NONE) for f in cls.fields)))
        out.sort(key=_record_id)
        yield out


#: Records are built from this many rows at a time (the rows and their columns are held
#: twice while a chunk is turned into records).
_CHUNK = 50_000
_NONE = repeat(None)


def _column(values: tuple, seen: dict | None, proc: Callable[[Any], Any] | None) -> Sequence[Any]:
    """One column of a chunk as the records hold it: converted by ``proc`` (``None``
    stays ``None``), and, for a shared column, each distinct value one object (``seen``:
    what the driver returned -> the value, across chunks and resources)."""
    if seen is None:
        return values if proc is None else [None if v is None else proc(v) for v in values]
    if proc is None:
        return list(map(seen.setdefault, values, values))
    for v in set(values).difference(seen):
        if v is not None:
            seen[v] = proc(v)
    return list(map(seen.get, values))


_record_id = attrgetter("record_id")


def _timestamps(values: tuple, proc: Callable[[Any], Any] | None) -> list[float | None]:
    """The update times as POSIX timestamps, each converted by the column's own processor
    first (a naive time is UTC: ``schemas.base.UTCDateTime``)."""
    out: list[float | None] = []
    put = out.append
    for t in values:
        if t is None:
            put(None)
            continue
        if proc is not None:
            t = proc(t)
        put((t if t.tzinfo is not None else t.replace(tzinfo=UTC)).timestamp())
    return out
