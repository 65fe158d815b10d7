"""The subsidy rules of POLICY.md, each with a planted breach, clean cases and near misses,
on SQLite and PostgreSQL; the stewards' workflow; policy parameters as effective-dated
data; the official calendar."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select, update

from hub.db import get_engine
from rules.calendar import is_workday
from rules.errors import CalendarNotCovered, RulesError
from rules.findings import decide, iter_findings
from rules.judge import judge
from rules.params import load_params
from schemas.findings import Finding, FindingDecision
from schemas.staging import accepted_table
from tests.rules_world import RulesWorld


@pytest.fixture
def world(settings) -> RulesWorld:  # noqa: ANN001
    return RulesWorld(get_engine(settings))


def run(settings, world: RulesWorld, window_start: date | None = date(2024, 1, 1)) -> dict[str, list[dict]]:  # noqa: ANN001
    """Write what the world queued, judge (the window from 2024-01-01 unless told), and
    return the open findings by rule."""
    world.write()
    judge(settings, engine=world.engine, progress=lambda m: None, window_start=window_start)
    out: dict[str, list[dict]] = {}
    with world.engine.connect() as conn:
        for f in iter_findings(conn):
            out.setdefault(f["rule"], []).append(f)
    return out


def periods(found: dict, rule: str) -> list[str]:
    return sorted(f["period"] for f in found.get(rule, []))


def refs(finding: dict) -> set[tuple[str, str, str]]:
    return {(e["platform"], e["resource"], e["record_id"]) for e in finding["evidence"]}


# ------------------------------------------------------------------------------ meals


def test_meal_under_age_counts_full_years_and_the_70th_birthday_is_old_enough(settings, world) -> None:
    idn = world.person("P1", born="1954-03-05")
    world.meal(idn, "2024-03-04")  # the day before the 70th birthday: under age
    world.meal(idn, "2024-03-05")  # the birthday itself: 70 full years
    world.meal(idn, "2024-03-01", subsidy="0")  # under age but nothing paid
    leap = world.person("P2", born="1952-02-29")
    world.meal(leap, "2022-02-28")  # a common year: the 70th birthday is 1 March
    world.meal(leap, "2022-03-01")
    found = run(settings, world, window_start=date(2022, 1, 1))
    assert periods(found, "MEAL_UNDER_AGE") == ["2022-02-28", "2024-03-04"]
    f = next(f for f in found["MEAL_UNDER_AGE"] if f["period"] == "2024-03-04")
    assert f["person_id"] == "P1" and Decimal(f["amount_at_risk"]) == 3
    assert "70" in f["explanation"]["zh"] and "under 70" in f["explanation"]["en"]


def test_meal_under_age_of_somebody_the_registry_does_not_hold(settings, world) -> None:
    world.person("P1")
    from tests.world import id_number

    world.meal(id_number("370203", "19680101", 5), "2024-05-06")  # 56, in nobody's registry
    found = run(settings, world)
    [f] = found["MEAL_UNDER_AGE"]
    assert f["person_id"] is None and f["period"] == "2024-05-06"


def test_a_number_a_linked_record_contradicts_is_not_its_persons(settings, world) -> None:
    """P1 (born 1950, a woman) has a family-doctor contract under her husband's number (a
    man born 1968): the contract's own birth date and gender contradict it. His meals are
    his — 56, under age — not hers."""
    from tests.world import id_number

    world.person("P1", born="1950-04-20")
    husband = id_number("370203", "19680101", 5)
    world.link("health", "family-doctor-contracts", "FC1", "P1")
    world._acc("health", "family-doctor-contracts", "FC1", id_card_no=husband, name="栾秀英",
               birth_date=date(1950, 4, 20), gender="F")
    world.meal(husband, "2024-05-06")
    found = run(settings, world)
    [f] = found["MEAL_UNDER_AGE"]
    assert f["person_id"] is None and f["period"] == "2024-05-06"


def test_meals_on_rest_days_follow_the_official_calendar(settings, world) -> None:
    idn = world.person("P1", born="1940-01-01")
    world.meal(idn, "2024-02-04")  # Sunday, a make-up working day for the Spring Festival
    world.meal(idn, "2024-02-09")  # 除夕 2024: a working day by that year's notice
    world.meal(idn, "2024-02-12")  # Monday inside the Spring Festival holiday
    world.meal(idn, "2024-03-02")  # an ordinary Saturday
    world.meal(idn, "2024-03-04")  # an ordinary Monday
    world.meal(idn, "2024-03-09", subsidy="0")  # Saturday, nothing paid
    found = run(settings, world)
    assert periods(found, "MEAL_NON_WORKING_DAY") == ["2024-02-12", "2024-03-02"]


def test_meal_not_lunch_and_duplicate_lunches_at_two_institutions(settings, world) -> None:
    idn = world.person("P1", born="1940-01-01")
    world.meal(idn, "2024-04-01", org="A")
    world.meal(idn, "2024-04-01", org="B")  # a second subsidised lunch the same day elsewhere
    world.meal(idn, "2024-04-02", org="A")
    world.meal(idn, "2024-04-02", meal_type="dinner", org="A")  # lunch + subsidised dinner: not a duplicate
    world.meal(idn, "2024-04-03", org="A")
    world.meal(idn, "2024-04-03", org="B", subsidy="0")  # a second lunch, unsubsidised
    found = run(settings, world)
    assert periods(found, "MEAL_DUPLICATE") == ["2024-04-01"]
    [dup] = found["MEAL_DUPLICATE"]
    assert len(dup["evidence"]) == 2 and Decimal(dup["amount_at_risk"]) == 3
    assert periods(found, "MEAL_NOT_LUNCH") == ["2024-04-02"]


def test_duplicate_lunch_under_a_second_registration_of_the_same_person(settings, world) -> None:
    """The person's second elder record carries another (valid) number: its lunches are
    still the person's."""
    from tests.world import id_number

    idn = world.person("P1", born="1940-01-01")
    other = id_number("370211", "19400101", 77)
    world.link("civil_affairs", "elders", "EL-P1-second", "P1")
    world._acc("civil_affairs", "elders", "EL-P1-second", id_card_no=other, district_code="370211")
    world.meal(idn, "2024-04-08", org="A")
    world.meal(other, "2024-04-08", org="B", district="370211")
    found = run(settings, world)
    [dup] = found["MEAL_DUPLICATE"]
    assert dup["person_id"] == "P1" and len(dup["evidence"]) == 2


def test_delivery_needs_level_2_to_5_on_the_meal_date_and_the_distance_band(settings, world) -> None:
    idn = world.person("P1", born="1940-01-01", ability=3, assessed="2024-06-01",
                       ability_history=[(1, "2023-01-10")])
    world.meal(idn, "2024-05-06", km="0.5", delivery="2", delivered=True)  # level 1 then: ineligible
    world.meal(idn, "2024-06-03", km="1.0", delivery="2", delivered=True)  # level 3, exactly 1 km: 2 yuan
    world.meal(idn, "2024-06-04", km="1.01", delivery="2", delivered=True)  # past 1 km: due 3
    world.meal(idn, "2024-06-05", km="7", delivery="4", delivered=True)  # the last band
    other = world.person("P2", born="1941-01-01", ability=0)
    world.ltc_assessment(other, "P2", 4, "2024-02-01")  # long-term care's newer assessment counts
    world.meal(other, "2024-03-04", km="2", delivery="3", delivered=True)
    world.meal(other, "2024-01-08", km="2", delivery="3", delivered=True)  # before it: level 0
    found = run(settings, world)
    assert periods(found, "DELIVERY_INELIGIBLE") == ["2024-01-08", "2024-05-06", "2024-06-04"]
    band = next(f for f in found["DELIVERY_INELIGIBLE"] if f["period"] == "2024-06-04")
    assert Decimal(band["amount_at_risk"]) == 1
    level = next(f for f in found["DELIVERY_INELIGIBLE"] if f["period"] == "2024-05-06")
    assert ("civil_affairs", "elders", "EL-P1-0") in refs(level)  # the assessment that decided it


# ------------------------------------------------------------------------------ cards


def test_card_subsidy_needs_the_deposit_threshold_and_the_right_amount(settings, world) -> None:
    idn = world.person("P1")
    world.deposit(idn, "2024-03", deposit="100", subsidy="50")  # exactly 100: earns 50
    world.deposit(idn, "2024-04", deposit="99.99", subsidy="50")  # below the threshold
    world.deposit(idn, "2024-05", deposit="150", subsidy="60")  # the wrong amount
    world.deposit(idn, "2024-06", deposit="50", subsidy="0")  # below, but nothing paid
    two = world.person("P2")
    world.deposit(two, "2024-03", card_type=2, deposit="200", subsidy="120")
    world.deposit(two, "2024-04", card_type=2, deposit="150", subsidy="120")
    found = run(settings, world)
    got = sorted((f["person_id"], f["period"], Decimal(f["amount_at_risk"])) for f in found["CARD_SUBSIDY_WITHOUT_DEPOSIT"])
    assert got == [("P1", "2024-04", 50), ("P1", "2024-05", 10), ("P2", "2024-04", 120)]


def test_card_and_family_bed_in_the_same_month(settings, world) -> None:
    idn = world.person("P1")
    world.enrolment(idn, "CONSUMPTION_CARD_2", "2024-01-01", chosen="card_subsidy", elder_record_id="EL-P1-0")
    world.enrolment(idn, "FAMILY_BED", "2024-03-10", "2024-04-05", elder_record_id="EL-P1-0")
    for m in ("2024-02", "2024-03", "2024-04", "2024-05"):
        world.deposit(idn, m, card_type=2, deposit="200", subsidy="120")
    world.payment(idn, "FAMILY_BED", "2024-03", "200")
    found = run(settings, world)
    assert periods(found, "CARD_AND_FAMILY_BED") == ["2024-03", "2024-04"]
    march = next(f for f in found["CARD_AND_FAMILY_BED"] if f["period"] == "2024-03")
    assert Decimal(march["amount_at_risk"]) == 200  # chose the card: the bed discount is what is at risk
    assert {r[1] for r in refs(march)} == {"card-deposits", "benefits", "subsidy-payments"}


def test_home_care_and_card_subsidy_in_the_same_month(settings, world) -> None:
    idn = world.person("P1")
    world.enrolment(idn, "HOME_CARE_PURCHASE", "2024-02-15", "2024-03-31", elder_record_id="EL-P1-0")
    world.deposit(idn, "2024-01")  # before home care
    world.deposit(idn, "2024-02")
    world.deposit(idn, "2024-04")  # after
    world.enrolment(idn, "HOME_CARE_PURCHASE", "2024-06-01", "2024-06-30", status="suspended")
    world.deposit(idn, "2024-06")  # suspended home care is not held
    found = run(settings, world)
    assert periods(found, "HOME_CARE_AND_CARD") == ["2024-02"]


def test_home_care_institution_also_paid_the_family_bed_operating_subsidy(settings, world) -> None:
    idn = world.person("P1")
    world.enrolment(idn, "HOME_CARE_PURCHASE", "2024-01-01", org="ORG-A", elder_record_id="EL-P1-0")
    world.enrolment(idn, "FAMILY_BED_OPERATOR", "2024-03-01", "2024-04-30", org="ORG-A", elder_record_id="EL-P1-0")
    world.payment(idn, "FAMILY_BED_OPERATOR", "2024-03", "300", org="ORG-A")
    world.payment(idn, "FAMILY_BED_OPERATOR", "2024-04", "300", org="ORG-A")
    world.payment(idn, "FAMILY_BED_OPERATOR", "2024-05", "300", org="ORG-B")  # another institution
    found = run(settings, world)
    got = sorted((f["period"], f["org_code"], Decimal(f["amount_at_risk"]))
                 for f in found["HOME_CARE_OPERATOR_BED_SUBSIDY"])
    assert got == [("2024-03", "ORG-A", 300), ("2024-04", "ORG-A", 300)]


# ------------------------------------------------------------------------------ death


def test_paid_after_death_on_the_last_day_of_a_month(settings, world) -> None:
    idn = world.person("P1", born="1935-01-01", death="2024-03-31")
    world.payment(idn, "HOME_CARE_PURCHASE", "2024-03", "400")  # the month of death: due
    world.payment(idn, "HOME_CARE_PURCHASE", "2024-04", "400")  # after it
    world.meal(idn, "2024-03-29")  # alive
    world.meal(idn, "2024-04-01")  # after death
    world.deposit(idn, "2024-04")
    world.ltc_payment(idn, "2024-04", "900")
    world.coin(idn, "2024-03-25")  # the week of the death: its Monday is before it
    world.coin(idn, "2024-04-01")
    found = run(settings, world)
    assert periods(found, "PAID_AFTER_DEATH") == ["2024-04", "2024-04-01", "2024-W14"]
    april = next(f for f in found["PAID_AFTER_DEATH"] if f["period"] == "2024-04")
    assert Decimal(april["amount_at_risk"]) == 400 + 50 + 900  # every monthly item of April
    assert ("public_security", "residents", "PS-P1") in refs(april)  # the death it rests on


# ------------------------------------------------------------------------ enrolments


def test_duplicate_enrolment_of_a_person_registered_in_two_districts(settings, world) -> None:
    idn = world.person("P1", elder_records=2)
    world.enrolment(idn, "MEAL_AID", "2024-01-01", elder_record_id="EL-P1-0", district="370202")
    world.enrolment(idn, "MEAL_AID", "2024-03-15", "2024-05-10", elder_record_id="EL-P1-1", district="370211")
    world.payment(idn, "MEAL_AID", "2024-04", "30")
    world.payment(idn, "MEAL_AID", "2024-04", "30")
    # near miss: one ends on the 14th, the next starts on the 20th of the same month
    world.enrolment(idn, "TIME_BANK", "2024-01-01", "2024-06-14", elder_record_id="EL-P1-0")
    world.enrolment(idn, "TIME_BANK", "2024-06-20", None, elder_record_id="EL-P1-1")
    found = run(settings, world)
    [f] = found["DUPLICATE_ENROLMENT"]
    assert f["period"] == "2024-03..2024-05" and f["person_id"] == "P1"
    assert Decimal(f["amount_at_risk"]) == 30
    assert len(f["evidence"]) == 2


def test_centralized_support_and_home_care_overlapping(settings, world) -> None:
    idn = world.person("P1", assistance="tekun")
    world.enrolment(idn, "CENTRALIZED_SUPPORT", "2023-06-01", elder_record_id="EL-P1-0")
    world.enrolment(idn, "HOME_CARE_PURCHASE", "2024-05-20", "2024-07-02", elder_record_id="EL-P1-0")
    world.payment(idn, "HOME_CARE_PURCHASE", "2024-06", "400")
    other = world.person("P2", assistance="tekun")  # near miss: home care ends the day before
    world.enrolment(other, "HOME_CARE_PURCHASE", "2024-02-01", "2024-04-14", elder_record_id="EL-P2-0")
    world.enrolment(other, "CENTRALIZED_SUPPORT", "2024-04-15", None, elder_record_id="EL-P2-0")
    found = run(settings, world)
    [f] = found["CENTRALIZED_AND_HOME_CARE"]
    assert f["period"] == "2024-05..2024-07" and Decimal(f["amount_at_risk"]) == 400


def test_missed_support_for_tekun_dibao_and_lost_only_child(settings, world) -> None:
    t = world.person("P1", assistance="tekun", ability=0)
    world.enrolment(t, "CENTRALIZED_SUPPORT", "2023-01-01", "2024-03-10", elder_record_id="EL-P1-0")
    world.enrolment(t, "CENTRALIZED_SUPPORT", "2024-07-01", None, elder_record_id="EL-P1-0")
    world.person("P2", assistance="dibao", ability=1)  # dibao, able: not owed
    d2 = world.person("P3", assistance="dibao", ability=2)
    world.enrolment(d2, "HOME_CARE_PURCHASE", "2023-01-01", None, elder_record_id="EL-P3-0")  # served
    world.person("P4", assistance="dibao_edge", ability=4)  # dibao_edge does not count
    world.person("P5", lost_only_child=True, ability=3)  # never served: the whole window
    # died on 20 May: May counts (as the week of death does for the time bank), June not
    world.person("P6", assistance="tekun", ability=0, death="2024-05-20")
    # owed from March on by long-term care's newer assessment: the finding rests on it too
    d7 = world.person("P7", assistance="dibao", ability=1)
    lte = world.ltc_assessment(d7, "P7", 3, "2024-03-01")
    found = run(settings, world)
    got = sorted((f["person_id"], f["period"]) for f in found["MISSED_SUPPORT"])
    # the window is 2024-01 .. 2025-01-10: January 2025 is not completed
    assert got == [("P1", "2024-04..2024-06"), ("P5", "2024-01..2024-12"), ("P6", "2024-01..2024-05"),
                   ("P7", "2024-03..2024-12")]
    evidence = {f["person_id"]: sorted(e["record_id"] for e in f["evidence"]) for f in found["MISSED_SUPPORT"]}
    assert evidence["P7"] == sorted(["EL-P7-0", lte])
    assert evidence["P5"] == ["EL-P5-0"] and evidence["P1"] == ["EL-P1-0"]


# -------------------------------------------------------------------------- time bank


def test_time_bank_over_grant_and_coins_for_someone_not_left_behind(settings, world) -> None:
    lb = world.person("P1", hukou="rural", left_behind=True)
    world.coin(lb, "2024-03-04", "4")  # exactly the weekly hours
    world.coin(lb, "2024-03-11", "3")
    world.coin(lb, "2024-03-11", "2")  # 5 in one week
    other = world.person("P2", hukou="rural", left_behind=False)
    world.coin(other, "2024-03-04", "2")
    found = run(settings, world)
    got = sorted((f["person_id"], f["period"]) for f in found["TIME_BANK_OVER_GRANT"])
    assert got == [("P1", "2024-W11"), ("P2", "2024-W10")]


def test_missed_time_bank_counts_completed_weeks_only_and_none_after_death(settings, world) -> None:
    from datetime import timedelta

    lb = world.person("P1", hukou="rural", left_behind=True)
    monday = date(2024, 1, 1)
    while monday + timedelta(days=6) <= date(2025, 1, 10):
        if monday not in (date(2024, 5, 6), date(2024, 5, 13)):
            world.coin(lb, monday.isoformat())
        monday += timedelta(days=7)
    dead = world.person("P2", hukou="rural", left_behind=True, death="2024-01-17")
    for m in ("2024-01-01", "2024-01-08"):
        world.coin(dead, m)
    world.person("P3", hukou="urban", left_behind=True)  # not rural: not the rule's
    found = run(settings, world)
    got = sorted((f["person_id"], f["period"]) for f in found["MISSED_TIME_BANK"])
    # P2 died on Wednesday of week 3: that week counts, the weeks after it do not
    assert got == [("P1", "2024-W19"), ("P1", "2024-W20"), ("P2", "2024-W03")]


# --------------------------------------------------------------------------- property


def test_property_subsidy_for_a_non_elder_or_after_death(settings, world) -> None:
    world.person("P1", death="2024-05-10")
    world.person("P2")
    world.order("P1", "2024-05-10")  # the day of death: alive that day
    world.order("P1", "2024-05-11")
    world.order("P2", "2024-05-11")
    world.order(None, "2024-05-12")  # the linker knew the resident as no elder
    world.order(None, "2024-05-13", claimed=False)
    # linked to nobody: the order's own data decide
    world.order(None, "2024-05-14", method="unmatched", birth_year=1970)  # 54: no elder
    world.order(None, "2024-05-15", method="unmatched", birth_year=1964)  # 60 during 2024: cannot tell
    world.order(None, "2024-05-16", method="unmatched", masked=("370202", "001X"))  # a number no elder has
    world.order(None, "2024-05-17", method="unmatched")  # nothing to tell who it was: not judged
    world.order(None, "2024-05-18", method="review", masked=("370202", "002X"))  # a steward decides first
    # elder-aged by its birth year, but its number matched no elder: somebody the registry
    # does not hold (a 74-year-old registered elsewhere) is no elder in the registry
    world.order(None, "2024-05-19", method="unmatched", birth_year=1950, masked=("370202", "003X"))
    world.catalog("91370202MA3C000001", {"housekeeping": "45"})
    found = run(settings, world)
    got = sorted((f["period"], f["person_id"], f["org_code"]) for f in found["PROPERTY_SUBSIDY_INELIGIBLE"])
    assert got == [("2024-05-11", "P1", "91370202MA3C000001"), ("2024-05-12", None, "91370202MA3C000001"),
                   ("2024-05-14", None, "91370202MA3C000001"), ("2024-05-16", None, "91370202MA3C000001"),
                   ("2024-05-19", None, "91370202MA3C000001")]
    why = {f["period"]: f["explanation"]["en"] for f in found["PROPERTY_SUBSIDY_INELIGIBLE"]}
    assert "under_age" in why["2024-05-14"] and "no_elder_with_this_number" in why["2024-05-19"]


def test_price_not_as_published_compares_decimals(settings, world) -> None:
    world.person("P1")
    world.catalog("C1", {"housekeeping": "45.00", "repair": "80"})
    world.order("P1", "2024-05-01", company="C1", price="45")  # 45 = 45.00
    world.order("P1", "2024-05-02", company="C1", price="50")
    world.order("P1", "2024-05-03", company="C1", service="shopping", price="20")  # not in the catalogue
    world.order("P1", "2024-05-04", company="C2", price="45")  # a company without a catalogue
    found = run(settings, world)
    got = sorted((f["period"], f["org_code"], Decimal(f["amount_at_risk"])) for f in found["PRICE_NOT_AS_PUBLISHED"])
    assert got == [("2024-05-02", "C1", 5), ("2024-05-03", "C1", 20), ("2024-05-04", "C2", 45)]


# --------------------------------------------------------------------------- stewards


def test_finding_ids_are_stable_and_decisions_survive_reruns(settings, world) -> None:
    idn = world.person("P1", born="1940-01-01")
    a = world.meal(idn, "2024-03-02")  # Saturday
    world.meal(idn, "2024-03-09")  # Saturday
    world.meal(idn, "2024-04-01", org="A")
    world.meal(idn, "2024-04-01", org="B")
    found = run(settings, world)
    ids = {f["finding_id"] for fs in found.values() for f in fs}
    sat = next(f for f in found["MEAL_NON_WORKING_DAY"] if f["period"] == "2024-03-02")
    dup = found["MEAL_DUPLICATE"][0]
    with world.engine.begin() as conn:
        decide(conn, sat["finding_id"], "dismissed", "steward-1", "make-up day agreed with the district")
        decide(conn, dup["finding_id"], "dismissed", "steward-1", "one lunch was a guest's")
        with pytest.raises(RulesError, match="reason"):
            decide(conn, sat["finding_id"], "dismissed", "steward-1", "")
    again = run(settings, world)
    assert {f["finding_id"] for fs in again.values() for f in fs} == ids  # same ids
    assert next(f for f in again["MEAL_NON_WORKING_DAY"] if f["period"] == "2024-03-02")["decision"]["decision"] \
        == "dismissed"
    # a third lunch changes the duplicate's evidence: it is reopened for another look
    world.meal(idn, "2024-04-01", org="C")
    # the 2 March meal is withdrawn: its finding is closed, not deleted
    acc = accepted_table("civil_affairs", "meal-records")
    with world.engine.begin() as conn:
        conn.execute(update(acc).where(acc.c.record_id == a).values(deleted=True))
    third = run(settings, world)
    assert periods(third, "MEAL_NON_WORKING_DAY") == ["2024-03-09"]
    reopened = third["MEAL_DUPLICATE"][0]
    assert reopened["finding_id"] == dup["finding_id"] and reopened["decision"] is None
    with world.engine.connect() as conn:
        closed = conn.execute(select(Finding.state, Finding.decision).where(
            Finding.finding_id == sat["finding_id"])).one()
        log = conn.execute(select(FindingDecision.decision).where(
            FindingDecision.finding_id == dup["finding_id"]).order_by(FindingDecision.id)).scalars().all()
    assert tuple(closed) == ("closed", "dismissed")
    assert log == ["dismissed", "reopened"]


def test_stewards_work_from_the_command_line(settings, world, monkeypatch) -> None:  # noqa: ANN001
    """hub judge, hub export findings, hub finding decide — and the decision holds on the
    next judging."""
    import json

    from click.testing import CliRunner

    from hub import settings as hub_settings
    from hub.cli import cli
    from schemas.access import AccessLog

    idn = world.person("P1", born="1940-01-01")
    world.meal(idn, "2024-03-02")  # Saturday
    world.write()
    monkeypatch.setenv("HUB_HOME", str(settings.home))
    monkeypatch.setenv("HUB_DATABASE_URL", settings.db_url)
    monkeypatch.setenv("HUB_RULES_WINDOW_START", "2024-01-01")
    hub_settings.get_settings.cache_clear()
    runner = CliRunner()
    try:
        judged = runner.invoke(cli, ["judge"])
        assert judged.exit_code == 0, judged.output
        assert "MEAL_NON_WORKING_DAY" in judged.output and (settings.home / "reports" / "findings" / "index.html").exists()
        out = runner.invoke(cli, ["export", "findings"])
        assert out.exit_code == 0, out.output
        [f] = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
        assert f["rule"] == "MEAL_NON_WORKING_DAY" and f["evidence"][0]["resource"] == "meal-records"
        no_reason = runner.invoke(cli, ["finding", "decide", f["finding_id"], "dismissed", "--steward", "wang"])
        assert no_reason.exit_code != 0 and "reason" in str(no_reason.exception)
        ok = runner.invoke(cli, ["finding", "decide", f["finding_id"], "confirmed", "--steward", "wang"])
        assert ok.exit_code == 0, ok.output
        assert runner.invoke(cli, ["judge"]).exit_code == 0
        again = runner.invoke(cli, ["export", "findings"])
        [g] = [json.loads(line) for line in again.stdout.splitlines() if line.startswith("{")]
        assert g["finding_id"] == f["finding_id"] and g["decision"]["decision"] == "confirmed"
        assert g["decision"]["by"] == "wang"
        with world.engine.connect() as conn:
            assert conn.execute(select(AccessLog.action)).scalars().all() == ["export:findings"] * 2
    finally:
        hub_settings.get_settings.cache_clear()


def test_findings_hold_no_personal_data(settings, world) -> None:
    idn = world.person("P1", born="1960-01-01")
    world.meal(idn, "2024-03-04")
    found = run(settings, world)
    import json

    text = json.dumps(found, ensure_ascii=False, default=str)
    assert "MEAL_UNDER_AGE" in text and idn not in text


# ------------------------------------------------------------------ parameters, calendar


def test_parameters_in_force_on_the_judged_date_and_per_district(settings, world, tmp_path: Path) -> None:
    base = Path(load_params().path).read_text(encoding="utf-8")
    custom = base.replace(
        '    - {value: 70, from: 2022-01-01, source: "004 二(二)2"}',
        '    - {value: 70, from: 2022-01-01, to: 2024-05-31, source: "004 二(二)2"}\n'
        '    - {value: 75, from: 2024-06-01, source: "a later notice"}\n'
        '    - {value: 65, from: 2022-01-01, district: "370211", source: "a district\'s own"}')
    path = tmp_path / "policy.yaml"
    path.write_text(custom, encoding="utf-8")
    s = settings.model_copy(update={"policy_file": path})
    idn = world.person("P1", born="1952-01-01")  # 72 in 2024
    world.meal(idn, "2024-05-06")  # 70 then: fine
    world.meal(idn, "2024-07-01")  # 75 from June: under age
    young = world.person("P2", born="1957-01-01", district="370211")  # 67
    world.meal(young, "2024-07-02", district="370211")  # the district's 65: fine
    found = run(s, world)
    assert [(f["person_id"], f["period"]) for f in found["MEAL_UNDER_AGE"]] == [("P1", "2024-07-01")]


def test_a_policy_file_that_cannot_be_understood_says_where(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(Path(load_params().path).read_text(encoding="utf-8").replace("value: 100", "value: lots"),
                    encoding="utf-8")
    with pytest.raises(RulesError, match="card_min_deposit"):
        load_params(path)
    path.write_text("meal_subsidy:\n  description: x\n  values:\n"
                    "    - {value: 3, from: 2022-01-01, source: a}\n    - {value: 4, from: 2023-01-01, source: b}\n",
                    encoding="utf-8")
    with pytest.raises(RulesError, match="in force at once"):
        load_params(path)


def test_the_calendar_says_clearly_which_years_it_knows() -> None:
    assert is_workday(date(2024, 2, 4)) and not is_workday(date(2024, 2, 10)) and is_workday(date(2024, 2, 9))
    with pytest.raises(CalendarNotCovered, match="outside it"):
        is_workday(date(2031, 1, 6))


def test_the_window_runs_from_the_first_transaction_to_the_platforms_clock(settings, world) -> None:
    idn = world.person("P1", born="1940-01-01", assistance="tekun")
    world.meal(idn, "2024-06-03")  # the earliest transaction opens the window
    world.meal(idn, "2025-01-11")  # a Saturday after the platforms' as-of date: not judged yet
    world.meal(idn, "2025-01-04")  # a Saturday inside the window
    found = run(settings, world, window_start=None)
    assert periods(found, "MEAL_NON_WORKING_DAY") == ["2025-01-04"]
    # omissions: only the months wholly inside the window and over (not June, opened on
    # the 3rd, nor January 2025)
    assert periods(found, "MISSED_SUPPORT") == ["2024-07..2024-12"]
    with world.engine.connect() as conn:
        last = conn.execute(select(Finding.period_end).order_by(Finding.period_end.desc())).scalar()
    assert last <= datetime(2025, 1, 10, tzinfo=UTC).date()


# ----------------------------------------------------------------- against ground truth


def test_findings_against_the_planted_breaches_of_a_simulated_city(serve, sqlite_settings) -> None:  # noqa: ANN001
    """Generate, serve, ingest, validate, link and judge a city with many planted
    breaches at default noise: every rule finds what was planted, and nothing else."""
    from landing.ingest import ingest_all
    from linking.run import link
    from quality.validate import validate
    from rules.evaluate import score
    from simulators.faults import FaultConfig
    from simulators.generator import GeneratorConfig, generate
    from simulators.store import SimClock

    config = GeneratorConfig(elders=1500, seed=11, breach_rate=0.12)
    store, truth = generate(config)
    serve(store, SimClock(config.now), FaultConfig.none(export_ready_after_s=0.05))
    s = sqlite_settings.model_copy(update={"commit_records": 5000, "ingest_workers": 2})
    assert ingest_all(settings=s).status == "success"
    validate(s, docs=False)
    link(s)
    judge(s, progress=lambda m: None)
    breaches = [{"rule": b.rule, "person_key": b.person_key, "period": b.period,
                 "evidence": [list(e) for e in b.evidence]} for b in truth.breaches]
    with get_engine(s).connect() as conn:
        scores = score(conn, breaches, truth.record_person)
    planted = {code: sc.breaches for code, sc in scores.items()}
    assert sum(planted.values()) > 100, planted
    assert sum(1 for n in planted.values() if n) >= 15, planted  # (nearly) every rule has some
    for code, sc in scores.items():
        assert sc.precision >= 0.99 and sc.recall >= 0.99, (code, str(sc))


def test_a_number_two_persons_hold_belongs_to_neither(settings, world) -> None:
    """Two persons whose golden records carry the same (valid) number: a meal under it is
    judged by the number alone, never given to one of them."""
    from tests.world import id_number

    shared = id_number("370202", "19600101", 5)
    world.person("P1", born="1960-01-01", id_card_no=shared)
    world.person("P2", born="1960-01-01", id_card_no=shared)
    world.meal(shared, "2024-05-06")  # 64: under age
    found = run(settings, world)
    [f] = found["MEAL_UNDER_AGE"]
    assert f["person_id"] is None


# ------------------------------------------------- plausible data another platform may send


def test_one_transaction_dated_before_the_holiday_calendar_does_not_stop_the_judging(settings, world) -> None:
    idn = world.person("P1", born="1940-01-01")
    world.meal(idn, "2024-03-02")  # a Saturday
    world.deposit(idn, "2003-01")  # mis-dated: the calendar starts in 2004
    found = run(settings, world, window_start=None)
    assert periods(found, "MEAL_NON_WORKING_DAY") == ["2024-03-02"]


def test_the_card_settlement_to_the_centre_is_no_payment_after_death(settings, world) -> None:
    """January's card subsidy is due (died 15 January); the January–February settlement
    to the centre, recorded for February, pays that same amount — not a second subsidy."""
    idn = world.person("P1", born="1935-01-01", death="2024-01-15")
    world.deposit(idn, "2024-01", deposit="150", subsidy="50")
    world.payment(idn, "CONSUMPTION_CARD_1", "2024-02", "50", org="CENTRE-1")
    world.payment(idn, "HOME_CARE_PURCHASE", "2024-02", "300", org="ORG-1")  # this one is paid after death
    found = run(settings, world)
    [after] = found["PAID_AFTER_DEATH"]
    assert after["period"] == "2024-02" and Decimal(after["amount_at_risk"]) == 300


def test_a_delivery_without_a_distance_is_judged_on_the_level_only(settings, world) -> None:
    idn = world.person("P1", born="1940-01-01", ability=3, assessed="2023-06-01")
    world.meal(idn, "2024-03-04", km=None, delivery="2", delivered=True)  # no band can be told
    other = world.person("P2", born="1940-01-01", ability=1, assessed="2023-06-01")
    world.meal(other, "2024-03-05", km=None, delivery="2", delivered=True)  # level 1: ineligible anyway
    found = run(settings, world)
    assert [(f["period"], f["person_id"]) for f in found["DELIVERY_INELIGIBLE"]] == [("2024-03-05", "P2")]


def test_meal_types_in_any_case_and_meals_of_no_type(settings, world) -> None:
    idn = world.person("P1", born="1940-01-01")
    world.meal(idn, "2024-03-04", meal_type="Lunch")  # lunch
    world.meal(idn, "2024-03-05", meal_type="LUNCH")
    world.meal(idn, "2024-03-05", meal_type="lunch")  # a second lunch that day
    world.meal(idn, "2024-03-06", meal_type=None)  # no type: neither rule can tell
    world.meal(idn, "2024-03-07", meal_type="Dinner")
    found = run(settings, world)
    assert periods(found, "MEAL_NOT_LUNCH") == ["2024-03-07"]
    assert periods(found, "MEAL_DUPLICATE") == ["2024-03-05"]


def test_an_order_the_registry_has_not_linked_yet_is_not_judged_as_a_non_elders(settings, world) -> None:
    from schemas.registry import PersonLink

    world.person("P1")
    unlinked = world.order("P1", "2024-05-02", masked=("370202", "123X"))
    world.order(None, "2024-05-03", method="unmatched", masked=("370202", None))  # only the area: no number
    world.rows[PersonLink.__table__] = [r for r in world.rows[PersonLink.__table__] if r["record_id"] != unlinked]
    world.catalog("91370202MA3C000001", {"housekeeping": "45"})
    found = run(settings, world)
    assert "PROPERTY_SUBSIDY_INELIGIBLE" not in found


def test_a_catalogue_item_too_long_or_too_dear_for_its_columns_does_not_stop_the_judging(settings, world) -> None:
    from landing.catalog import catalog_entry

    assert catalog_entry({"service_type": "x" * 40, "price": "9999999999999"}) == ("x" * 32, None, "price:out_of_range")
    assert catalog_entry({"service_type": " repair ", "price": "80"}) == ("repair", Decimal("80.00"), None)
    assert catalog_entry({"price": "80"}) is None and catalog_entry("repair") is None
    world.person("P1")
    world.catalog("C1", {"housekeeping": "45", "s" * 40: "10", "repair": "99999999999999999"})
    world.order("P1", "2024-05-02", company="C1", price="50")
    found = run(settings, world)
    assert periods(found, "PRICE_NOT_AS_PUBLISHED") == ["2024-05-02"]


def test_card_subsidies_are_judged_per_month_whatever_the_number_of_deposit_records(settings, world) -> None:
    """A month's deposit as two top-ups is one deposit; a month's subsidy sent twice is
    paid twice; two holders the registry does not know are two findings."""
    from tests.world import id_number

    idn = world.person("P1")
    world.deposit(idn, "2024-03", deposit="60", subsidy="0")
    world.deposit(idn, "2024-03", deposit="60", subsidy="50")  # 120 in all: earns 50
    world.deposit(idn, "2024-04", deposit="150", subsidy="50")
    second = world.deposit(idn, "2024-04", deposit="150", subsidy="50")  # re-sent under a new id: 100 paid
    a, b = id_number("370203", "19500101", 11), id_number("370203", "19510101", 12)
    world.deposit(a, "2024-05", deposit="10", subsidy="50")
    world.deposit(b, "2024-05", deposit="20", subsidy="50")
    found = run(settings, world)
    got = sorted((f["person_id"] or "", f["period"], Decimal(f["amount_at_risk"]))
                 for f in found["CARD_SUBSIDY_WITHOUT_DEPOSIT"])
    assert got == [("", "2024-05", 50), ("", "2024-05", 50), ("P1", "2024-04", 50)]
    april = next(f for f in found["CARD_SUBSIDY_WITHOUT_DEPOSIT"] if f["person_id"] == "P1")
    assert ("civil_affairs", "card-deposits", second) in refs(april) and len(april["evidence"]) == 2


def test_a_corrected_assessment_replaces_the_one_it_corrects(settings, world) -> None:
    """Level 3 entered by mistake, then corrected to 1 for the same assessment date: the
    correction is the assessment (a later version of the record), not the higher level."""
    now = world.person("P1", born="1940-01-01", ability=1, assessed="2024-01-05", ability_history=[(3, "2024-01-05")])
    world.meal(now, "2024-03-04", km="0.5", delivery="2", delivered=True)
    earlier = world.person("P2", born="1940-01-01", ability=4, assessed="2024-02-01",
                           ability_history=[(3, "2023-05-01"), (1, "2023-05-01")])
    world.meal(earlier, "2023-06-01", km="0.5", delivery="2", delivered=True)  # level 1 then
    world.meal(earlier, "2024-03-04", km="0.5", delivery="2", delivered=True)  # level 4 now
    found = run(settings, world, window_start=date(2023, 1, 1))
    got = sorted((f["person_id"], f["period"]) for f in found["DELIVERY_INELIGIBLE"])
    assert got == [("P1", "2024-03-04"), ("P2", "2023-06-01")]
