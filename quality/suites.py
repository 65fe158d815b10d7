"""The suites: one per resource of the platform contract (``../shared/PLATFORMS.md``).

Read a suite as a reviewer would: each line is one check with its severity and threshold.
Thresholds are the share of the rows under validation that may fail before the check
warns or blocks; they are set for real feeds (about 1 % of ID numbers arrive broken), not
for the simulators.

What is quarantined (held back from the registry row by row) follows one principle: a row
is unusable when the only thing that says who it is about is broken (the ID number of a
meal, a payment, a time-bank grant, a home-medical service, a death certificate, an LTC
record), or when the date it is about cannot be true (impossible or in the future, for
meals, services and orders). Rows with a broken ID but a second identity (name + birth
date + gender, an elder record id, a card number) still reach linking. Money with the
wrong sign or above the policy's amounts is flagged but never held back: the subsidy rules
must see it.
"""

from __future__ import annotations

from datetime import timedelta

from landing.normalize import CURRENT_AREA_CODES
from quality.checks import (
    AgreesWithId,
    Between,
    Check,
    DateValid,
    Fresh,
    IdPresent,
    IdValid,
    InSet,
    NotFuture,
    NotNull,
    References,
    UniqueInDelivery,
    Volume,
)

__all__ = ["PROGRAMS", "SUITES", "suite"]

PROGRAMS = ("CONSUMPTION_CARD_1", "CONSUMPTION_CARD_2", "HOME_CARE_PURCHASE", "FAMILY_BED",
            "FAMILY_BED_OPERATOR", "CENTRALIZED_SUPPORT", "MEAL_AID", "MEAL_DELIVERY", "TIME_BANK")
AREAS = tuple(sorted(CURRENT_AREA_CODES))
GENDERS = ("M", "F")
# Broken or missing ID numbers and impossible or future dates are noise every feed carries
# (PLATFORMS.md lists them, at rates it does not give): past 2 % of a batch they warn,
# and only past 10 % — a broken feed (a shifted column, a truncated field), not a noisy
# one — do they block. The unusable rows are quarantined either way; a noisy feed that
# blocked at 2 % would stay blocked run after run and starve the registry.
NOISE_BLOCK = {"severity": "block", "threshold": 0.02, "block_at": 0.10}


def _common(*, volume: bool = True, fresh_days: int = 30) -> list[Check]:
    out: list[Check] = [Fresh(max_age=timedelta(days=fresh_days))]
    if volume:
        out.append(Volume())
    return out


def _id_only() -> list[Check]:
    """ID number checks for a resource whose only identity is the ID number."""
    return [IdValid(quarantine=True, **NOISE_BLOCK), IdPresent(quarantine=True, **NOISE_BLOCK)]


def _id_second() -> list[Check]:
    """ID number checks for a resource with a second identity (not quarantined)."""
    return [IdValid(**NOISE_BLOCK), IdPresent(threshold=0.02)]


def _person(area_col: str | None = "district_code") -> list[Check]:
    out: list[Check] = [
        AgreesWithId(what="birth_date", threshold=0.02), AgreesWithId(what="gender", threshold=0.02),
        NotNull(col="name", threshold=0.01), DateValid("birth_date", threshold=0.01),
        NotFuture(col="birth_date", threshold=0.01), InSet(col="gender", values=GENDERS)]
    if area_col:
        out.append(InSet(col=area_col, values=AREAS, threshold=0.01))
    return out


def _key_date(col: str) -> list[Check]:
    """The date the record is about: impossible or future dates make the row unusable."""
    return [DateValid(col, quarantine=True, **NOISE_BLOCK),
            NotFuture(col=col, quarantine=True, **NOISE_BLOCK),
            NotNull(col=col, threshold=0.01)]


SUITES: dict[tuple[str, str], list[Check]] = {
    ("civil_affairs", "elders"): [
        *_id_second(), *_person(),
        InSet(col="hukou_type", values=("rural", "urban")),
        InSet(col="assistance_type", values=("tekun", "dibao", "dibao_edge")),
        Between(col="ability_level", low=0, high=5, label="level_0_5", severity="block", threshold=0.02),
        DateValid("ability_assessed_on", threshold=0.01), NotFuture(col="ability_assessed_on", threshold=0.01),
        NotNull(col="phone", threshold=0.2), NotNull(col="address", threshold=0.1),
        *_common(),
    ],
    ("civil_affairs", "benefits"): [
        *_id_second(),
        InSet(col="program", values=PROGRAMS, severity="block", threshold=0.01),
        NotNull(col="program", severity="block", threshold=0.01),
        InSet(col="status", values=("active", "suspended", "ended")),
        InSet(col="chosen_policy", values=("card_subsidy", "family_bed_discount")),
        InSet(col="district_code", values=AREAS, threshold=0.01),
        DateValid("start_date", threshold=0.01), DateValid("end_date", threshold=0.01),
        NotNull(col="start_date", threshold=0.01),
        References(col="elder_record_id", target=("civil_affairs", "elders"), threshold=0.01,
                   note="the enrolment's elder record exists"),
        *_common(fresh_days=90),
    ],
    ("civil_affairs", "card-deposits"): [
        *_id_second(),
        InSet(col="card_type", values=(1, 2), severity="block", threshold=0.01),
        NotNull(col="card_no", threshold=0.01), NotNull(col="month", threshold=0.01),
        Between(col="deposit_amount", low=0, label="not_negative", threshold=0.005),
        Between(col="subsidy_amount", low=0, high=120, label="within_policy", threshold=0.01,
                note="0 ≤ card subsidy ≤ 120 yuan a month (type 2, the larger)"),
        References(col="id_card_no", target=("civil_affairs", "benefits"), target_col="id_card_no",
                   label="has_card", threshold=0.05,
                   target_where=(("program", ("CONSUMPTION_CARD_1", "CONSUMPTION_CARD_2")),),
                   note="the card's holder is enrolled in a consumption-card programme"),
        *_common(),
    ],
    ("civil_affairs", "meal-records"): [
        *_id_only(), *_key_date("meal_date"),
        InSet(col="meal_type", values=("lunch", "dinner")),
        InSet(col="district_code", values=AREAS, threshold=0.01),
        Between(col="subsidy_amount", low=0, high=3, label="within_policy", threshold=0.01,
                note="0 ≤ meal subsidy ≤ 3 yuan"),
        Between(col="delivery_subsidy_amount", low=0, high=4, label="within_policy", threshold=0.01,
                note="0 ≤ delivery subsidy ≤ 4 yuan"),
        Between(col="delivery_distance_km", low=0, label="not_negative", threshold=0.005),
        *_common(fresh_days=7),
    ],
    ("civil_affairs", "subsidy-payments"): [
        *_id_only(),
        InSet(col="program", values=PROGRAMS, severity="block", threshold=0.01),
        Between(col="amount", low=0, label="not_negative", threshold=0.005),
        DateValid("paid_on", threshold=0.01), NotFuture(col="paid_on", threshold=0.01),
        NotNull(col="period", threshold=0.01),
        *_common(),
    ],
    ("civil_affairs", "time-bank"): [
        *_id_only(),
        NotNull(col="week_start", threshold=0.01),
        Between(col="hours_granted", low=0, high=168, label="in_range", note="0–168 hours in a week"),
        *_common(),
    ],
    ("health", "family-doctor-contracts"): [
        IdValid(**NOISE_BLOCK), IdPresent(threshold=0.3, note="the contract carries an ID number (may be empty)"),
        *_person(area_col=None),
        DateValid("signed_on", threshold=0.01), NotFuture(col="signed_on", threshold=0.01),
        DateValid("expires_on", threshold=0.01),
        *_common(fresh_days=90),
    ],
    ("health", "home-medical-services"): [
        *_id_only(), *_key_date("service_date"),
        InSet(col="service_type", values=("home_bed", "home_visit", "telemedicine"), severity="block",
              threshold=0.01),
        *_common(),
    ],
    ("health", "death-certificates"): [
        *_id_only(),
        DateValid("date_of_death", threshold=0.01), NotFuture(col="date_of_death", threshold=0.01),
        NotNull(col="date_of_death", severity="block", threshold=0.01),
        DateValid("issued_on", threshold=0.01), NotFuture(col="issued_on", threshold=0.01),
        *_common(volume=False, fresh_days=90),
    ],
    ("medical_insurance", "insured-persons"): [
        *_id_second(), *_person(),
        *_common(fresh_days=90),
    ],
    ("medical_insurance", "ltc-enrolments"): [
        *_id_only(),
        Between(col="disability_level", low=0, high=5, label="level_0_5", severity="block", threshold=0.02),
        InSet(col="care_mode", values=("institution", "home", "family_bed")),
        DateValid("assessed_on", threshold=0.01), NotFuture(col="assessed_on", threshold=0.01),
        DateValid("start_date", threshold=0.01),
        *_common(fresh_days=90),
    ],
    ("medical_insurance", "ltc-payments"): [
        *_id_only(),
        Between(col="amount", low=0, label="not_negative", threshold=0.005),
        NotNull(col="period", threshold=0.01),
        *_common(),
    ],
    ("public_security", "residents"): [
        *_id_second(), *_person(),
        InSet(col="registration_status", values=("0", "1", "2"), severity="block", threshold=0.01),
        UniqueInDelivery(threshold=0.001, note="an export holds each resident once"),
        DateValid("death_date", threshold=0.01), NotFuture(col="death_date", threshold=0.01),
        *_common(fresh_days=90),
    ],
    ("property_mgmt", "service-orders"): [
        *_key_date("service_date"),
        InSet(col="service_type", values=("housekeeping", "medicine_delivery", "shopping", "repair",
                                          "companionship", "safety_watch"), severity="block", threshold=0.01),
        NotNull(col="company_credit_code", severity="block", threshold=0.01),
        NotNull(col="resident_name", threshold=0.05),
        Between(col="price", low=0, label="not_negative", threshold=0.005),
        Between(col="subsidy_amount", low=0, label="not_negative", threshold=0.005),
        Between(col="resident_birth_year", low=1900, high=2100, label="plausible"),
        *_common(),
    ],
}


def suite(platform: str, resource: str) -> list[Check]:
    try:
        return SUITES[(platform, resource)]
    except KeyError:
        raise KeyError(f"no quality suite for {platform}/{resource}") from None


def _unique_names() -> None:
    for key, checks in SUITES.items():
        names = [c.name for c in checks]
        dupes = {n for n in names if names.count(n) > 1}
        if dupes:
            raise ValueError(f"suite {key}: check names repeat: {sorted(dupes)}")


_unique_names()
