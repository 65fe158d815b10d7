"""Field comparisons for probabilistic linking, as named, declarative objects.

Each :class:`Comparison` compares one source record with one candidate person (the
values that person's anchor records hold) and answers one of its ordered ``levels``, the
most specific first, or ``None`` when either side has no value (a null level carries no
evidence). The levels are what the Fellegi–Sunter model (``linking.model``) weighs; no
weight is written here.

Built in the style of Splink's comparison library: levels are validated when a
comparison is built, and the message says what was expected.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

from rapidfuzz.distance import JaroWinkler

from linking.names import homophones
from linking.records import LinkRecord

log = logging.getLogger(__name__)

__all__ = ["COMPARISONS", "Comparison", "Profile", "comparison_vector", "id_repairs", "valid_number"]


class ComparisonError(ValueError):
    """A comparison was declared wrongly."""


@dataclass(slots=True, eq=False)
class Profile:
    """What a candidate person's anchor records say: every value seen, per field, in the
    order first seen. (Tuples, not sets: most persons hold one value a field, and an
    empty tuple costs nothing — sets cost a city's persons ~1.2 KB each.)"""

    ids: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    births: tuple[date, ...] = ()
    genders: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()
    districts: tuple[str, ...] = ()
    addresses: tuple[str, ...] = ()

    def add(self, r: LinkRecord) -> None:
        # also a number its record contradicts: the birth and gender comparisons weigh
        # that disagreement on their own
        if r.id18 and r.id18 not in self.ids:
            self.ids += (r.id18,)
        if r.name and r.name not in self.names:
            self.names += (r.name,)
        if r.birth and r.birth not in self.births:
            self.births = self.births + (r.birth,) if self.births else _single(r.birth)
        if r.gender and r.gender not in self.genders:
            self.genders = self.genders + (r.gender,) if self.genders else _single(r.gender)
        if r.phone and r.phone not in self.phones:
            self.phones += (r.phone,)
        if r.district and r.district not in self.districts:
            self.districts = self.districts + (r.district,) if self.districts else _single(r.district)
        if r.address and r.address not in self.addresses:
            self.addresses += (r.address,)


#: One tuple per value of the fields few values fill (birth dates, genders, districts),
#: shared by every profile holding that value alone: 48 bytes less a field for most of a
#: city's 2.3 million persons.
_SINGLES: dict[object, tuple] = {}


def _single(value: object) -> tuple:
    one = _SINGLES.get(value)
    if one is None:
        one = _SINGLES[value] = (value,)
    return one


@dataclass(frozen=True)
class Comparison:
    """``compare(record, profile)`` -> index into ``levels`` or ``None`` (no value)."""

    name: str
    description: str
    levels: tuple[str, ...]
    compare: Callable[[LinkRecord, Profile], int | None]

    def __post_init__(self) -> None:
        if len(self.levels) < 2:
            raise ComparisonError(f"comparison {self.name!r}: needs at least two levels "
                                  f"(an agreement and a disagreement), got {self.levels!r}")
        if len(set(self.levels)) != len(self.levels):
            raise ComparisonError(f"comparison {self.name!r}: level names must be unique, got {self.levels!r}")
        if self.levels[-1] != "else":
            raise ComparisonError(f"comparison {self.name!r}: the last level must be 'else' "
                                  f"(everything that agrees on nothing), got {self.levels[-1]!r}")

    def level(self, record: LinkRecord, profile: Profile) -> int | None:
        return self.compare(record, profile)


# ------------------------------------------------------------------------- ID number

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"


def _check_char(body17: str) -> str:
    return _CHECK[sum(int(d) * w for d, w in zip(body17, _WEIGHTS, strict=True)) % 11]


def valid_number(body17: str) -> str:
    """The valid ID number that ASCII digits ``body17`` begin (their check character added)."""
    return body17 + _check_char(body17)


def id_repairs(cleaned: str | None) -> list[str]:
    """Valid ID numbers one keying error away from ``cleaned``: its first 17 digits with
    the right check character (a wrong check digit), and every swap of two adjacent
    characters that yields a valid number (transposed digits). A guess, never proof:
    the linker accepts one only where other fields agree."""
    # ASCII only: str.isdigit also accepts other scripts' digits, which int() refuses
    if not cleaned or len(cleaned) != 18 or not cleaned.isascii() or not cleaned[:17].isdigit():
        return []
    out = []
    body = cleaned[:17]
    fixed = valid_number(body)
    if fixed != cleaned:
        out.append(fixed)
    for i in range(17):
        s = cleaned[:i] + cleaned[i + 1] + cleaned[i] + cleaned[i + 2:]
        if s != cleaned and s[:17].isdigit() and (s[17] == "X" or s[17].isdigit()) and _check_char(s[:17]) == s[17]:
            out.append(s)
    return out


def _near_id(a: str, b: str) -> bool:
    """One substituted character or one swap of adjacent characters apart."""
    diff = [i for i in range(18) if a[i] != b[i]]
    if len(diff) == 1:
        return True
    return len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]


def _id_level(r: LinkRecord, p: Profile) -> int | None:
    if not p.ids:
        return None
    if r.id18 is not None:
        if r.id18 in p.ids:
            return 0
        return 1 if any(_near_id(r.id18, i) for i in p.ids) else 2
    if r.id_clean is not None and len(r.id_clean) == 18:
        return 1 if any(_near_id(r.id_clean, i) for i in p.ids) else 2
    return None


def _masked_level(r: LinkRecord, p: Profile) -> int | None:
    prefix, suffix = r.id_prefix, r.id_suffix
    if prefix is None or suffix is None or not p.ids:
        return None
    for i in p.ids:  # (loops rather than any(…) here and below: these run for every candidate pair)
        if i[:6] == prefix and i[14:] == suffix:
            return 0
    return 1


# ------------------------------------------------------------------------------ name

def _name_level(r: LinkRecord, p: Profile) -> int | None:
    if not r.name or not p.names:
        return None
    if r.name in p.names:
        return 0
    # a name in Latin script may come in any case ("JOHN SMITH", "John Smith")
    name, names = r.name.casefold(), [n.casefold() for n in p.names]
    if name in names:
        return 0
    if any(homophones(name, n) for n in names):
        return 1
    if max(JaroWinkler.similarity(name, n) for n in names) >= 0.8:
        return 2
    return 3


# ------------------------------------------------------------------- birth and gender

def _birth_level(r: LinkRecord, p: Profile) -> int | None:
    births = p.births
    if not births:
        return None
    birth = r.birth
    if birth is not None:
        if birth in births:
            return 0
        for b in births:
            if _one_digit_apart(b, birth):
                return 2
        return _year_level(birth.year, births, 3)
    if r.birth_year is not None:  # the property platform knows the year only
        return _year_level(r.birth_year, births, 1)
    return None


def _year_level(year: int, births: tuple[date, ...], same: int) -> int:
    """``same`` when a birth date is in ``year``, else 4 when one is a year apart, else 5."""
    for b in births:
        if b.year == year:
            return same
    for b in births:
        if abs(b.year - year) <= 1:
            return 4
    return 5


def _one_digit_apart(a: date, b: date) -> bool:
    """One digit of YYYYMMDD differs (ISO text: the dashes always agree; isoformat is
    several times cheaper than strftime, and this runs for most candidate pairs)."""
    diff = 0
    for x, y in zip(a.isoformat(), b.isoformat(), strict=True):
        if x != y:
            diff += 1
            if diff > 1:
                return False
    return diff == 1


def _gender_level(r: LinkRecord, p: Profile) -> int | None:
    if not r.gender or not p.genders:
        return None
    return 0 if r.gender in p.genders else 1


# ---------------------------------------------------------------- contact and place

def _phone_level(r: LinkRecord, p: Profile) -> int | None:
    phone, phones = r.phone, p.phones
    if not phone or not phones:
        return None
    if phone in phones:
        return 0
    last4 = phone[-4:]
    for q in phones:
        if q[-4:] == last4:
            return 1
    return 2


def _district_level(r: LinkRecord, p: Profile) -> int | None:
    if not r.district or not p.districts:
        return None
    return 0 if r.district in p.districts else 1


def _community_level(r: LinkRecord, p: Profile) -> int | None:
    community = r.community
    if not community or not p.addresses:
        return None
    for a in p.addresses:
        if community in a:
            return 0
    return 1


COMPARISONS: tuple[Comparison, ...] = (
    Comparison("id_number", "the record's ID number against the person's: equal; one keying error apart "
               "(a wrong check digit, a substituted digit, two adjacent digits swapped)",
               ("exact", "one_error", "else"), _id_level),
    Comparison("masked_id", "the property platform's masked number against the person's: the first 6 and "
               "last 4 characters agree", ("agrees", "else"), _masked_level),
    Comparison("name", "normalised names: equal; homophones (every character shares a pinyin reading); "
               "Jaro-Winkler similarity >= 0.8",
               ("exact", "homophone", "similar", "else"), _name_level),
    Comparison("birth", "birth dates: equal; (property platform, which gives the year only) the same year; "
               "one digit apart (a typo); the same year; a year apart",
               ("exact", "year_given_agrees", "one_digit", "same_year", "year_apart", "else"), _birth_level),
    Comparison("gender", "gender", ("exact", "else"), _gender_level),
    Comparison("phone", "normalised phone numbers: equal; the same last four digits",
               ("exact", "last4", "else"), _phone_level),
    Comparison("district", "current district codes", ("exact", "else"), _district_level),
    Comparison("community", "the property order's community name appears in one of the person's addresses",
               ("contained", "else"), _community_level),
)


def comparison_vector(r: LinkRecord, p: Profile,
                      comparisons: Sequence[Comparison] = COMPARISONS) -> tuple[int | None, ...]:
    try:
        return tuple(c.level(r, p) for c in comparisons)
    except Exception:  # noqa: BLE001 - one odd value must not stop a city's linking
        return _guarded(r, p, comparisons)


def _guarded(r: LinkRecord, p: Profile, comparisons: Sequence[Comparison]) -> tuple[int | None, ...]:
    """The vector again, a comparison that fails on this record taken as no evidence
    (null), and said in the log — by the record's keys and the error's kind only: the
    error's text may hold the value, which may be personal data."""
    out: list[int | None] = []
    for c in comparisons:
        try:
            out.append(c.level(r, p))
        except Exception as exc:  # noqa: BLE001
            log.warning("comparison %s failed on %s/%s/%s (%s); taken as no evidence", c.name, r.platform,
                        r.resource, r.record_id, type(exc).__name__)
            out.append(None)
    return tuple(out)
