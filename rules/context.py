"""What a judging run reads besides the registry's inputs: its window, and working tables
filled afresh every run.

* ``rule_person`` — each current person of the registry with what the rules need
  (birth, death, status, district and town, assistance and care flags);
* ``rule_id`` — ID number → person: every valid number the person's linked records
  carry and do not contradict (so a transaction under a second registration or a typo'd
  but valid number still reaches the person; a number whose record's own birth date or
  gender disagrees with it may be somebody else's), and every other valid number a transaction carries, with the birth
  date it encodes (a meal for a 65-year-old nobody registered is still judged);
* ``rule_enrolment`` — civil-affairs enrolments with their person (by the elder record
  they name, else by ID number), suspended ones left out (not held);
* ``rule_assessment`` — every disability assessment known: each version of the
  civil-affairs elder record (its ability level and date) and each long-term-care
  enrolment version (its disability level and date), so "the newest assessment on or
  before a date" can be answered for any date;
* ``rule_calendar`` / ``rule_month`` / ``rule_week`` — the window's days (working or
  not), months and ISO weeks, each month and week marked completed when it lies inside
  the window and is over by the as-of date;
* ``policy_param`` — the policy parameters (``rules/policy.yaml``).

**The window** (POLICY.md "Judgement window"): from its start — ``HUB_RULES_WINDOW_START``,
by default the earliest transaction date received — to the as-of date, the platforms' own
clock (the newest ``server_time`` of a successful read), never the hub's.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from sqlalchemy import (
    Connection,
    bindparam,
    case,
    delete,
    exists,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    union_all,
    update,
)

from landing.bulk import writer
from landing.catalog import catalog_entry
from landing.normalize import parse_date
from linking.records import PERSON_RESOURCES
from rules.calendar import covered_years, days
from rules.errors import RulesError
from rules.params import PolicyParams, store_params
from schemas.findings import (
    RuleAssessment,
    RuleCalendar,
    RuleCatalog,
    RuleEnrolment,
    RuleId,
    RuleMonth,
    RulePerson,
    RuleWeek,
)
from schemas.landing import CatalogSnapshot, LandingRecord
from schemas.registry import PersonLink, PersonVersion
from schemas.staging import accepted_table

__all__ = ["Window", "build_catalog", "build_context", "window"]

log = logging.getLogger(__name__)
_SHANGHAI = ZoneInfo("Asia/Shanghai")

#: Transactions whose dates open the default window: (resource, date column).
TRANSACTION_DATES = (
    (("civil_affairs", "meal-records"), "meal_date"),
    (("civil_affairs", "card-deposits"), "month"),
    (("civil_affairs", "subsidy-payments"), "period"),
    (("civil_affairs", "time-bank"), "week_start"),
    (("medical_insurance", "ltc-payments"), "period"),
    (("property_mgmt", "service-orders"), "service_date"),
)
#: Resources whose ID numbers may name people the linked records do not.
TRANSACTION_IDS = (
    ("civil_affairs", "meal-records"),
    ("civil_affairs", "card-deposits"),
    ("civil_affairs", "subsidy-payments"),
    ("civil_affairs", "time-bank"),
    ("civil_affairs", "benefits"),
    ("medical_insurance", "ltc-payments"),
)


@dataclass(frozen=True)
class Window:
    start: date
    as_of: date


def window(conn: Connection, as_of: date | None, start: date | None = None, end: date | None = None) -> Window | None:
    """The judgement window, or None when nothing dated has been received yet. ``end``
    (a backfill of an earlier period) ends it before the platforms' as-of date."""
    if as_of is None:
        return None
    if end is not None and end < as_of:
        as_of = end
    if start is None:
        # the earliest transaction date received — within the years the official holiday
        # calendar covers: one deposit mis-dated 2003 must not stop every rule (the
        # working-day rule cannot judge a day the calendar does not know)
        floor = date(covered_years()[0], 1, 1)
        firsts, early = [], []
        for key, col in TRANSACTION_DATES:
            t = accepted_table(*key)
            live = ~t.c.deleted
            firsts.append(conn.execute(select(func.min(t.c[col])).where(live, t.c[col] >= floor)).scalar())
            if conn.execute(select(t.c.record_id).where(live, t.c[col] < floor).limit(1)).first():
                early.append("/".join(key))
        if early:
            log.warning("transactions dated before %s (outside the holiday calendar) in %s are left out of the "
                        "judgement window; HUB_RULES_WINDOW_START sets it by hand", floor, ", ".join(early))
        firsts = [d for d in firsts if d is not None and d <= as_of]
        if not firsts:
            return None
        start = min(firsts)
    if start > as_of:
        raise RulesError(f"the judgement window starts {start} after its as-of date {as_of}; "
                         "check HUB_RULES_WINDOW_START")
    return Window(start, as_of)


def build_context(conn: Connection, w: Window, params: PolicyParams) -> dict[str, int]:
    """Fill the working tables for window ``w`` (inside the caller's transaction);
    returns how many rows each holds."""
    store_params(conn, params)
    tables = (RuleAssessment, RuleEnrolment, RuleId, RulePerson, RuleCalendar, RuleMonth, RuleWeek)
    if conn.dialect.name == "postgresql":
        # TRUNCATE, not DELETE: a deleted row stays in the table and its indexes until a
        # vacuum, so every run would insert millions of rows into ever bigger indexes
        # (2.3 M ID numbers: 36 s into bloated ones). It is transactional on PostgreSQL,
        # and its lock keeps a second judging run waiting instead of mixing with this one.
        conn.exec_driver_sql("TRUNCATE " + ", ".join(t.__tablename__ for t in tables))
    else:
        for t in tables:
            conn.execute(delete(t))
    counts = {"persons": _persons(conn), "ids": _ids(conn), "enrolments": _enrolments(conn, w),
              "assessments": _assessments(conn)}
    _calendar(conn, w)
    return counts


# --------------------------------------------------------------------------- persons


def _persons(conn: Connection) -> int:
    """``rule_person`` from the current golden records, set-based (the golden content is
    JSON: SQLAlchemy's JSON paths read it on either engine)."""
    pv = PersonVersion.__table__.c
    cur = select(pv.person_id, pv.birth_date, pv.death_date, pv.status, pv.district_code,
                 pv.content.label("c")).where(pv.valid_to.is_(None), pv.merged_into.is_(None)).subquery()
    c = cur.c.c
    prov = ("provenance",)
    ca_record = func.coalesce(c[(*prov, "hukou_type", 2)].as_string(), c[(*prov, "assistance_type", 2)].as_string(),
                              c[(*prov, "town", 2)].as_string())
    ps_record = case((c[(*prov, "status", 0)].as_string() == "public_security", c[(*prov, "status", 2)].as_string()))
    death_source = (c[(*prov, "death_date", 0)].as_string() + "/" + c[(*prov, "death_date", 1)].as_string() + "/"
                    + c[(*prov, "death_date", 2)].as_string())
    q = select(cur.c.person_id, cur.c.birth_date, cur.c.death_date, cur.c.status, cur.c.district_code,
               c["town"].as_string(), c["hukou_type"].as_string(), c["assistance_type"].as_string(),
               c["left_behind"].as_boolean(), c["lost_only_child"].as_boolean(), ca_record, ps_record, death_source)
    conn.execute(insert(RulePerson).from_select(
        ["person_id", "birth_date", "death_date", "status", "district_code", "town", "hukou_type", "assistance_type",
         "left_behind", "lost_only_child", "elder_record_id", "ps_record_id", "death_source"], q))
    # Moved out: the registration says so since its last update (the platform gives no date).
    rp = RulePerson.__table__.c
    gone = dict(conn.execute(select(rp.ps_record_id, rp.person_id).where(rp.status == "moved_out",
                                                                         rp.ps_record_id.is_not(None))).all())
    ps = accepted_table("public_security", "residents")
    ids = list(gone)
    for i in range(0, len(ids), 500):
        rows = conn.execute(select(ps.c.record_id, ps.c.updated_at).where(ps.c.record_id.in_(ids[i:i + 500]))).all()
        if rows:
            conn.execute(update(RulePerson).where(rp.person_id == bindparam("pid")).values(gone_on=bindparam("on")),
                         [{"pid": gone[rid], "on": upd.astimezone(_SHANGHAI).date()} for rid, upd in rows])
    return conn.execute(select(func.count()).select_from(RulePerson)).scalar_one()


def _id_birth(dialect: str, col: str) -> str:
    """The birth date a valid 18-digit ID number encodes, in SQL."""
    if dialect == "sqlite":
        return f"substr({col}, 7, 4) || '-' || substr({col}, 11, 2) || '-' || substr({col}, 13, 2)"
    return f"to_date(substr({col}, 7, 8), 'YYYYMMDD')"


def _agrees_with_number(dialect: str, acc: Any) -> list[Any]:
    """Conditions: the record's own birth date and gender (where it has them) agree with
    its number. A number its record contradicts is not taken as that record's person's:
    it may be somebody else's (a wife's contract under her husband's number; the golden
    record then withholds it too) — the person's own golden number is mapped anyway."""
    number = f"{acc.name}.id_card_no"
    out = []
    if "birth_date" in acc.c:
        out.append(or_(acc.c.birth_date.is_(None), acc.c.birth_date == literal_column(_id_birth(dialect, number))))
    if "gender" in acc.c:
        out.append(or_(acc.c.gender.is_(None), acc.c.gender == literal_column(
            f"CASE WHEN CAST(substr({number}, 17, 1) AS INTEGER) % 2 = 1 THEN 'M' ELSE 'F' END")))
    return out


def _ids(conn: Connection) -> int:
    """ID number → person, set-based: a number two persons' records carry goes to the
    person whose golden number it is, else to nobody (ambiguous)."""
    pl = PersonLink.__table__.c
    pv = PersonVersion.__table__.c
    parts = [select(pv.id_card_no.label("id_card_no"), pv.person_id.label("person_id")).where(
        pv.valid_to.is_(None), pv.merged_into.is_(None), pv.id_card_no.is_not(None))]
    for platform, resource in PERSON_RESOURCES:
        acc = accepted_table(platform, resource)
        if "id_card_no" not in acc.c:
            continue
        parts.append(select(acc.c.id_card_no, pl.person_id).join(acc, acc.c.record_id == pl.record_id).where(
            pl.platform == platform, pl.resource == resource, pl.valid_to.is_(None), pl.person_id.is_not(None),
            acc.c.id_card_no.is_not(None), ~acc.c.deleted, *_agrees_with_number(conn.dialect.name, acc)))
    u = union_all(*parts).subquery()
    ri = RuleId.__table__
    rp = RulePerson.__table__.c
    birth = literal_column(_id_birth(conn.dialect.name, "id_card_no"))

    def one_person(numbers):  # noqa: ANN001, ANN202
        """Numbers held by one person only, with that person's birth date (else the one
        the number encodes). The birth date is joined in before grouping: after it, the
        planner cannot tell how many groups there are and joins one at a time."""
        j = select(numbers.c.id_card_no, numbers.c.person_id, rp.birth_date).outerjoin(
            RulePerson.__table__, rp.person_id == numbers.c.person_id).subquery()
        g = select(j.c.id_card_no, func.min(j.c.person_id).label("person_id"),
                   func.min(j.c.birth_date).label("birth_date")).group_by(j.c.id_card_no).having(
            func.min(j.c.person_id) == func.max(j.c.person_id)).subquery()  # one person (a hash, not a sort)
        # in key order: each row then goes next to the one before in the primary key's index
        # (in hash order, 2.3 M rows took 18 s to index)
        return select(g.c.id_card_no, g.c.person_id, func.coalesce(g.c.birth_date, birth)).order_by(g.c.id_card_no)

    conn.execute(insert(ri).from_select(["id_card_no", "person_id", "birth_date"], one_person(u)))
    # NOT EXISTS, never NOT IN: PostgreSQL runs a NOT IN over millions of rows as a scan per row
    known = ri.alias("known")
    golden = select(pv.id_card_no, pv.person_id).where(
        pv.valid_to.is_(None), pv.merged_into.is_(None), pv.id_card_no.is_not(None),
        ~exists().where(known.c.id_card_no == pv.id_card_no)).subquery()
    # a number that is two persons' golden number is nobody's
    conn.execute(insert(ri).from_select(["id_card_no", "person_id", "birth_date"], one_person(golden)))
    # every other valid number a transaction carries: nobody's, judged by the birth date it encodes
    others = union_all(*[select(accepted_table(*k).c.id_card_no.label("id_card_no")).where(
        accepted_table(*k).c.id_card_no.is_not(None)) for k in TRANSACTION_IDS]).subquery()
    distinct = select(others.c.id_card_no).distinct().where(
        ~exists().where(known.c.id_card_no == others.c.id_card_no)).subquery()
    conn.execute(insert(ri).from_select(["id_card_no", "birth_date"],
                                        select(distinct.c.id_card_no, birth).select_from(distinct)))
    return conn.execute(select(func.count()).select_from(ri)).scalar_one()


# ------------------------------------------------------------------------ enrolments


def _enrolments(conn: Connection, w: Window) -> int:
    bn = accepted_table("civil_affairs", "benefits").c
    pl = PersonLink.__table__.c
    ri = RuleId.__table__.c
    q = (select(bn.record_id, func.coalesce(pl.person_id, ri.person_id), bn.program, bn.provider_org_code,
                bn.start_date, func.coalesce(bn.end_date, w.as_of), bn.chosen_policy)
         .select_from(accepted_table("civil_affairs", "benefits"))
         .outerjoin(PersonLink.__table__, (pl.platform == "civil_affairs") & (pl.resource == "elders")
                    & (pl.record_id == bn.elder_record_id) & pl.valid_to.is_(None))
         .outerjoin(RuleId.__table__, ri.id_card_no == bn.id_card_no)
         .where(~bn.deleted, bn.start_date.is_not(None), func.coalesce(bn.status, "") != "suspended"))
    conn.execute(insert(RuleEnrolment).from_select(
        ["record_id", "person_id", "program", "org_code", "start_date", "end_date", "chosen_policy"], q))
    return conn.execute(select(func.count()).select_from(RuleEnrolment)).scalar_one()


# ----------------------------------------------------------------------- assessments

#: Where each platform's assessments are: (platform, resource) -> the accepted record's
#: (level, date) columns, and the same fields on the wire (for the earlier versions).
_ASSESSED = {
    ("civil_affairs", "elders"): (("ability_level", "ability_assessed_on"), ("ability_level", "ability_assessed_on")),
    ("medical_insurance", "ltc-enrolments"): (("disability_level", "assessed_on"), ("disabilityLevel", "assessedOn")),
}


def _assessments(conn: Connection) -> int:
    """Each linked record's current assessment, set-based; then, in Python, the earlier
    versions of the records that landed more than once (the history an elder record
    keeps only in its versions)."""
    lr = LandingRecord.__table__.c
    pl = PersonLink.__table__.c
    ra = RuleAssessment.__table__
    for (platform, resource), ((level_c, date_c), (level_f, date_f)) in _ASSESSED.items():
        acc = accepted_table(platform, resource)
        linked = (pl.platform == platform) & (pl.resource == resource) & (pl.record_id == acc.c.record_id) \
            & pl.valid_to.is_(None) & pl.person_id.is_not(None)
        conn.execute(insert(ra).from_select(
            ["person_id", "assessed_on", "level", "platform", "resource", "record_id"],
            select(pl.person_id, acc.c[date_c], acc.c[level_c], literal(platform), literal(resource),
                   acc.c.record_id).join(PersonLink.__table__, linked).where(
                ~acc.c.deleted, acc.c[date_c].is_not(None), acc.c[level_c].between(0, 5))))
        several = select(lr.record_id).where(lr.platform == platform, lr.resource == resource).group_by(
            lr.record_id).having(func.count() > 1)
        # An assessment is a record's (date, level): a later version of the record that
        # gives the same date with another level corrects it, so of each record's versions
        # per assessment date only the latest counts — and the current version's date is
        # already taken above.
        current = set(conn.execute(select(acc.c.record_id, acc.c[date_c]).where(
            ~acc.c.deleted, acc.c.record_id.in_(several))).tuples())
        q = (select(pl.person_id, lr.record_id, lr.updated_at, lr.payload)
             .join(PersonLink.__table__, (pl.platform == lr.platform) & (pl.resource == lr.resource)
                   & (pl.record_id == lr.record_id) & pl.valid_to.is_(None) & pl.person_id.is_not(None))
             .where(lr.platform == platform, lr.resource == resource, ~lr.deleted, lr.record_id.in_(several)))
        latest: dict[tuple, tuple] = {}  # (person, record, date) -> (update time, level)
        for pid, rid, updated, payload in conn.execute(q).yield_per(20_000):
            try:
                rec = orjson.loads(payload)
            except orjson.JSONDecodeError:
                continue
            level, on = rec.get(level_f), rec.get(date_f)
            if isinstance(level, str) and level.strip().isascii() and level.strip().isdigit():
                level = int(level)
            if not isinstance(level, int) or isinstance(level, bool) or not 0 <= level <= 5:
                continue
            day, _issue = parse_date(on) if isinstance(on, str) else (None, None)
            if day is None or (rid, day) in current:
                continue
            key = (pid, rid, day)
            if key not in latest or latest[key][0] < updated:
                latest[key] = (updated, level)
        # through the DBAPI (COPY on PostgreSQL): 500,000 versions at a city's scale
        out = writer(conn, ra, ("person_id", "assessed_on", "level", "platform", "resource", "record_id"))
        batch: list[tuple] = []
        for (pid, rid, day), (_, level) in latest.items():
            batch.append((pid, day, level, platform, resource, rid))
            if len(batch) >= 20_000:
                out.write(conn, batch)
                batch = []
        out.write(conn, batch)
    return conn.execute(select(func.count()).select_from(ra)).scalar_one()


# -------------------------------------------------------------------------- calendar


def _calendar(conn: Connection, w: Window) -> None:
    conn.execute(insert(RuleCalendar), [{"day": d, "workday": wd} for d, wd in days(w.start, w.as_of)])
    months = []
    y, m = w.start.year, w.start.month
    while (y, m) <= (w.as_of.year, w.as_of.month):
        first = date(y, m, 1)
        nxt = date(y + (m == 12), m % 12 + 1, 1)
        last = nxt - timedelta(days=1)
        months.append({"month": f"{y:04d}-{m:02d}", "idx": y * 12 + m - 1, "first_day": first, "last_day": last,
                       "completed": first >= w.start and last <= w.as_of})
        y, m = nxt.year, nxt.month
    conn.execute(insert(RuleMonth), months)
    weeks = []
    monday = w.start - timedelta(days=w.start.weekday())
    while monday <= w.as_of:
        iso = monday.isocalendar()
        sunday = monday + timedelta(days=6)
        weeks.append({"week": f"{iso.year:04d}-W{iso.week:02d}", "monday": monday, "sunday": sunday,
                      "completed": monday >= w.start and sunday <= w.as_of})
        monday += timedelta(days=7)
    conn.execute(insert(RuleWeek), weeks)


def build_catalog(conn: Connection) -> int:
    """``rule_catalog`` from every catalogue version the hub fetched: each company's
    versions by fetch time, each in force until the next one; the first one also before
    it (the platform keeps no price history, so the first price seen is the best known)."""
    conn.execute(delete(RuleCatalog))
    snap = CatalogSnapshot.__table__.c
    rows = conn.execute(select(snap.id, snap.company_credit_code, snap.fetched_at, snap.payload).order_by(
        snap.company_credit_code, snap.fetched_at, snap.id)).all()
    out: list[dict] = []
    by_company: dict[str, list] = {}
    for r in rows:
        by_company.setdefault(r.company_credit_code, []).append(r)
    for company, versions in by_company.items():
        for i, v in enumerate(versions):
            start = date.min if i == 0 else v.fetched_at.astimezone(_SHANGHAI).date()
            end = (versions[i + 1].fetched_at.astimezone(_SHANGHAI).date() - timedelta(days=1)
                   if i + 1 < len(versions) else date.max)
            if end < start:
                continue  # fetched twice on one day: the later version stands for that day
            try:
                items = orjson.loads(v.payload).get("items") or []
            except (orjson.JSONDecodeError, AttributeError):
                continue
            for item in items if isinstance(items, list) else []:
                entry = catalog_entry(item)
                if entry is None:
                    continue
                service_type, price, _issue = entry
                out.append({"company_credit_code": company, "service_type": service_type,
                            "price": price, "valid_from": start, "valid_to": end, "snapshot_id": v.id})
    for i in range(0, len(out), 10_000):
        conn.execute(insert(RuleCatalog), out[i:i + 10_000])
    return len(out)
