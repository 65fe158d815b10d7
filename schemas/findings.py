"""Subsidy findings: suspected breaches of the policy's rules (POLICY.md), stewards'
decisions on them, the judging runs, and the working tables the rules run over.

* ``finding`` — one row per finding ever raised, under a stable ``finding_id``: the same
  breach found by a later run keeps its id (and the steward's decision on it). ``state``
  is ``open`` while the runs find it, ``closed`` once a run judging its period no longer
  does (never deleted). The latest decision sits on the row; every decision is also
  logged in ``finding_decision``.
* ``rule_run`` — one judging run: its window, as-of date, counts per rule, timings.
* ``policy_param`` — the effective-dated policy parameters in force (from
  ``rules/policy.yaml``), as the rules' SQL reads them.
* ``rule_*`` / ``finding_candidate*`` — working tables a run fills and the rules read:
  persons with what the rules need, ID number → person, disability assessments, the
  calendar, months; and the findings a run produced before they are merged.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import JSON, Boolean, Date, Index, Integer, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from schemas.base import Base, UTCDateTime
from schemas.landing import BigId

__all__ = [
    "Finding",
    "FindingCandidate",
    "FindingDecision",
    "PolicyParam",
    "RuleAssessment",
    "RuleCalendar",
    "RuleCatalog",
    "RuleEnrolment",
    "RuleId",
    "RuleMonth",
    "RuleOut",
    "RulePerson",
    "RuleRun",
    "RuleWeek",
]


class RuleRun(Base):
    __tablename__ = "rule_run"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16))  # running, done, failed
    release: Mapped[int | None] = mapped_column(Integer)  # the registry release judged
    window_start: Mapped[date | None] = mapped_column(Date)
    as_of: Mapped[date | None] = mapped_column(Date)
    stats: Mapped[dict | None] = mapped_column(JSON)  # per rule: found, new, closed, seconds
    error: Mapped[str | None] = mapped_column(Text)


class Finding(Base):
    __tablename__ = "finding"

    finding_id: Mapped[str] = mapped_column(String(20), primary_key=True)
    natural_key: Mapped[str] = mapped_column(String(400), unique=True)
    rule: Mapped[str] = mapped_column(String(40))
    person_id: Mapped[str | None] = mapped_column(String(16))
    org_code: Mapped[str | None] = mapped_column(String(64))
    period: Mapped[str] = mapped_column(String(20))
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    amount_at_risk: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    measure: Mapped[Decimal | None] = mapped_column(Numeric(14, 3))  # what was found (age, hours…)
    expected: Mapped[Decimal | None] = mapped_column(Numeric(14, 3))  # what the policy allows
    note: Mapped[str | None] = mapped_column(String(200))
    evidence: Mapped[list] = mapped_column(JSON)  # [[platform, resource, record_id], …]
    evidence_hash: Mapped[str] = mapped_column(String(32))
    district_code: Mapped[str | None] = mapped_column(String(6))  # for outreach lists
    town: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(8))  # open, closed
    first_run: Mapped[int] = mapped_column(BigId)
    last_run: Mapped[int] = mapped_column(BigId)  # the last run that found it
    closed_run: Mapped[int | None] = mapped_column(BigId)
    decision: Mapped[str | None] = mapped_column(String(12))  # confirmed, dismissed, fixed
    decision_by: Mapped[str | None] = mapped_column(String(64))
    decision_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decision_reason: Mapped[str | None] = mapped_column(Text)
    decision_evidence_hash: Mapped[str | None] = mapped_column(String(32))

    __table_args__ = (
        Index("ix_finding_rule_state", "rule", "state"),
        Index("ix_finding_person", "person_id"),
        Index("ix_finding_last_run", "last_run"),
    )


class FindingDecision(Base):
    """Every steward decision (and every reopening by the hub), as made."""

    __tablename__ = "finding_decision"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    finding_id: Mapped[str] = mapped_column(String(20), index=True)
    decision: Mapped[str] = mapped_column(String(12))  # confirmed, dismissed, fixed, reopened
    steward: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime)
    evidence_hash: Mapped[str] = mapped_column(String(32))


class PolicyParam(Base):
    __tablename__ = "policy_param"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(48))
    district_code: Mapped[str | None] = mapped_column(String(6))  # null: the whole city
    key: Mapped[str | None] = mapped_column(String(16))  # e.g. the card type, a distance band
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date] = mapped_column(Date)  # inclusive
    value: Mapped[Decimal] = mapped_column(Numeric(14, 3))
    upper: Mapped[Decimal | None] = mapped_column(Numeric(14, 3))  # a band's upper bound

    __table_args__ = (Index("ix_policy_param_name", "name", "valid_from"),)


# ---------------------------------------------------------------- working tables


class RulePerson(Base):
    """The current registry's persons with what the rules need (rebuilt every run)."""

    __tablename__ = "rule_person"

    person_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    birth_date: Mapped[date | None] = mapped_column(Date)
    death_date: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str | None] = mapped_column(String(16))
    gone_on: Mapped[date | None] = mapped_column(Date)  # moved out: the day it was known
    district_code: Mapped[str | None] = mapped_column(String(6))
    town: Mapped[str | None] = mapped_column(String(64))
    hukou_type: Mapped[str | None] = mapped_column(String(16))
    assistance_type: Mapped[str | None] = mapped_column(String(16))
    left_behind: Mapped[bool | None] = mapped_column(Boolean)
    lost_only_child: Mapped[bool | None] = mapped_column(Boolean)
    elder_record_id: Mapped[str | None] = mapped_column(String(128))  # civil affairs
    ps_record_id: Mapped[str | None] = mapped_column(String(128))  # public security
    death_source: Mapped[str | None] = mapped_column(String(200))  # platform/resource/record_id


class RuleId(Base):
    """Every valid ID number the rules meet (linked records and transactions), with the
    person it belongs to (null: nobody in the registry) and the birth date to judge ages
    by (the person's, else the one the number encodes)."""

    __tablename__ = "rule_id"

    id_card_no: Mapped[str] = mapped_column(String(18), primary_key=True)
    person_id: Mapped[str | None] = mapped_column(String(16), index=True)
    birth_date: Mapped[date | None] = mapped_column(Date)


class RuleEnrolment(Base):
    """Civil-affairs enrolments (benefits) with their person: by the elder record they
    name, else by ID number. Suspended enrolments are left out (not held)."""

    __tablename__ = "rule_enrolment"

    record_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    person_id: Mapped[str | None] = mapped_column(String(16))
    program: Mapped[str | None] = mapped_column(String(32))
    org_code: Mapped[str | None] = mapped_column(String(64))
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date)  # an open enrolment: the as-of date
    chosen_policy: Mapped[str | None] = mapped_column(String(32))

    __table_args__ = (Index("ix_rule_enrolment_person", "person_id", "program"),)


class RuleWeek(Base):
    """Every ISO week touching the judgement window."""

    __tablename__ = "rule_week"

    week: Mapped[str] = mapped_column(String(8), primary_key=True)  # 2024-W05
    monday: Mapped[date] = mapped_column(Date)
    sunday: Mapped[date] = mapped_column(Date)
    completed: Mapped[bool] = mapped_column(Boolean)  # inside the window and over by the as-of date


class RuleAssessment(Base):
    """Disability assessments (civil affairs' ability level, every version of the elder
    record; long-term care's disability level), per person and date."""

    __tablename__ = "rule_assessment"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    person_id: Mapped[str] = mapped_column(String(16))
    assessed_on: Mapped[date] = mapped_column(Date)
    level: Mapped[int] = mapped_column(Integer)
    platform: Mapped[str] = mapped_column(String(32))
    resource: Mapped[str] = mapped_column(String(48))
    record_id: Mapped[str] = mapped_column(String(128))

    __table_args__ = (Index("ix_rule_assessment_person", "person_id", "assessed_on"),)


class RuleCalendar(Base):
    """Every day of the judgement window: working day or not (China's official calendar)."""

    __tablename__ = "rule_calendar"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    workday: Mapped[bool] = mapped_column(Boolean)


class RuleMonth(Base):
    """Every month touching the judgement window."""

    __tablename__ = "rule_month"

    month: Mapped[str] = mapped_column(String(7), primary_key=True)  # YYYY-MM
    idx: Mapped[int] = mapped_column(Integer)  # year * 12 + month - 1: consecutive months differ by 1
    first_day: Mapped[date] = mapped_column(Date)
    last_day: Mapped[date] = mapped_column(Date)
    completed: Mapped[bool] = mapped_column(Boolean)  # inside the window and over by the as-of date


class RuleCatalog(Base):
    """Property companies' published prices, each catalogue version with the days it was
    the newest fetched (the platform keeps no history: the hub's snapshots are it)."""

    __tablename__ = "rule_catalog"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    company_credit_code: Mapped[str] = mapped_column(String(32))
    service_type: Mapped[str] = mapped_column(String(32))
    price: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    valid_from: Mapped[date] = mapped_column(Date)  # the first catalogue in force from the beginning
    valid_to: Mapped[date] = mapped_column(Date)
    snapshot_id: Mapped[int] = mapped_column(BigId)

    __table_args__ = (Index("ix_rule_catalog_company", "company_credit_code", "service_type"),)


class RuleOut(Base):
    """One rule's findings as its SQL returns them (one row per item judged), before they
    are spread into ``finding_candidate`` one row per evidence record."""

    __tablename__ = "rule_out"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    person_id: Mapped[str | None] = mapped_column(String(16))
    org_code: Mapped[str | None] = mapped_column(String(64))
    period: Mapped[str] = mapped_column(String(20))
    key_period: Mapped[str] = mapped_column(String(20))  # the part of the period that names the finding
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    anchor: Mapped[str] = mapped_column(String(200))  # what else names the finding ('' if nothing)
    amount_at_risk: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    measure: Mapped[Decimal | None] = mapped_column(Numeric(14, 3))
    expected: Mapped[Decimal | None] = mapped_column(Numeric(14, 3))
    note: Mapped[str | None] = mapped_column(String(200))
    # evidence: ``platform/resource/record_id`` each, or null
    ev1: Mapped[str | None] = mapped_column(String(220))
    ev2: Mapped[str | None] = mapped_column(String(220))
    ev3: Mapped[str | None] = mapped_column(String(220))
    ev4: Mapped[str | None] = mapped_column(String(220))


class FindingCandidate(Base):
    """A finding as one run's rules produced it, one row per evidence record, before the
    run merges it into ``finding``."""

    __tablename__ = "finding_candidate"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    natural_key: Mapped[str] = mapped_column(String(400))
    rule: Mapped[str] = mapped_column(String(40))
    person_id: Mapped[str | None] = mapped_column(String(16))
    org_code: Mapped[str | None] = mapped_column(String(64))
    period: Mapped[str] = mapped_column(String(20))
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    amount_at_risk: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    measure: Mapped[Decimal | None] = mapped_column(Numeric(14, 3))
    expected: Mapped[Decimal | None] = mapped_column(Numeric(14, 3))
    note: Mapped[str | None] = mapped_column(String(200))
    # one row per evidence record: the finding's columns repeat
    platform: Mapped[str] = mapped_column(String(32))
    resource: Mapped[str] = mapped_column(String(48))
    record_id: Mapped[str] = mapped_column(String(128))
