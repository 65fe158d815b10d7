"""Every check of every suite, on crafted rows: a bad batch it must catch and a good batch
it must pass — validated by Great Expectations on the database (SQLite and PostgreSQL),
and the SQL predicate that quarantines must agree with GX's count.

The rows are built from the check's own declaration (a coded column gets a code outside
its set, a bounded number one past its bound, a date one month after the platform's
date…), and the good batch holds the near misses: a date exactly on the platform's date,
a bound value itself, an issue code on a field whose name merely resembles the checked
one."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Boolean, Date, Integer, Numeric, func, select

from hub.db import make_engine
from quality.checks import (
    AgreesWithId,
    Between,
    Check,
    CheckContext,
    Flagged,
    Fresh,
    InSet,
    NotFuture,
    NotNull,
    References,
    UniqueInDelivery,
    Volume,
)
from quality.gx import GxRun
from quality.suites import SUITES
from schemas.base import UTCDateTime
from schemas.staging import staging_table
from tests.world import id_number

AS_OF = datetime(2025, 1, 10, 4, 0, tzinfo=UTC)  # the platform's clock: 2025-01-10 12:00 in Qingdao
TODAY = date(2025, 1, 10)
ID = id_number("370202", "19500101", 1)  # digit 17 is 1: a man born 1950-01-01
ELDER = "E-ref"


def _default(col) -> Any:  # noqa: ANN001
    name, t = col.name, col.type
    if name in ("id_card_no", "id_card_no_cleaned"):
        return ID
    if name == "birth_date":
        return date(1950, 1, 1)
    if name == "gender":
        return "M"
    if name in ("district_code",):
        return "370202"
    if name == "elder_record_id":
        return ELDER
    if isinstance(t, UTCDateTime):
        return AS_OF - timedelta(days=1)
    if isinstance(t, Date):
        return date(2024, 6, 1)
    if isinstance(t, Boolean):
        return False
    if isinstance(t, Integer):
        return 1
    if isinstance(t, Numeric):
        return Decimal("1.00")
    return "x"


def _passing(check: Check, row: dict) -> None:
    """Make ``row`` satisfy ``check`` (the base row must pass every check of its suite)."""
    if isinstance(check, InSet):
        row[check.col] = check.values[0]
    elif isinstance(check, Between) and not isinstance(check, NotFuture):
        row[check.col] = check.low if check.low is not None else check.high  # on the bound (near miss)


def _failing(check: Check, row: dict, table) -> dict:  # noqa: ANN001
    bad = dict(row)
    if isinstance(check, InSet):
        kind = table.c[check.col].type
        bad[check.col] = 99 if isinstance(kind, Integer) else "Z" * min(2, getattr(kind, "length", None) or 2)
    elif isinstance(check, NotFuture):
        bad[check.col] = TODAY + timedelta(days=30)
    elif isinstance(check, Between):
        bad[check.col] = check.low - 1 if check.low is not None else check.high + 1
    elif isinstance(check, NotNull):
        bad[check.col] = None
        if check.col == "id_card_no_cleaned":
            bad["id_card_no"] = None
    elif isinstance(check, Flagged):
        bad["issues"] = f"other:thing {check.field_name}:{check.codes[-1]}"
    elif isinstance(check, AgreesWithId):
        bad[check.what] = date(1951, 1, 1) if check.what == "birth_date" else "F"
    elif isinstance(check, References):
        bad[check.col] = id_number("370202", "19500101", 999) if check.col == "id_card_no" else "missing"
    else:
        raise AssertionError(f"no crafted failure for {type(check).__name__}")
    return bad


def _near_miss(check: Check, row: dict) -> dict:
    good = dict(row)
    if isinstance(check, Flagged):  # a field whose name merely contains the checked one
        good["issues"] = f"x{check.field_name}:{check.codes[0]} {check.field_name}:legacy15"
    elif isinstance(check, NotFuture):
        good[check.col] = TODAY  # the platform's own date is not the future
    return good


ROW_CHECKS = [(key, c) for key, checks in SUITES.items() for c in checks if c.scope == "row"]


def _setup(url: str):  # noqa: ANN202
    engine = make_engine(url)
    tables = {key: staging_table(*key) for key in SUITES}
    # the referenced records: an elder, and a consumption-card enrolment of the same person
    ref_rows = {("civil_affairs", "elders"): {"record_id": ELDER},
                ("civil_affairs", "benefits"): {"record_id": "B-ref", "program": "CONSUMPTION_CARD_1"}}
    crafted: dict[tuple[str, str], list[tuple[Check, dict]]] = {}
    with engine.begin() as conn:
        for key, checks in SUITES.items():
            t = tables[key]
            base = {c.name: _default(c) for c in t.columns}
            base.update(record_id="base", version_hash="v", batch_id=1, issues=None)
            for c in checks:
                _passing(c, base)
            rows = []
            if key in ref_rows:
                rows.append({**base, **ref_rows[key], "batch_id": 0})
            crafted[key] = []
            for i, c in enumerate(checks):
                if c.scope != "row":
                    continue
                # each check gets a good and a bad batch of its own (one row each)
                rows.append({**_near_miss(c, base), "record_id": f"good-{i}", "batch_id": 10_000 + i})
                bad = {**_failing(c, base, t), "record_id": f"bad-{i}", "batch_id": 20_000 + i}
                rows.append(bad)
                crafted[key].append((c, bad))
            conn.execute(t.insert(), rows)
    return engine, tables, crafted


@pytest.mark.slow
def test_every_row_check_catches_its_bad_batch_and_passes_its_good_batch(db_url) -> None:  # noqa: ANN001
    engine, tables, crafted = _setup(db_url)
    ctx = CheckContext(as_of=AS_OF, tables=tables, dialect=engine.dialect)
    gx = GxRun(engine, None)
    for key, pairs in crafted.items():
        t = tables[key]
        for c, bad in pairs:
            for batch in (bad["batch_id"] - 10_000, bad["batch_id"]):
                this = t.c.batch_id == batch
                gx.add(f"{key[0]}.{key[1]}.{batch}", select(t).where(this), [c.expectation(t, ctx, this)])
    outcomes = gx.run("crafted")
    assert len(ROW_CHECKS) > 100
    checked = 0
    with engine.connect() as conn:
        for key, pairs in crafted.items():
            t = tables[key]
            for c, bad_row in pairs:
                (good,) = outcomes[f"{key[0]}.{key[1]}.{bad_row['batch_id'] - 10_000}"]
                (bad,) = outcomes[f"{key[0]}.{key[1]}.{bad_row['batch_id']}"]
                assert good.check == bad.check == c.name
                assert good.success and good.unexpected == 0, (key, c.name, good)
                assert not bad.success, (key, c.name, bad)
                where = c.failing(t, ctx)
                sql = conn.execute(select(func.count()).where(t.c.batch_id == bad_row["batch_id"], where))
                assert bad.unexpected == sql.scalar_one() == 1, (key, c.name, bad.unexpected)
                near = conn.execute(select(func.count()).where(t.c.batch_id == bad_row["batch_id"] - 10_000, where))
                assert near.scalar_one() == 0, (key, c.name, "the SQL predicate fails the good row")
                checked += 1
    assert checked == len(ROW_CHECKS)


@pytest.mark.slow
def test_table_checks_freshness_and_volume(db_url) -> None:  # noqa: ANN001
    engine = make_engine(db_url)
    t = staging_table("civil_affairs", "time-bank")
    rows = [{"record_id": f"r{i}", "updated_at": AS_OF - timedelta(days=40), "deleted": False, "version_hash": "v",
             "batch_id": 1} for i in range(10)]
    with engine.begin() as conn:
        conn.execute(t.insert(), rows)
    fresh, volume = Fresh(max_age=timedelta(days=30)), Volume()

    def run(ctx: CheckContext) -> dict:
        gx = GxRun(engine, None)
        gx.add("t", select(t), [c.expectation(t, ctx, t.c.batch_id > 0) for c in (fresh, volume)
                                if c.applies(ctx)])
        return {o.check: o.success for o in gx.run("t").get("t", [])}

    base = {"tables": {}, "dialect": engine.dialect}
    assert run(CheckContext(as_of=AS_OF, previous_live=21, **base)) == {
        "updated_at.fresh": False, "rows.volume": False}  # 40 days old; 10 rows after 21
    assert run(CheckContext(as_of=AS_OF - timedelta(days=11), previous_live=20, **base)) == {
        "updated_at.fresh": True, "rows.volume": True}  # 29 days old; exactly half is not a fall
    assert run(CheckContext(as_of=None, previous_live=None, **base)) == {}  # nothing to compare with
    assert not fresh.applies(CheckContext(as_of=AS_OF, live=0, **base))  # an empty feed has no newest update


def test_a_record_delivered_twice_in_one_export_is_caught(db_url) -> None:  # noqa: ANN001
    from schemas.landing import LandingRecord

    engine = make_engine(db_url)
    land = LandingRecord.__table__
    rows = [{"platform": "public_security", "resource": "residents", "record_id": rid, "updated_at": AS_OF,
             "deleted": False, "version_hash": h, "batch_id": b, "payload": "{}"}
            for b, rid, h in ((1, "R1", "a"), (1, "R2", "b"), (2, "R3", "a"), (2, "R4", "b"), (2, "R4", "c"))]
    with engine.begin() as conn:
        conn.execute(land.insert(), rows)
    check = UniqueInDelivery()
    gx = GxRun(engine, None)
    ctx = CheckContext(as_of=AS_OF, dialect=engine.dialect)
    for b in (1, 2):
        gx.add(f"b{b}", select(land.c.record_id).where(land.c.batch_id == b), [check.expectation(land, ctx, None)])
    out = gx.run("delivery")
    (good,), (bad,) = out["b1"], out["b2"]
    assert good.success and good.unexpected == 0
    assert not bad.success and bad.unexpected == 2  # both versions of R4
