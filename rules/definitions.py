"""The finding rules of POLICY.md, one named object each: what it checks, the policy clause,
what it reads, how a steward reads a finding, and the SQL that finds its breaches.

Every rule is one ``SELECT`` over the registry's inputs (the quality gate's ``acc_*``
tables) and the run's working tables (``rules.context``), returning one row per item it
judges with these columns:

``person_id, org_code, period, key_period, period_start, period_end, anchor,
amount_at_risk, measure, expected, note, ev1 … ev4``

* ``period`` is POLICY.md's grain: a month ``YYYY-MM`` (card, home-care, operator and
  monthly after-death items), a date (meals, deliveries, property orders, one finding per
  item), an ISO week (time coins), ``YYYY-MM..YYYY-MM`` per continuous episode
  (duplicate enrolments, centralized + home care, missed support);
* a finding is named by ``(rule, person_id, org_code, key_period, anchor)`` — its id stays
  the same on every later run that finds it; ``key_period`` is the period, except for
  episodes, which are named by their first month (an episode that goes on keeps its id);
* ``ev1 … ev4`` are the evidence, ``platform/resource/record_id`` each (null: none);
* ``measure``/``expected``/``note`` are what the explanation for stewards quotes.

Join order: where a few rows lead to many (the dead to their transactions, enrolment
pairs to their months), the SQL says ``a CROSS JOIN b … WHERE …``: SQLite, which keeps no
statistics here, then keeps that order and reaches the many through their indexes;
PostgreSQL plans it like any inner join.

Persons: a transaction reaches its person through ``rule_id`` (every valid number the
person's linked records carry), so a person registered twice or under a typo'd but valid
number is still one person; an enrolment through the elder record it names. ``:ws`` and
``:as_of`` are the judgement window; policy numbers come from ``policy_param`` as in force
on the judged date (``rules.sql.param``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rules.sql import add_years, materialized, param, year_of

__all__ = ["RULES", "Rule", "rule"]

Sql = Callable[[str], str]


@dataclass(frozen=True)
class Rule:
    code: str
    clause: str  # where the policy says so
    checks: str  # what it checks, in one sentence
    inputs: tuple[str, ...]  # what it reads
    explain_zh: str  # for stewards; fields: period, amount, measure, expected, note
    explain_en: str
    sql: Sql  # dialect name -> SELECT (see the module docstring)
    amount: str = "max"  # how a finding's rows add up: "sum" (one row per item) or "max"
    omission: bool = False  # MISSED_*: eligible but not served; amount 0
    subject: str = "person"  # or "org": the institution rules also carry org_code

    def __post_init__(self) -> None:
        if self.amount not in ("sum", "max"):
            raise ValueError(f"rule {self.code}: amount must be 'sum' or 'max', got {self.amount!r}")
        if self.subject not in ("person", "org"):
            raise ValueError(f"rule {self.code}: subject must be 'person' or 'org', got {self.subject!r}")


def _ev(platform_resource: str, col: str) -> str:
    return f"'{platform_resource}/' || {col}"


def _day(col: str) -> str:
    """A date column as its ``YYYY-MM-DD`` text."""
    return f"CAST({col} AS VARCHAR(10))"


def _out(person: str, org: str, period: str, key_period: str, start: str, end: str, anchor: str, amount: str,
         measure: str, expected: str, note: str, *evidence: str) -> str:
    if len(evidence) > 4:
        raise ValueError("a rule row carries at most four evidence records")
    evs = list(evidence) + ["NULL"] * (4 - len(evidence))
    cols = [person, org, period, key_period, start, end, anchor, amount, measure, expected, note, *evs]
    names = ["person_id", "org_code", "period", "key_period", "period_start", "period_end", "anchor",
             "amount_at_risk", "measure", "expected", "note", "ev1", "ev2", "ev3", "ev4"]
    # a bare NULL has no type once it passes through a derived table (PostgreSQL makes it text)
    numeric = {"amount_at_risk", "measure", "expected"}
    typed = [f"CAST(NULL AS {'NUMERIC' if n in numeric else 'VARCHAR(200)'})" if c == "NULL" else c
             for c, n in zip(cols, names, strict=True)]
    return ",\n       ".join(f"{c} AS {n}" for c, n in zip(typed, names, strict=True))


# Held in a month (POLICY.md "Held / active"): from start to end inclusive; rule_enrolment
# already leaves suspended enrolments out and closes open ones at the as-of date.
def _held(e: str, m: str) -> str:
    return f"{e}.start_date <= {m}.last_day AND {e}.end_date >= {m}.first_day"


_DEP = "acc_civil_affairs__card_deposits"
_MEAL = "acc_civil_affairs__meal_records"
_PAY = "acc_civil_affairs__subsidy_payments"
_COIN = "acc_civil_affairs__time_bank"
_LTCPAY = "acc_medical_insurance__ltc_payments"
_ORDER = "acc_property_mgmt__service_orders"


# ------------------------------------------------------------------------ cards, home care


def _card_and_family_bed(d: str) -> str:
    # Which of the two is at risk follows the type-2 enrolment's chosen policy: a holder who
    # chose the bed discount should have no card subsidy, and the other way round.
    return f"""
SELECT {_out("ri.person_id", "NULL", "m.month", "m.month", "m.first_day", "m.last_day", "''",
             "CASE WHEN c2.chosen_policy = 'card_subsidy' AND bp.amount IS NOT NULL THEN bp.amount "
             "ELSE cd.subsidy_amount END",
             "cd.subsidy_amount", "bp.amount", "c2.chosen_policy",
             _ev("civil_affairs/card-deposits", "cd.record_id"), _ev("civil_affairs/benefits", "bed.record_id"),
             _ev("civil_affairs/subsidy-payments", "bp.record_id"), _ev("civil_affairs/benefits", "c2.record_id"))}
FROM {_DEP} cd
JOIN rule_id ri ON ri.id_card_no = cd.id_card_no AND ri.person_id IS NOT NULL
JOIN rule_month m ON m.first_day = cd.month
JOIN rule_enrolment bed ON bed.person_id = ri.person_id AND bed.program = 'FAMILY_BED' AND {_held("bed", "m")}
LEFT JOIN rule_enrolment c2 ON c2.person_id = ri.person_id AND c2.program = 'CONSUMPTION_CARD_2' AND {_held("c2", "m")}
LEFT JOIN (SELECT ri2.person_id, sp.period, sp.amount, sp.record_id
           FROM {_PAY} sp JOIN rule_id ri2 ON ri2.id_card_no = sp.id_card_no
           WHERE NOT sp.deleted AND sp.program = 'FAMILY_BED') bp
       ON bp.person_id = ri.person_id AND bp.period = m.first_day
WHERE NOT cd.deleted AND cd.card_type = 2 AND cd.subsidy_amount > 0"""


def _home_care_and_card(d: str) -> str:
    # the months of purchased home care lead; their persons' card subsidies follow
    return f"""
WITH hm AS (
  SELECT hc.person_id, hc.record_id AS hc_rid, m.month, m.first_day, m.last_day
  FROM rule_enrolment hc JOIN rule_month m ON {_held("hc", "m")}
  WHERE hc.program = 'HOME_CARE_PURCHASE' AND hc.person_id IS NOT NULL
), dep AS (
  SELECT DISTINCT ri.person_id, cd.month, cd.record_id, cd.subsidy_amount, cd.card_type
  FROM (SELECT DISTINCT person_id FROM hm) p CROSS JOIN rule_id ri CROSS JOIN {_DEP} cd
  WHERE ri.person_id = p.person_id AND cd.id_card_no = ri.id_card_no
    AND NOT cd.deleted AND cd.subsidy_amount > 0
), total AS (
  SELECT person_id, month, SUM(subsidy_amount) AS amount FROM dep GROUP BY person_id, month
)
SELECT {_out("hm.person_id", "NULL", "hm.month", "hm.month", "hm.first_day", "hm.last_day", "''",
             "total.amount", "total.amount", "NULL", "CAST(dep.card_type AS VARCHAR(4))",
             _ev("civil_affairs/card-deposits", "dep.record_id"), _ev("civil_affairs/benefits", "hm.hc_rid"))}
FROM hm
JOIN dep ON dep.person_id = hm.person_id AND dep.month = hm.first_day
JOIN total ON total.person_id = hm.person_id AND total.month = hm.first_day"""


def _home_care_operator(d: str) -> str:
    # The institution's family-bed operating subsidy for the elder in a month: an operator
    # enrolment held that month or an operator payment for it, to the organisation that
    # serves the elder under purchased home care that month. What was paid is summed per
    # finding row through the indexes (an aggregate joined to few rows can be planned as a
    # rescan per row).
    paid = (f"(SELECT SUM(p.amount) FROM rule_id pr CROSS JOIN {_PAY} p WHERE pr.person_id = op.person_id "
            f"AND p.id_card_no = pr.id_card_no AND NOT p.deleted AND p.program = 'FAMILY_BED_OPERATOR' "
            f"AND p.payee_org_code = op.org_code AND p.period = m.first_day)")
    return f"""
WITH op AS (
  SELECT e.person_id, e.org_code, m.month, e.record_id AS enrol_rid, NULL AS pay_rid
  FROM rule_enrolment e JOIN rule_month m ON {_held("e", "m")}
  WHERE e.program = 'FAMILY_BED_OPERATOR' AND e.person_id IS NOT NULL
  UNION ALL
  SELECT ri.person_id, sp.payee_org_code, m.month, NULL, sp.record_id
  FROM {_PAY} sp JOIN rule_id ri ON ri.id_card_no = sp.id_card_no AND ri.person_id IS NOT NULL
  JOIN rule_month m ON m.first_day = sp.period
  WHERE NOT sp.deleted AND sp.program = 'FAMILY_BED_OPERATOR'
)
SELECT {_out("op.person_id", "op.org_code", "m.month", "m.month", "m.first_day", "m.last_day", "''",
             f"COALESCE({paid}, 0)", paid, "NULL", "NULL",
             _ev("civil_affairs/benefits", "hc.record_id"), _ev("civil_affairs/benefits", "op.enrol_rid"),
             _ev("civil_affairs/subsidy-payments", "op.pay_rid"))}
FROM op
JOIN rule_month m ON m.month = op.month
JOIN rule_enrolment hc ON hc.person_id = op.person_id AND hc.program = 'HOME_CARE_PURCHASE'
     AND hc.org_code = op.org_code AND {_held("hc", "m")}"""


def _card_without_deposit(d: str) -> str:
    # Judged per holder, card type and month (POLICY.md: "a card subsidy for a month"): a
    # month's deposit may come as several top-ups, and a subsidy sent twice is paid twice,
    # so the month's deposits and subsidies are added up. A holder the registry does not
    # hold is told apart by the number on the deposits (the finding is named by its first
    # record, never by the number: it is personal data).
    pmin_j, pmin = param("pmin", "card_min_deposit", "mo.month", district="mo.district_code", key="mo.card_type")
    psub_j, psub = param("psub", "card_subsidy", "mo.month", district="mo.district_code", key="mo.card_type")
    short = f"(mo.deposits = 0 OR mo.deposit < {pmin})"
    return f"""
WITH cd AS {materialized(d)} (
  SELECT dep.record_id, dep.month, dep.card_type, dep.deposit_amount, dep.subsidy_amount, ri.person_id,
         rp.district_code, COALESCE(ri.person_id, dep.id_card_no, dep.record_id) AS holder
  FROM {_DEP} dep
  LEFT JOIN rule_id ri ON ri.id_card_no = dep.id_card_no
  LEFT JOIN rule_person rp ON rp.person_id = ri.person_id
  WHERE NOT dep.deleted AND dep.month IS NOT NULL AND dep.card_type IS NOT NULL
), mo AS {materialized(d)} (
  SELECT holder, month, card_type, MIN(person_id) AS person_id, MIN(district_code) AS district_code,
         MIN(record_id) AS first_rid, COUNT(deposit_amount) AS deposits,
         SUM(COALESCE(deposit_amount, 0)) AS deposit, SUM(COALESCE(subsidy_amount, 0)) AS subsidy
  FROM cd
  GROUP BY holder, month, card_type
  HAVING SUM(COALESCE(subsidy_amount, 0)) > 0
)
SELECT {_out("mo.person_id", "NULL", "m.month", "m.month", "m.first_day", "m.last_day",
             "CASE WHEN mo.person_id IS NULL THEN mo.first_rid ELSE '' END",
             f"CASE WHEN {short} THEN mo.subsidy ELSE ABS(mo.subsidy - {psub}) END",
             "CASE WHEN mo.deposits = 0 THEN NULL ELSE mo.deposit END",
             f"CASE WHEN {short} THEN {pmin} ELSE {psub} END",
             f"CASE WHEN {short} THEN 'deposit' ELSE 'amount' END || ':' || CAST(mo.card_type AS VARCHAR(4))",
             _ev("civil_affairs/card-deposits", "cd.record_id"))}
FROM mo
JOIN cd ON cd.holder = mo.holder AND cd.month = mo.month AND cd.card_type = mo.card_type
JOIN rule_month m ON m.first_day = mo.month
{pmin_j}
{psub_j}
WHERE {short} OR mo.subsidy <> {psub}"""


# ------------------------------------------------------------------------------ meals

_MEALS_IN_WINDOW = "NOT ml.deleted AND ml.meal_date BETWEEN :ws AND :as_of"


def _meal_under_age(d: str) -> str:
    age_j, age = param("pa", "meal_min_age", "ml.meal_date", district="ml.district_code")
    return f"""
SELECT {_out("ri.person_id", "NULL", _day("ml.meal_date"), _day("ml.meal_date"), "ml.meal_date", "ml.meal_date",
             "ml.record_id", "ml.subsidy_amount", "NULL", age, "ml.meal_type",
             _ev("civil_affairs/meal-records", "ml.record_id"))}
FROM {_MEAL} ml
JOIN rule_id ri ON ri.id_card_no = ml.id_card_no
{age_j}
WHERE {_MEALS_IN_WINDOW} AND ml.subsidy_amount > 0
  AND ri.birth_date IS NOT NULL AND ml.meal_date < {add_years(d, "ri.birth_date", age)}"""


def _meal_rest_day(d: str) -> str:
    return f"""
SELECT {_out("ri.person_id", "NULL", _day("ml.meal_date"), _day("ml.meal_date"), "ml.meal_date", "ml.meal_date",
             "ml.record_id", "ml.subsidy_amount", "NULL", "NULL", "ml.meal_type",
             _ev("civil_affairs/meal-records", "ml.record_id"))}
FROM {_MEAL} ml
JOIN rule_calendar c ON c.day = ml.meal_date
LEFT JOIN rule_id ri ON ri.id_card_no = ml.id_card_no
WHERE {_MEALS_IN_WINDOW} AND ml.subsidy_amount > 0 AND NOT c.workday"""


def _meal_not_lunch(d: str) -> str:
    # the type in any case ("Lunch" is lunch, here and in MEAL_DUPLICATE); a meal of no
    # stated type is not judged (the quality suite flags it)
    return f"""
SELECT {_out("ri.person_id", "NULL", _day("ml.meal_date"), _day("ml.meal_date"), "ml.meal_date", "ml.meal_date",
             "ml.record_id", "ml.subsidy_amount", "NULL", "NULL", "ml.meal_type",
             _ev("civil_affairs/meal-records", "ml.record_id"))}
FROM {_MEAL} ml
LEFT JOIN rule_id ri ON ri.id_card_no = ml.id_card_no
WHERE {_MEALS_IN_WINDOW} AND ml.subsidy_amount > 0 AND LOWER(ml.meal_type) <> 'lunch'"""


def _meal_duplicate(d: str) -> str:
    # One finding per person and day; the subsidies beyond the largest one are at risk.
    # Somebody the registry does not hold is told apart by their number, and the finding
    # is named by its first meal record (never by the number: it is personal data).
    who = "COALESCE(ri.person_id, ml.id_card_no)"
    return f"""
SELECT {_out("l.person_id", "NULL", _day("l.meal_date"), _day("l.meal_date"), "l.meal_date", "l.meal_date",
             "CASE WHEN l.person_id IS NULL THEN l.first_rid ELSE '' END", "l.total - l.top", "l.n", "1", "NULL",
             _ev("civil_affairs/meal-records", "l.record_id"))}
FROM (
  SELECT ri.person_id, ml.meal_date, ml.record_id,
         COUNT(*) OVER w AS n, SUM(ml.subsidy_amount) OVER w AS total, MAX(ml.subsidy_amount) OVER w AS top,
         MIN(ml.record_id) OVER w AS first_rid
  FROM {_MEAL} ml
  LEFT JOIN rule_id ri ON ri.id_card_no = ml.id_card_no
  WHERE {_MEALS_IN_WINDOW} AND ml.subsidy_amount > 0 AND LOWER(ml.meal_type) = 'lunch'
  WINDOW w AS (PARTITION BY {who}, ml.meal_date)
) l
WHERE l.n > 1"""


def _delivery_ineligible(d: str) -> str:
    lo_j, lo = param("plo", "delivery_min_level", "x.meal_date", district="x.district_code")
    hi_j, hi = param("phi", "delivery_max_level", "x.meal_date", district="x.district_code")
    # the band whose upper bound is the smallest one at or above the distance (the
    # district's own bands before the city's); the last band has no upper bound
    due = ("(SELECT b.value FROM policy_param b WHERE b.name = 'delivery_subsidy' "
           "AND x.meal_date BETWEEN b.valid_from AND b.valid_to "
           "AND (b.district_code IS NULL OR b.district_code = x.district_code) "
           "AND (b.upper IS NULL OR x.delivery_distance_km <= b.upper) "
           "ORDER BY CASE WHEN b.district_code IS NULL THEN 1 ELSE 0 END, "
           "CASE WHEN b.upper IS NULL THEN 1 ELSE 0 END, b.upper LIMIT 1)")
    # the newest assessment on or before the meal date, either platform's (a tie: the higher level)
    newest = ("SELECT {col} FROM rule_assessment a WHERE a.person_id = ml_person AND a.assessed_on <= ml.meal_date "
              "ORDER BY a.assessed_on DESC, a.level DESC LIMIT 1")
    lvl = "(" + newest.format(col="a.level").replace("ml_person", "ri.person_id") + ")"
    src = "(" + newest.format(col="a.platform || '/' || a.resource || '/' || a.record_id").replace(
        "ml_person", "x.person_id").replace("ml.meal_date", "x.meal_date") + ")"
    ineligible = f"(x.level IS NULL OR x.level < {lo} OR x.level > {hi})"
    # x is computed once (materialized): its level and due band are one lookup each per
    # delivered meal; the assessment's record is looked up only for the findings
    return f"""
WITH x AS {materialized(d)} (
  SELECT ml.record_id, ml.meal_date, ml.district_code, ml.delivery_distance_km, ml.delivery_subsidy_amount,
         ri.person_id, {lvl} AS level, {due.replace("x.", "ml.")} AS due
  FROM {_MEAL} ml
  LEFT JOIN rule_id ri ON ri.id_card_no = ml.id_card_no
  WHERE {_MEALS_IN_WINDOW} AND ml.delivery_subsidy_amount > 0
)
SELECT {_out("x.person_id", "NULL", _day("x.meal_date"), _day("x.meal_date"), "x.meal_date", "x.meal_date",
             "x.record_id",
             f"CASE WHEN {ineligible} THEN x.delivery_subsidy_amount ELSE ABS(x.delivery_subsidy_amount - x.due) END",
             "x.delivery_distance_km", f"CASE WHEN {ineligible} THEN NULL ELSE x.due END",
             f"CASE WHEN {ineligible} THEN 'level:' || COALESCE(CAST(x.level AS VARCHAR(2)), 'none') ELSE 'band' END",
             _ev("civil_affairs/meal-records", "x.record_id"),
             f"CASE WHEN {ineligible} THEN {src} ELSE NULL END")}
FROM x
{lo_j}
{hi_j}
WHERE {ineligible} OR (x.delivery_distance_km IS NOT NULL AND x.delivery_subsidy_amount <> x.due)"""


# ------------------------------------------------------------------------------ death


def _paid_after_death(d: str) -> str:
    # dated items after the date of death; monthly items for a month after the month of
    # death; time coins for a week whose Monday is after it. One finding per person and
    # period, all the items of that period its evidence. The few dead lead: their numbers
    # reach their transactions through the ID-number indexes (no scan of a year of meals).
    dead = """WITH dead AS (
  SELECT ri.id_card_no, rp.person_id, rp.death_date, rp.death_source
  FROM rule_person rp JOIN rule_id ri ON ri.person_id = rp.person_id
  WHERE rp.death_date IS NOT NULL
)"""
    # monthly items: (table, alias, resource, amount, period column, note) — for a month
    # that starts after the death
    monthly = "".join(f"""UNION ALL
SELECT {_out("dd.person_id", "NULL", "m.month", "m.month", "m.first_day", "m.last_day", "''", f"{a}.{amount}",
             "NULL", "NULL", note, _ev(resource, f"{a}.record_id"), "dd.death_source")}
FROM dead dd CROSS JOIN {table} {a}
JOIN rule_month m ON m.first_day = {a}.{period}
WHERE {a}.id_card_no = dd.id_card_no AND NOT {a}.deleted AND {a}.{amount} > 0 AND m.first_day > dd.death_date{also}
""" for table, a, resource, amount, period, note, also in (
        (_DEP, "cd", "civil_affairs/card-deposits", "subsidy_amount", "month", "'card'", ""),
        # a card programme's payment is the two-monthly settlement of the card subsidies
        # the deposits already carry (POLICY.md, Readings): not a second subsidy
        (_PAY, "sp", "civil_affairs/subsidy-payments", "amount", "period", "sp.program",
         " AND COALESCE(sp.program, '') NOT LIKE 'CONSUMPTION_CARD%'"),
        (_LTCPAY, "lp", "medical_insurance/ltc-payments", "amount", "period", "'ltc'", "")))
    return f"""{dead}
SELECT {_out("dd.person_id", "NULL", _day("ml.meal_date"), _day("ml.meal_date"), "ml.meal_date", "ml.meal_date",
             "''", "COALESCE(ml.subsidy_amount, 0) + COALESCE(ml.delivery_subsidy_amount, 0)", "NULL", "NULL",
             "'meal'", _ev("civil_affairs/meal-records", "ml.record_id"), "dd.death_source")}
FROM dead dd CROSS JOIN {_MEAL} ml
WHERE ml.id_card_no = dd.id_card_no AND NOT ml.deleted AND ml.meal_date > dd.death_date AND ml.meal_date BETWEEN :ws AND :as_of
  AND COALESCE(ml.subsidy_amount, 0) + COALESCE(ml.delivery_subsidy_amount, 0) > 0
{monthly}UNION ALL
SELECT {_out("dd.person_id", "NULL", "w.week", "w.week", "w.monday", "w.sunday", "''", "0", "tb.hours_granted",
             "NULL", "'time_coin'", _ev("civil_affairs/time-bank", "tb.record_id"), "dd.death_source")}
FROM dead dd CROSS JOIN {_COIN} tb
JOIN rule_week w ON w.monday = tb.week_start
WHERE tb.id_card_no = dd.id_card_no AND NOT tb.deleted AND tb.hours_granted > 0 AND w.monday > dd.death_date"""


# ------------------------------------------------------------------------- episodes


def _episodes(months_sql: str, select_list: str, extra_from: str = "") -> str:
    """Continuous runs of months (gaps and islands) of ``months_sql``, which returns
    ``person_id, idx, month, first_day, last_day, grp_key`` (``grp_key``: what else tells
    episodes apart, e.g. the programme)."""
    return f"""
WITH mo AS ({months_sql}),
isl AS (
  SELECT mo.*, mo.idx - ROW_NUMBER() OVER (PARTITION BY mo.person_id, mo.grp_key ORDER BY mo.idx) AS island
  FROM mo
),
ep AS (
  SELECT person_id, grp_key, island, MIN(month) AS m0, MAX(month) AS m1, MIN(first_day) AS d0,
         MAX(last_day) AS d1, MIN(idx) AS i0, MAX(idx) AS i1
  FROM isl GROUP BY person_id, grp_key, island
)
SELECT {select_list}
FROM ep {extra_from}"""


def _overlap_months(a: str, b: str) -> str:
    """Join condition: month ``m`` holds a day on which enrolments ``a`` and ``b`` are both held."""
    return (f"m.first_day <= CASE WHEN {a}.end_date < {b}.end_date THEN {a}.end_date ELSE {b}.end_date END "
            f"AND m.last_day >= CASE WHEN {a}.start_date > {b}.start_date THEN {a}.start_date ELSE {b}.start_date END")


def _duplicate_enrolment(d: str) -> str:
    # the months holding a day on which two enrolments of the programme are both held
    months = f"""
    SELECT DISTINCT a.person_id, m.idx, m.month, m.first_day, m.last_day, a.program AS grp_key
    FROM rule_enrolment a CROSS JOIN rule_enrolment b CROSS JOIN rule_month m
    WHERE b.person_id = a.person_id AND b.program = a.program AND b.record_id > a.record_id
      AND b.start_date <= a.end_date AND a.start_date <= b.end_date AND {_overlap_months("a", "b")}
      AND a.person_id IS NOT NULL"""
    # at risk: the payments of that programme beyond the largest one in each month of the
    # episode, summed per episode through the indexes
    extra = """
JOIN rule_enrolment e ON e.person_id = ep.person_id AND e.program = ep.grp_key
     AND e.start_date <= ep.d1 AND e.end_date >= ep.d0"""
    paid_twice = (f"(SELECT COALESCE(SUM(x.extra), 0) FROM (SELECT SUM(p.amount) - MAX(p.amount) AS extra "
                  f"FROM rule_id pr CROSS JOIN {_PAY} p WHERE pr.person_id = ep.person_id "
                  f"AND p.id_card_no = pr.id_card_no AND NOT p.deleted AND p.program = ep.grp_key "
                  f"AND p.period BETWEEN ep.d0 AND ep.d1 GROUP BY p.period) x)")
    sel = _out("ep.person_id", "NULL", "ep.m0 || '..' || ep.m1", "ep.m0", "ep.d0", "ep.d1", "ep.grp_key",
               paid_twice, "NULL", "NULL", "ep.grp_key", _ev("civil_affairs/benefits", "e.record_id"))
    return _episodes(months, sel, extra)


def _centralized_and_home_care(d: str) -> str:
    months = f"""
    SELECT DISTINCT c.person_id, m.idx, m.month, m.first_day, m.last_day, '' AS grp_key
    FROM rule_enrolment c
    JOIN rule_enrolment h ON h.person_id = c.person_id AND h.program = 'HOME_CARE_PURCHASE'
         AND h.start_date <= c.end_date AND c.start_date <= h.end_date
    JOIN rule_month m ON {_overlap_months("c", "h")}
    WHERE c.program = 'CENTRALIZED_SUPPORT' AND c.person_id IS NOT NULL"""
    # at risk: the purchased home care paid for those months
    extra = """
JOIN rule_enrolment e ON e.person_id = ep.person_id AND e.program IN ('CENTRALIZED_SUPPORT', 'HOME_CARE_PURCHASE')
     AND e.start_date <= ep.d1 AND e.end_date >= ep.d0"""
    paid = (f"(SELECT COALESCE(SUM(p.amount), 0) FROM rule_id pr CROSS JOIN {_PAY} p "
            f"WHERE pr.person_id = ep.person_id AND p.id_card_no = pr.id_card_no AND NOT p.deleted "
            f"AND p.program = 'HOME_CARE_PURCHASE' AND p.period BETWEEN ep.d0 AND ep.d1)")
    sel = _out("ep.person_id", "NULL", "ep.m0 || '..' || ep.m1", "ep.m0", "ep.d0", "ep.d1", "''",
               paid, "NULL", "NULL", "NULL", _ev("civil_affairs/benefits", "e.record_id"))
    return _episodes(months, sel, extra)


def _missed_support(d: str) -> str:
    # The month of death counts, as the week of death does for the time bank (POLICY.md:
    # "weeks that start after the death do not count"): months that start after it do
    # not. Moving out is dated only by the registration's update, so that month is left out.
    lvl_j, lvl = param("pl", "support_min_level", "m.last_day", district="rp.district_code")
    age_j, age = param("pe", "elder_age", "m.first_day")
    level = ("(SELECT a.level FROM rule_assessment a WHERE a.person_id = rp.person_id AND a.assessed_on <= m.last_day "
             "ORDER BY a.assessed_on DESC, a.level DESC LIMIT 1)")
    months = f"""
    SELECT x.person_id, x.idx, x.month, x.first_day, x.last_day, '' AS grp_key
    FROM (
      SELECT rp.person_id, rp.assistance_type, rp.lost_only_child, m.idx, m.month, m.first_day, m.last_day,
             {level} AS level, {lvl} AS min_level
      FROM rule_person rp
      JOIN rule_month m ON m.completed
      {lvl_j}
      {age_j}
      WHERE (rp.assistance_type IN ('tekun', 'dibao') OR COALESCE(rp.lost_only_child, FALSE))
        AND (rp.death_date IS NULL OR rp.death_date >= m.first_day)
        AND (rp.gone_on IS NULL OR rp.gone_on > m.last_day)
        AND rp.birth_date IS NOT NULL AND {add_years(d, "rp.birth_date", age)} <= m.first_day
        AND NOT EXISTS (SELECT 1 FROM rule_enrolment s WHERE s.person_id = rp.person_id
                        AND s.program IN ('CENTRALIZED_SUPPORT', 'HOME_CARE_PURCHASE') AND {_held("s", "m")})
    ) x
    WHERE x.assistance_type = 'tekun' OR x.level >= x.min_level"""
    extra = "JOIN rule_person rp ON rp.person_id = ep.person_id"
    # the evidence: the elder record (assistance status), and, where the disability level
    # is what makes the elder owed support, the assessment in force at the episode's end
    # (a long-term-care enrolment's, when that one is the newer)
    assessed = ("CASE WHEN rp.assistance_type = 'tekun' THEN NULL ELSE "
                "(SELECT a.platform || '/' || a.resource || '/' || a.record_id FROM rule_assessment a "
                "WHERE a.person_id = ep.person_id AND a.assessed_on <= ep.d1 "
                "ORDER BY a.assessed_on DESC, a.level DESC, a.platform, a.resource, a.record_id LIMIT 1) END")
    sel = _out("ep.person_id", "NULL", "ep.m0 || '..' || ep.m1", "ep.m0", "ep.d0", "ep.d1", "''", "0",
               "NULL", "NULL", "rp.assistance_type", _ev("civil_affairs/elders", "rp.elder_record_id"), assessed)
    return _episodes(months, sel, extra)


# -------------------------------------------------------------------------- time bank


def _time_bank_over_grant(d: str) -> str:
    cap_j, cap = param("ph", "time_bank_weekly_hours", "t.monday", district="rp.district_code")
    return f"""
SELECT {_out("t.person_id", "NULL", "t.week", "t.week", "t.monday", "t.sunday",
             "CASE WHEN t.person_id IS NULL THEN t.first_rid ELSE '' END", "0", "t.total", cap,
             "CASE WHEN NOT COALESCE(rp.left_behind, FALSE) THEN 'not_left_behind' ELSE 'over' END",
             _ev("civil_affairs/time-bank", "t.record_id"), _ev("civil_affairs/elders", "rp.elder_record_id"))}
FROM (
  SELECT ri.person_id, w.week, w.monday, w.sunday, tb.record_id,
         SUM(tb.hours_granted) OVER (PARTITION BY COALESCE(ri.person_id, tb.id_card_no), w.week) AS total,
         MIN(tb.record_id) OVER (PARTITION BY COALESCE(ri.person_id, tb.id_card_no), w.week) AS first_rid
  FROM {_COIN} tb
  JOIN rule_week w ON w.monday = tb.week_start
  LEFT JOIN rule_id ri ON ri.id_card_no = tb.id_card_no
  WHERE NOT tb.deleted AND tb.hours_granted > 0 AND w.monday <= :as_of AND w.sunday >= :ws
) t
LEFT JOIN rule_person rp ON rp.person_id = t.person_id
{cap_j}
WHERE t.total > {cap} OR NOT COALESCE(rp.left_behind, FALSE)"""


def _missed_time_bank(d: str) -> str:
    age_j, age = param("pe", "elder_age", "w.sunday")
    # the few rural left-behind elders lead: their numbers reach their coins through the
    # ID-number indexes (the whole year of coins sorted against every week of theirs: 17 s)
    return f"""
WITH cand AS {materialized(d)} (
  SELECT rp.person_id, rp.elder_record_id, rp.birth_date, rp.death_date, rp.gone_on
  FROM rule_person rp
  WHERE rp.hukou_type = 'rural' AND COALESCE(rp.left_behind, FALSE) AND rp.birth_date IS NOT NULL
), coin AS {materialized(d)} (
  SELECT DISTINCT p.person_id, tb.week_start
  FROM cand p CROSS JOIN rule_id ri CROSS JOIN {_COIN} tb
  WHERE ri.person_id = p.person_id AND tb.id_card_no = ri.id_card_no AND NOT tb.deleted AND tb.hours_granted > 0
)
SELECT {_out("rp.person_id", "NULL", "w.week", "w.week", "w.monday", "w.sunday", "''", "0", "NULL", "NULL", "NULL",
             _ev("civil_affairs/elders", "rp.elder_record_id"))}
FROM cand rp
JOIN rule_week w ON w.completed
{age_j}
LEFT JOIN coin c ON c.person_id = rp.person_id AND c.week_start = w.monday
WHERE c.person_id IS NULL
  AND (rp.death_date IS NULL OR w.monday <= rp.death_date)
  AND (rp.gone_on IS NULL OR w.monday <= rp.gone_on)
  AND {add_years(d, "rp.birth_date", age)} <= w.sunday"""


# --------------------------------------------------------------------------- property


def _property_ineligible(d: str) -> str:
    # "Not an elder in the registry" needs the order's own evidence: linked to nobody, and
    # either the linker knew the resident as no elder, or the order's birth year makes
    # them under the elder age on the service date, or the order carries a masked ID number
    # that matched no elder (whatever birth year it gives: an elder-aged resident the
    # registry does not hold is no elder in the registry). A claim with no identity at all (no birth year, no number) is
    # not judged: the hub cannot tell a non-elder from an elder it failed to recognise; nor
    # is one whose resident waits in the stewards' review queue (probably somebody's).
    age_j, age = param("pe", "elder_age", "so.service_date")
    under_age = f"({year_of(d, 'so.service_date')} - so.resident_birth_year) < {age}"
    why = ("CASE WHEN rp.person_id IS NOT NULL THEN 'deceased' WHEN pl.method = 'not_elder' THEN 'not_elder' "
           f"WHEN so.resident_birth_year IS NOT NULL AND {under_age} THEN 'under_age' "
           "ELSE 'no_elder_with_this_number' END")
    return f"""
SELECT {_out("pl.person_id", "so.company_credit_code", _day("so.service_date"), _day("so.service_date"),
             "so.service_date", "so.service_date", "so.record_id", "COALESCE(so.subsidy_amount, 0)",
             "so.resident_birth_year", "NULL", why,
             _ev("property_mgmt/service-orders", "so.record_id"),
             "CASE WHEN rp.person_id IS NULL THEN NULL ELSE rp.death_source END")}
FROM {_ORDER} so
LEFT JOIN person_link pl ON pl.platform = 'property_mgmt' AND pl.resource = 'service-orders'
     AND pl.record_id = so.record_id AND pl.valid_to IS NULL
LEFT JOIN rule_person rp ON rp.person_id = pl.person_id
{age_j}
WHERE NOT so.deleted AND so.subsidy_claimed AND so.service_date BETWEEN :ws AND :as_of
  AND (rp.death_date < so.service_date
       OR (pl.record_id IS NOT NULL AND pl.person_id IS NULL AND pl.method <> 'review'
           AND (pl.method = 'not_elder'
                OR (so.resident_birth_year IS NOT NULL AND {under_age})
                OR (so.resident_id_prefix IS NOT NULL AND so.resident_id_suffix IS NOT NULL))))"""


def _price_not_published(d: str) -> str:
    return f"""
SELECT {_out("pl.person_id", "so.company_credit_code", _day("so.service_date"), _day("so.service_date"),
             "so.service_date", "so.service_date", "so.record_id",
             "CASE WHEN c.price IS NULL THEN so.price WHEN so.price > c.price THEN so.price - c.price ELSE 0 END",
             "so.price", "c.price", "CASE WHEN c.price IS NULL THEN 'unpublished' ELSE so.service_type END",
             _ev("property_mgmt/service-orders", "so.record_id"))}
FROM {_ORDER} so
LEFT JOIN person_link pl ON pl.platform = 'property_mgmt' AND pl.resource = 'service-orders'
     AND pl.record_id = so.record_id AND pl.valid_to IS NULL
LEFT JOIN rule_catalog c ON c.company_credit_code = so.company_credit_code AND c.service_type = so.service_type
     AND so.service_date BETWEEN c.valid_from AND c.valid_to
WHERE NOT so.deleted AND so.price IS NOT NULL AND so.service_date BETWEEN :ws AND :as_of
  AND (c.price IS NULL OR c.price <> so.price)"""


# ------------------------------------------------------------------------------ rules

RULES: tuple[Rule, ...] = (
    Rule("CARD_AND_FAMILY_BED", "000 §7",
         "A type-2 card holder gets the card subsidy and the family-bed discount in the same month.",
         ("card-deposits", "benefits", "subsidy-payments"),
         "{period}：2类卡持卡人当月同时享受消费卡补贴（{measure}元）和家庭养老床位优惠，二者只能选一（所选：{note}）。",
         "{period}: a type-2 card holder received the card subsidy ({measure} yuan) and the family-bed "
         "discount in the same month; only one may be chosen (chosen: {note}).",
         _card_and_family_bed),
    Rule("HOME_CARE_AND_CARD", "000 §7",
         "An elder served under government-purchased home care also gets a card subsidy for the same month.",
         ("card-deposits", "benefits"),
         "{period}：享受政府购买居家养老服务的老人当月又领取消费卡补贴{measure}元。",
         "{period}: an elder served under government-purchased home care also received a consumption-card "
         "subsidy of {measure} yuan for the month.",
         _home_care_and_card),
    Rule("HOME_CARE_OPERATOR_BED_SUBSIDY", "000 §7",
         "The institution serving an elder under purchased home care also receives the family-bed "
         "operating subsidy for that elder.",
         ("benefits", "subsidy-payments"),
         "{period}：为该老人提供政府购买居家服务的机构，当月又就该老人领取家庭养老床位运营补贴（{amount}元）。",
         "{period}: the institution serving this elder under purchased home care also received the family-bed "
         "operating subsidy for the same elder ({amount} yuan).",
         _home_care_operator, subject="org"),
    Rule("CARD_SUBSIDY_WITHOUT_DEPOSIT", "000 §6",
         "A card subsidy for a month whose deposit is below the card type's threshold, or of the wrong amount.",
         ("card-deposits",),
         "{period}：消费卡当月充值{measure}元，补贴发放{amount}元不符合标准（门槛/应发：{expected}元；{note}）。",
         "{period}: the card's deposit was {measure} yuan; the subsidy does not follow the rule "
         "(threshold or due amount {expected} yuan; {note}); {amount} yuan at risk.",
         _card_without_deposit),
    Rule("MEAL_UNDER_AGE", "004 二(二)2",
         "A meal subsidy for someone under 70 on the meal date.",
         ("meal-records",),
         "{period}：就餐时未满{expected}周岁，却领取助餐补贴{amount}元。",
         "{period}: a meal subsidy of {amount} yuan although the elder was under {expected} on the meal date.",
         _meal_under_age),
    Rule("MEAL_NON_WORKING_DAY", "004 二(二)2",
         "A meal subsidy on a statutory holiday or rest day.",
         ("meal-records",),
         "{period}为法定节假日或休息日，却发放助餐补贴{amount}元。",
         "{period} is a statutory holiday or rest day, yet a meal subsidy of {amount} yuan was paid.",
         _meal_rest_day),
    Rule("MEAL_NOT_LUNCH", "004 二(二)2",
         "A meal subsidy for a meal other than lunch.",
         ("meal-records",),
         "{period}：补贴只适用于午餐，却为{note}发放助餐补贴{amount}元。",
         "{period}: the subsidy is for lunch only, yet {amount} yuan were paid for a meal of type '{note}'.",
         _meal_not_lunch),
    Rule("MEAL_DUPLICATE", "004 二(二)2",
         "More than one subsidised lunch for one person on one day, at any institutions.",
         ("meal-records",),
         "{period}：同一老人当天有{measure}份补贴午餐，多领补贴{amount}元。",
         "{period}: {measure} subsidised lunches for one elder on one day; {amount} yuan paid beyond one.",
         _meal_duplicate),
    Rule("DELIVERY_INELIGIBLE", "004 二(二)2",
         "A delivery subsidy for someone whose latest disability level on that date is not 2-5, or of an "
         "amount outside the distance band.",
         ("meal-records", "elders", "ltc-enrolments"),
         "{period}：送餐补贴不符合条件（{note}；距离{measure}公里，应发{expected}元），涉及{amount}元。",
         "{period}: the delivery subsidy breaks the rule ({note}; {measure} km, due {expected} yuan); "
         "{amount} yuan at risk.",
         _delivery_ineligible),
    Rule("PAID_AFTER_DEATH", "不重不漏",
         "A payment, meal, card subsidy, time coin or LTC payment dated after the person's death.",
         ("meal-records", "card-deposits", "subsidy-payments", "ltc-payments", "time-bank", "residents",
          "death-certificates"),
         "{period}：老人已去世，仍有{note}等待遇发放，共{amount}元。",
         "{period}: the elder had died, yet {note} items were paid ({amount} yuan).",
         _paid_after_death, amount="sum"),
    Rule("DUPLICATE_ENROLMENT", "不重不漏",
         "One person holds two enrolments in one programme with overlapping dates.",
         ("benefits", "subsidy-payments"),
         "{period}：同一老人在{note}项目中同时有两条以上有效登记（多为两个区或两条人员记录），重复支付{amount}元。",
         "{period}: the elder holds two or more overlapping enrolments in {note} (typically in two districts "
         "or under two records of the same person); {amount} yuan paid twice.",
         _duplicate_enrolment),
    Rule("CENTRALIZED_AND_HOME_CARE", "000 §1-2",
         "Centralized (institutional) support and purchased home care overlapping.",
         ("benefits", "subsidy-payments"),
         "{period}：集中供养与政府购买居家养老服务重叠，居家服务支付{amount}元。",
         "{period}: centralized support and purchased home care overlap; {amount} yuan paid for home care.",
         _centralized_and_home_care),
    Rule("TIME_BANK_OVER_GRANT", "000 §8",
         "More than 4 hours in one week, or coins granted to someone not left-behind.",
         ("time-bank", "elders"),
         "{period}：当周发放时间币{measure}小时（上限{expected}小时；{note}）。",
         "{period}: {measure} hours of time coins granted in the week (at most {expected}; {note}).",
         _time_bank_over_grant),
    Rule("PROPERTY_SUBSIDY_INELIGIBLE", "004 二(一)2",
         "A property company claims a subsidy for a service to someone who is not an elder in the registry, "
         "or who was dead on the service date.",
         ("service-orders", "residents", "death-certificates"),
         "{period}：物业企业为非登记老年人或已去世老人申领服务补贴{amount}元（{note}）。",
         "{period}: the property company claimed a subsidy of {amount} yuan for a service to someone who is "
         "not an elder in the registry or had died ({note}).",
         _property_ineligible, subject="org"),
    Rule("PRICE_NOT_AS_PUBLISHED", "004 二(一)3",
         "A property service order priced differently from the company's published catalogue.",
         ("service-orders", "service-catalog"),
         "{period}：服务订单价格{measure}元与企业公示价格{expected}元不一致（{note}）。",
         "{period}: the order was priced {measure} yuan, the company's published price is {expected} yuan "
         "({note}).",
         _price_not_published, subject="org"),
    Rule("MISSED_SUPPORT", "000 原则 分类保障",
         "Omission: a tekun elder, or a dibao or lost-only-child elder with disability level 2 or more, "
         "with neither centralized support nor purchased home care active.",
         ("elders", "benefits", "ltc-enrolments"),
         "{period}：{note}老人符合兜底保障条件，但既无集中供养也无政府购买居家服务，请核实并上门服务。",
         "{period}: the elder ({note}) is owed support, yet has neither centralized support nor purchased "
         "home care; please check and reach out.",
         _missed_support, omission=True),
    Rule("MISSED_TIME_BANK", "000 §8",
         "Omission: a rural left-behind elder with no time coins in a completed week of the period.",
         ("elders", "time-bank"),
         "{period}：农村留守老人当周未获得时间币，请核实。",
         "{period}: a rural left-behind elder received no time coins that week; please check.",
         _missed_time_bank, omission=True),
)

_BY_CODE = {r.code: r for r in RULES}


def rule(code: str) -> Rule:
    try:
        return _BY_CODE[code]
    except KeyError:
        raise KeyError(f"no rule {code!r}; the rules are {', '.join(_BY_CODE)}") from None
