"""Ground truth of a generated population: who everyone really is, which person each
source record describes, which noise each record carries, and the breaches planted.

Stored column-wise (a few bytes per record, record ids shared with the store) so that a
city-scale truth fits beside the store. The public view is read-only:

* :attr:`Truth.persons` — a sequence of :class:`PersonTruth`, also addressable by key;
* :attr:`Truth.record_person` — a mapping ``(platform, resource, record_id) ->
  person_key`` (``None`` if the record describes nobody);
* :meth:`Truth.record` / :meth:`Truth.iter_records` — :class:`RecordTruth` rows with the
  noise kinds applied to each record and whether that noise makes it *unusable*;
* :attr:`Truth.breaches` — the planted :class:`Breach` list.

A record is **unusable** when no hub could use it as intended: its ID number is broken
beyond normalisation (wrong check digit, transposed digits, empty) on a resource whose only
identity is that number (meals, payments, time coins, home-medical services, death
certificates, LTC enrolments and payments), or its key date is impossible or in the
future (meal, home-medical service and property-order dates). Records with a broken ID
but a second identity (name + birth date + gender, an elder record id, a card number) are
counted usable, although a hub may still fail to link them.

Files written by :meth:`Truth.write` (NDJSON, one object a line):

* ``persons.ndjson``: ``person_key, id_card_no, name, gender (M/F), birth_date,
  district_code, hukou_type, status (alive/deceased/moved_out), death_date,
  moved_out_date, is_elder``;
* ``records.ndjson``: ``platform, resource, record_id, person_key, noise, unusable``;
* ``breaches.ndjson``: ``rule, person_key, org_code, period, evidence`` (a list of
  ``[platform, resource, record_id]``).
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import orjson

from simulators.gen_common import (
    DATE_BROKEN,
    ID_BROKEN,
    NOISE_KINDS,
    noise_mask,
    noise_names,
)

__all__ = ["NOISE_KINDS", "Breach", "PersonTruth", "RecordTruth", "Truth", "person_key"]

_STATUS = ("alive", "deceased", "moved_out")
_STATUS_CODE = {s: i for i, s in enumerate(_STATUS)}

#: resources whose records carry no identity but the ID number
ID_ONLY_RESOURCES = frozenset(
    {
        ("civil_affairs", "meal-records"),
        ("civil_affairs", "subsidy-payments"),
        ("civil_affairs", "time-bank"),
        ("health", "home-medical-services"),
        ("health", "death-certificates"),
        ("medical_insurance", "ltc-enrolments"),
        ("medical_insurance", "ltc-payments"),
    }
)
#: resources whose date field is what the record is about
KEY_DATE_RESOURCES = frozenset(
    {
        ("civil_affairs", "meal-records"),
        ("health", "home-medical-services"),
        ("property_mgmt", "service-orders"),
    }
)


def person_key(index: int) -> str:
    return f"P{index:07d}"


def _index(key: str) -> int:
    if not key or key[0] != "P" or not key[1:].isdigit():
        raise KeyError(key)
    return int(key[1:])


def is_unusable(platform: str, resource: str, mask: int) -> bool:
    key = (platform, resource)
    if mask & ID_BROKEN and key in ID_ONLY_RESOURCES:
        return True
    return bool(mask & DATE_BROKEN and key in KEY_DATE_RESOURCES)


@dataclass(frozen=True)
class PersonTruth:
    person_key: str
    id_card_no: str  # the true, normalised 18-character number
    name: str
    gender: str  # "M" / "F"
    birth_date: str  # YYYY-MM-DD
    district_code: str
    hukou_type: str  # "rural" / "urban"
    status: str  # "alive" / "deceased" / "moved_out"
    death_date: str | None
    moved_out_date: str | None
    is_elder: bool  # 60 or over at the platforms' "now" (or at death / moving out)

    def to_dict(self) -> dict:
        return {
            "person_key": self.person_key,
            "id_card_no": self.id_card_no,
            "name": self.name,
            "gender": self.gender,
            "birth_date": self.birth_date,
            "district_code": self.district_code,
            "hukou_type": self.hukou_type,
            "status": self.status,
            "death_date": self.death_date,
            "moved_out_date": self.moved_out_date,
            "is_elder": self.is_elder,
        }


@dataclass(frozen=True)
class RecordTruth:
    platform: str
    resource: str
    record_id: str
    person_key: str | None
    noise: tuple[str, ...]
    unusable: bool


@dataclass(frozen=True)
class Breach:
    rule: str
    person_key: str
    org_code: str | None
    period: str
    evidence: tuple[tuple[str, str, str], ...]

    def to_dict(self) -> dict:
        return {
            "rule": self.rule,
            "person_key": self.person_key,
            "org_code": self.org_code,
            "period": self.period,
            "evidence": [list(e) for e in self.evidence],
        }


class _Table:
    __slots__ = ("ids", "index", "noise", "person")

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.person = array("i")
        self.noise = array("I")
        self.index: dict[str, int] | None = None

    def pos(self, record_id: str) -> int:
        if self.index is None or len(self.index) != len(self.ids):
            self.index = {rid: k for k, rid in enumerate(self.ids)}
        return self.index[record_id]


def _ds(o: int) -> str | None:
    return date.fromordinal(o).isoformat() if o else None


class _Persons(Sequence):
    def __init__(self, truth: Truth) -> None:
        self._t = truth

    def __len__(self) -> int:
        return len(self._t._p_id)

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        t = self._t
        if i < 0:
            i += len(self)
        return PersonTruth(
            person_key=person_key(i),
            id_card_no=t._p_id[i],
            name=t._p_name[i],
            gender="M" if t._p_gender[i] == 1 else "F",
            birth_date=_ds(t._p_birth[i]),
            district_code=str(t._p_district[i]),
            hukou_type="rural" if t._p_rural[i] else "urban",
            status=_STATUS[t._p_status[i]],
            death_date=_ds(t._p_death[i]),
            moved_out_date=_ds(t._p_move[i]),
            is_elder=bool(t._p_elder[i]),
        )

    def get(self, key: str) -> PersonTruth | None:
        try:
            i = _index(key)
        except KeyError:
            return None
        return self[i] if 0 <= i < len(self) else None


class _RecordPerson(Mapping):
    """(platform, resource, record_id) -> person_key or None."""

    def __init__(self, truth: Truth) -> None:
        self._t = truth

    def __getitem__(self, key):
        platform, resource, rid = key
        tab = self._t._tables.get((platform, resource))
        if tab is None:
            raise KeyError(key)
        k = tab.pos(rid)
        pi = tab.person[k]
        return None if pi < 0 else person_key(pi)

    def __iter__(self):
        for (platform, resource), tab in self._t._tables.items():
            for rid in tab.ids:
                yield (platform, resource, rid)

    def __len__(self) -> int:
        return sum(len(t.ids) for t in self._t._tables.values())

    def __contains__(self, key) -> bool:
        try:
            self[key]
        except (KeyError, ValueError, TypeError):
            return False
        return True


class Truth:
    """What the generator knows and the hub must discover. See the module docstring."""

    def __init__(self) -> None:
        self._p_id: list[str] = []
        self._p_name: list[str] = []
        self._p_gender = bytearray()
        self._p_birth = array("i")
        self._p_district = array("i")
        self._p_rural = bytearray()
        self._p_status = bytearray()
        self._p_death = array("i")
        self._p_move = array("i")
        self._p_elder = bytearray()
        self._tables: dict[tuple[str, str], _Table] = {}
        self.breaches: list[Breach] = []
        self.persons = _Persons(self)
        self.record_person = _RecordPerson(self)

    # ------------------------------------------------------------------ building

    def _add_person(
        self,
        i: int,
        id18: str,
        name: str,
        gender: int,
        birth: int,
        district: str,
        hukou: str,
        status: int,
        death: int,
        move: int,
        is_elder: bool,
    ) -> None:
        if i != len(self._p_id):
            raise ValueError("persons must be added in index order")
        self._p_id.append(id18)
        self._p_name.append(name)
        self._p_gender.append(gender)
        self._p_birth.append(birth)
        self._p_district.append(int(district))
        self._p_rural.append(1 if hukou == "rural" else 0)
        self._p_status.append(status)
        self._p_death.append(death or 0)
        self._p_move.append(move or 0)
        self._p_elder.append(1 if is_elder else 0)

    def _table(self, platform: str, resource: str) -> _Table:
        key = (platform, resource)
        tab = self._tables.get(key)
        if tab is None:
            tab = self._tables[key] = _Table()
        return tab

    def _record_adder(self, platform: str, resource: str):
        tab = self._table(platform, resource)
        ids, person, noise = tab.ids.append, tab.person.append, tab.noise.append

        def add(rid: str, pidx: int | None, mask: int) -> None:
            ids(rid)
            person(-1 if pidx is None else pidx)
            noise(mask)

        return add

    def _add_breach(
        self,
        rule: str,
        pidx: int,
        org: str | None,
        period: str,
        evidence: list[tuple[str, str, str]],
    ) -> None:
        self.breaches.append(Breach(rule, person_key(pidx), org, period, tuple(evidence)))

    # ------------------------------------------------------------------ queries

    def record(self, platform: str, resource: str, record_id: str) -> RecordTruth:
        tab = self._tables[(platform, resource)]
        k = tab.pos(record_id)
        pi, mask = tab.person[k], tab.noise[k]
        return RecordTruth(
            platform,
            resource,
            record_id,
            None if pi < 0 else person_key(pi),
            tuple(noise_names(mask)),
            is_unusable(platform, resource, mask),
        )

    def record_noise(self, platform: str, resource: str, record_id: str) -> tuple[str, ...]:
        return self.record(platform, resource, record_id).noise

    def iter_records(self) -> Iterator[RecordTruth]:
        for (platform, resource), tab in self._tables.items():
            for rid, pi, mask in zip(tab.ids, tab.person, tab.noise):
                yield RecordTruth(
                    platform,
                    resource,
                    rid,
                    None if pi < 0 else person_key(pi),
                    tuple(noise_names(mask)),
                    is_unusable(platform, resource, mask),
                )

    def resources(self) -> list[tuple[str, str]]:
        return list(self._tables)

    def record_count(self, platform: str, resource: str) -> int:
        tab = self._tables.get((platform, resource))
        return 0 if tab is None else len(tab.ids)

    def noise_counts(self) -> dict[tuple[str, str], dict[str, int]]:
        """Records per noise kind, per resource (plus ``"_records"`` and ``"_unusable"``)."""
        out: dict[tuple[str, str], dict[str, int]] = {}
        for key, tab in self._tables.items():
            counts = {"_records": len(tab.ids), "_unusable": 0}
            by_mask: dict[int, int] = {}
            for m in tab.noise:
                by_mask[m] = by_mask.get(m, 0) + 1
            for m, n in by_mask.items():
                for k in noise_names(m):
                    counts[k] = counts.get(k, 0) + n
                if is_unusable(key[0], key[1], m):
                    counts["_unusable"] += n
            out[key] = counts
        return out

    # ------------------------------------------------------------------ files

    def write(self, directory: str | Path) -> None:
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        dumps = orjson.dumps
        with open(d / "persons.ndjson", "wb") as f:
            buf = []
            for p in self.persons:
                buf.append(dumps(p.to_dict()))
                if len(buf) >= 10_000:
                    f.write(b"\n".join(buf) + b"\n")
                    buf.clear()
            if buf:
                f.write(b"\n".join(buf) + b"\n")
        names_cache: dict[int, list[str]] = {}
        with open(d / "records.ndjson", "wb") as f:
            for (platform, resource), tab in self._tables.items():
                buf = []
                for rid, pi, mask in zip(tab.ids, tab.person, tab.noise):
                    names = names_cache.get(mask)
                    if names is None:
                        names = names_cache[mask] = noise_names(mask)
                    buf.append(
                        dumps(
                            {
                                "platform": platform,
                                "resource": resource,
                                "record_id": rid,
                                "person_key": None if pi < 0 else person_key(pi),
                                "noise": names,
                                "unusable": is_unusable(platform, resource, mask),
                            }
                        )
                    )
                    if len(buf) >= 20_000:
                        f.write(b"\n".join(buf) + b"\n")
                        buf.clear()
                if buf:
                    f.write(b"\n".join(buf) + b"\n")
        with open(d / "breaches.ndjson", "wb") as f:
            f.writelines(dumps(b.to_dict()) + b"\n" for b in self.breaches)

    @classmethod
    def read(cls, directory: str | Path) -> Truth:
        d = Path(directory)
        t = cls()
        with open(d / "persons.ndjson", "rb") as f:
            for line in f:
                if not line.strip():
                    continue
                o = orjson.loads(line)
                i = _index(o["person_key"])
                death = date.fromisoformat(o["death_date"]).toordinal() if o["death_date"] else 0
                move = (
                    date.fromisoformat(o["moved_out_date"]).toordinal()
                    if o.get("moved_out_date")
                    else 0
                )
                t._add_person(
                    i,
                    o["id_card_no"],
                    o["name"],
                    1 if o["gender"] == "M" else 2,
                    date.fromisoformat(o["birth_date"]).toordinal(),
                    o["district_code"],
                    o["hukou_type"],
                    _STATUS_CODE[o["status"]],
                    death,
                    move,
                    o["is_elder"],
                )
        adders: dict[tuple[str, str], object] = {}
        masks: dict[tuple[str, ...], int] = {}
        with open(d / "records.ndjson", "rb") as f:
            for line in f:
                if not line.strip():
                    continue
                o = orjson.loads(line)
                key = (o["platform"], o["resource"])
                add = adders.get(key)
                if add is None:
                    add = adders[key] = t._record_adder(*key)
                names = tuple(o["noise"])
                m = masks.get(names)
                if m is None:
                    m = masks[names] = noise_mask(names)
                pk = o["person_key"]
                add(o["record_id"], None if pk is None else _index(pk), m)  # type: ignore
        with open(d / "breaches.ndjson", "rb") as f:
            for line in f:
                if not line.strip():
                    continue
                o = orjson.loads(line)
                t.breaches.append(
                    Breach(
                        o["rule"],
                        o["person_key"],
                        o["org_code"],
                        o["period"],
                        tuple(tuple(e) for e in o["evidence"]),
                    )
                )
        return t
