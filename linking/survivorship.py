"""Survivorship: the golden record of one person from its linked source records, each
field with the source record it came from (``provenance``).

Rules (REGISTRY.md, issue "Entity resolution"):

* **identity** (ID number, name, gender, birth date): public security first, then civil
  affairs, then any other record with a trustworthy number; within a source the most
  recently updated record. The ID number comes from a record whose number is valid and
  agrees with its own birth date and gender; only when no record has such a number, from
  a valid number that disagrees (its check digit vouches for it; the record's date or
  gender field is the likelier typo) — unless another person holds that number as their
  own, or the first record not carrying it with a birth date or a gender disagrees with
  it too (:func:`_number_record`): then none (REGISTRY.md: null where no trustworthy number
  is known). Gender and birth date are what the published number encodes (a record's
  field that disagrees with it is the typo: the golden record never contradicts its own
  number); without a number, the highest-ranked record's field. Who counts as an elder
  goes by the same dates (:func:`life_dates`).
* **district**: public security's current registration, then civil affairs, then
  medical insurance.
* **status and death**: public security's registration status (``1`` deceased, ``2``
  moved out). A health death certificate is the second source: it makes a person whom
  public security still lists as normal or moved out (or does not know) deceased —
  public security lags behind the certificate, it does not contradict it, and a person
  who moved out can die elsewhere. Public security's date of death wins when both give
  one.
* **assistance status, household type, town/village, care flags**: civil affairs.
* **disability level**: the newer of civil affairs' ability assessment and long-term-care
  insurance's disability assessment (by assessment date).
* **phone and address**: the most recently updated value among records linked with
  confidence (civil-affairs elders, public-security address, property orders' phones).
"""

from __future__ import annotations

from collections.abc import Collection, Container, Iterable, Sequence
from datetime import date
from typing import Any

from landing.normalize import id_birth_date, id_gender
from linking.records import LinkRecord

__all__ = ["golden", "golden_number", "life_dates"]

_IDENTITY_ORDER = ("public_security", "civil_affairs", "medical_insurance", "health")
_CA_FIELDS = ("hukou_type", "town", "village", "assistance_type", "left_behind", "lives_alone", "lost_only_child")


def _src(r: LinkRecord) -> list[str]:
    return [r.platform, r.resource, r.record_id]


def _latest(records: Iterable[LinkRecord]) -> list[LinkRecord]:
    """Most recently updated first (ties: record id, for a stable choice)."""
    return sorted(records, key=lambda r: (r.updated_at or 0, r.record_id), reverse=True)


def golden(records: Sequence[LinkRecord], confident: Container[int] | None = None,
           refuse: Collection[str] = ()) -> dict[str, Any]:
    """``records``: the person's linked records; ``confident``: indexes of records linked
    with confidence (phones and addresses are taken from these only; default all);
    ``refuse``: numbers another person holds as their own, never taken from a record they
    contradict."""
    out: dict[str, Any] = {}
    prov: dict[str, list[str]] = {}

    def put(name: str, value: Any, r: LinkRecord | None) -> None:
        out[name] = value
        if value is not None and r is not None:
            prov[name] = _src(r)

    newest_first, by_platform, ordered = _ordered(records)

    # identity
    id_rec = _number_record(ordered, refuse)
    put("id_card_no", id_rec.id18 if id_rec else None, id_rec)
    for name, attr in (("name", "name"), ("gender", "gender"), ("birth_date", "birth")):
        if name != "name" and id_rec is not None:
            # the golden record never contradicts its own number: a record's field that
            # disagrees with the number is the typo
            put(name, id_birth_date(id_rec.id18) if name == "birth_date" else id_gender(id_rec.id18), id_rec)
        else:
            r = next((r for r in ordered if getattr(r, attr)), None)
            put(name, getattr(r, attr) if r else None, r)

    # district
    r = next((r for p in ("public_security", "civil_affairs", "medical_insurance")
              for r in by_platform[p] if r.district), None)
    put("district_code", r.district if r else None, r)

    # status and death
    (status, status_src), (death, death_src) = _status(by_platform)
    put("status", status, status_src)
    put("death_date", death, death_src)

    # civil affairs' own fields
    ca = by_platform["civil_affairs"][0] if by_platform["civil_affairs"] else None
    for f in _CA_FIELDS:
        put(f, (ca.extra or {}).get(f) if ca else None, ca)

    # disability: the newer assessment of the two platforms
    assessments: list[tuple[date, int, LinkRecord]] = []
    for r in records:
        e = r.extra or {}
        if r.resource == "elders" and e.get("ability_level") is not None:
            assessments.append((e.get("ability_assessed_on") or date.min, e["ability_level"], r))
        elif r.resource == "ltc-enrolments" and e.get("disability_level") is not None:
            assessments.append((e.get("assessed_on") or date.min, e["disability_level"], r))
    if assessments:
        on, level, r = max(assessments, key=lambda a: (a[0], a[2].updated_at or 0))
        put("disability_level", level, r)
        put("disability_assessed_on", None if on == date.min else on, r)
    else:
        put("disability_level", None, None)
        put("disability_assessed_on", None, None)

    # contact: the most recent trustworthy value
    trusted = [r for r in newest_first if confident is None or r.idx in confident]
    r = next((r for r in trusted if r.phone), None)
    put("phone", r.phone if r else None, r)
    r = next((r for r in trusted if r.address), None)
    put("address", r.address if r else None, r)

    out["provenance"] = prov
    return out


def _ordered(records: Iterable[LinkRecord]) -> tuple[list[LinkRecord], dict[str, list[LinkRecord]],
                                                     list[LinkRecord]]:
    """The records newest first (one sort; every "most recent" filters it), those of
    each identity source, and all of them in identity order (source, then newest)."""
    newest_first = _latest(records)
    by_platform: dict[str, list[LinkRecord]] = {p: [] for p in _IDENTITY_ORDER}
    for r in newest_first:
        if r.platform in by_platform:
            by_platform[r.platform].append(r)
    return newest_first, by_platform, [r for p in _IDENTITY_ORDER for r in by_platform[p]]


def _number_record(ordered: Sequence[LinkRecord], refuse: Collection[str]) -> LinkRecord | None:
    """The record the golden ID number comes from (``ordered``: identity order). The first
    whose valid number agrees with its own birth date and gender. Else the first whose
    valid number its record contradicts and no other person holds (``refuse``) — the
    check digit vouches for it, the record's field is the likelier typo — unless the
    first record not carrying that number with a birth date, or with a gender, disagrees
    with the number too: an independent source against the number says it is somebody
    else's (a wife's record under her husband's number, another record knowing her as a
    woman born in 1950); then none. (Records carrying the number itself are no
    independent witness against it, whatever their fields say.)"""
    agreeing = next((r for r in ordered if r.id18 and not r.id_contradicted), None)
    if agreeing is not None:
        return agreeing
    valid = next((r for r in ordered if r.id18 and r.id18 not in refuse), None)
    if valid is None:
        return None
    number = valid.id18
    birth = next((r for r in ordered if r.birth and r.id18 != number), None)
    if birth is not None and birth.birth != id_birth_date(number):
        return None
    gender = next((r for r in ordered if r.gender and r.id18 != number), None)
    if gender is not None and gender.gender != id_gender(number):
        return None
    return valid


def _status(by_platform: dict[str, list[LinkRecord]]) -> tuple[tuple[str, LinkRecord | None],
                                                                tuple[date | None, LinkRecord | None]]:
    """(status, its source), (date of death, its source), from the newest public-security
    record and the newest death certificate."""
    ps = by_platform["public_security"][0] if by_platform["public_security"] else None
    cert = next((r for r in by_platform["health"] if r.resource == "death-certificates"), None)
    status, death, death_src = "alive", None, None
    status_src = ps
    if ps is not None and ps.ps_status == "2":
        status = "moved_out"
    if ps is not None and ps.ps_status == "1":
        status, death, death_src = "deceased", ps.death_date, ps
    if cert is not None:  # a death certificate outranks "moved out": a person can die elsewhere
        if status != "deceased":
            status, status_src = "deceased", cert
        if death is None:
            death, death_src = cert.death_date, cert
    return (status, status_src), (death, death_src)


def golden_number(records: Sequence[LinkRecord], refuse: Collection[str] = ()) -> str | None:
    """The ID number the golden record of ``records`` publishes, without building the rest
    of it: the same choice, made by the same code."""
    _newest, _by_platform, ordered = _ordered(records)
    r = _number_record(ordered, refuse)
    return r.id18 if r is not None else None


def life_dates(records: Sequence[LinkRecord], refuse: Collection[str] = ()) -> tuple[date | None, date | None]:
    """The birth date and date of death the golden record of ``records`` publishes (who
    counts as an elder goes by these): the same choices, made by the same code."""
    _newest, by_platform, ordered = _ordered(records)
    id_rec = _number_record(ordered, refuse)
    if id_rec is not None:
        born = id_birth_date(id_rec.id18)
    else:
        born = next((r.birth for r in ordered if r.birth), None)
    return born, _status(by_platform)[1][0]
