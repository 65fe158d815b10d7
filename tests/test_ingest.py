"""Landing on SQLite and PostgreSQL: what lands, what is rejected, what wins, and that
runs can be repeated or interrupted without losing or doubling a record."""

from __future__ import annotations

from datetime import UTC, date, timedelta, timezone
from decimal import Decimal

import orjson
import pytest
from sqlalchemy import func, select

from hub.collector import collector_paused
from hub.db import get_engine
from landing import ingest as ingest_mod
from landing.ingest import ingest_all
from schemas.landing import IngestBatch, LandingRecord, LandingReject
from schemas.staging import catalog_items, staging_table
from simulators.faults import FaultConfig
from simulators.store import SimClock, SimStore
from tests.world import T0, civil_elder, id_number, mi_person, order, put, resident, small_world


def rows(settings, platform, resource, **where):
    t = staging_table(platform, resource)
    q = select(t).order_by(t.c.record_id)
    for k, v in where.items():
        q = q.where(t.c[k] == v)
    with get_engine(settings).connect() as conn:
        return {r.record_id: r for r in conn.execute(q)}


def count(settings, table) -> int:
    with get_engine(settings).connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def test_staging_holds_normalised_typed_values(serve, settings) -> None:
    store = SimStore()
    t = T0
    valid = id_number("370282", "19520304", 123)  # a retired area code inside the number is fine
    put(store, "civil_affairs", "elders", "record_id", civil_elder(
        "E001", t, id_card_no=" " + valid[:-1].translate(str.maketrans("0123456789", "０１２３４５６７８９"))
        + valid[-1].lower() + " ", name="陳 小明", phone="+86 138-1234-5678", district_code="370282",
        birth_date="1952-02-30", ability_level="3"), t)
    legacy = "370203" + "480312" + "021"  # 15-digit number of 19480312
    put(store, "medical_insurance", "insured-persons", "recordId",
        mi_person("M001", t, certno=legacy, psnName="阿不都•热合曼"), t)
    put(store, "medical_insurance", "ltc-payments", "recordId",
        {"recordId": "P001", "updtTime": "2024-06-01T09:00:00+08:00", "valiFlag": "1",
         "certno": id_number("370203", "19480312", 21), "period": "202405", "amountFen": 123456,
         "institutionCode": "I1"}, t)
    put(store, "civil_affairs", "card-deposits", "record_id",
        {"record_id": "C001", "updated_at": "2024-06-01T09:00:00+08:00", "deleted": False,
         "card_no": "K1", "id_card_no": valid, "card_type": 1, "month": "2024-05",
         "deposit_amount": "100", "subsidy_amount": "-50.0"}, t)
    put(store, "property_mgmt", "service-orders", "order_id", order("O001", t, price="45"), t)
    put(store, "public_security", "residents", "rid", resident("R001", t, swrq="20240230"), t)
    store.catalogs["91370202MA3C000001"] = orjson.dumps(
        {"company_credit_code": "91370202MA3C000001",
         "items": [{"service_type": "housekeeping", "description": "保洁", "price": "45.0",
                    "complaint_phone": "0532-8888-6666"}]})
    store.finalize()
    serve(store, SimClock(T0 + timedelta(hours=1)))
    result = ingest_all(settings=settings)
    assert result.status == "success", [b.error for b in result.batches if b.error]

    e = rows(settings, "civil_affairs", "elders")["E001"]
    assert e.id_card_no == valid.upper() and e.name == "陈小明" and e.phone == "13812345678"
    assert e.district_code == "370215" and e.ability_level == 3 and e.birth_date is None
    assert "district_code:retired_code" in e.issues and "birth_date:invalid_date" in e.issues
    m = rows(settings, "medical_insurance", "insured-persons")["M001"]
    assert m.id_card_no == id_number("370203", "19480312", 21)  # 15 -> 18 digits
    assert m.name == "阿不都·热合曼" and m.gender == "M" and m.birth_date == date(1948, 3, 12)
    p = rows(settings, "medical_insurance", "ltc-payments")["P001"]
    assert p.amount == Decimal("1234.56") and p.period == date(2024, 5, 1)
    c = rows(settings, "civil_affairs", "card-deposits")["C001"]
    assert c.deposit_amount == Decimal("100.00") and c.subsidy_amount == Decimal("-50.00")
    assert "subsidy_amount:negative" in c.issues
    o = rows(settings, "property_mgmt", "service-orders")["O001"]
    assert o.price == Decimal("45.00") and o.resident_phone == "13800001111"
    assert (o.resident_id_prefix, o.resident_id_suffix) == ("370202", "0011")
    r = rows(settings, "public_security", "residents")["R001"]
    assert r.death_date is None and "death_date:invalid_date" in r.issues
    assert r.updated_at.isoformat() == "2024-06-01T01:00:00+00:00"  # gxsj is Shanghai time
    with get_engine(settings).connect() as conn:
        item = conn.execute(select(catalog_items)).one()
    assert item.price == Decimal("45.00") and item.complaint_phone == "053288886666"
    # the original payload is kept as sent
    with get_engine(settings).connect() as conn:
        payload = conn.execute(select(LandingRecord.payload).where(LandingRecord.record_id == "E001")).scalar_one()
    assert orjson.loads(payload)["name"] == "陳 小明"


def test_rerun_lands_nothing_twice(serve, settings) -> None:
    store, clock = small_world(25)
    serve(store, clock)
    first = ingest_all(settings=settings)
    n_landing = count(settings, LandingRecord.__table__)
    second = ingest_all(settings=settings)
    assert first.status == second.status == "success"
    assert sum(b.landed_new for b in first.batches) == 100
    assert sum(b.landed_new for b in second.batches) == 0
    assert count(settings, LandingRecord.__table__) == n_landing == 100
    for b in first.batches + second.batches:
        assert b.reconciles
    with get_engine(settings).connect() as conn:
        for b in conn.execute(select(IngestBatch)):
            assert b.received == b.landed_new + b.landed_duplicate + b.rejected + b.tombstones


def test_incremental_reads_pick_up_new_versions_and_tombstones(serve, settings) -> None:
    store = SimStore()
    later = T0 + timedelta(days=2)
    for i in range(10):
        put(store, "civil_affairs", "elders", "record_id", civil_elder(f"E{i:03d}", T0 + timedelta(minutes=i)),
            T0 + timedelta(minutes=i))
    put(store, "civil_affairs", "elders", "record_id", civil_elder("E001", later, name="李四"), later)
    put(store, "civil_affairs", "elders", "record_id", civil_elder("E002", later, deleted=True), later)
    put(store, "civil_affairs", "elders", "record_id",
        {"record_id": "E999", "updated_at": later.isoformat(), "deleted": True}, later)  # never seen
    put(store, "medical_insurance", "insured-persons", "recordId", mi_person("M1", T0), T0)
    put(store, "medical_insurance", "insured-persons", "recordId", mi_person("M1", later, withdrawn=True), later)
    put(store, "public_security", "residents", "rid", resident("R1", T0), T0)
    put(store, "public_security", "residents", "rid", resident("R2", T0), T0)
    put(store, "public_security", "residents", "rid", resident("R1", later, hkzt="1", swrq="20240602"), later)
    put(store, "property_mgmt", "service-orders", "order_id", order("O1", T0), T0)
    put(store, "property_mgmt", "service-orders", "order_id", order("O1", later, void=True), later)
    store.finalize()
    clock = SimClock(T0 + timedelta(days=1))
    serve(store, clock)

    first = ingest_all(settings=settings)
    assert first.status == "success"
    assert len(rows(settings, "civil_affairs", "elders", deleted=False)) == 10
    clock.advance(2 * 86400)
    second = ingest_all(settings=settings)
    by = {(b.platform, b.resource): b for b in second.batches}
    assert by[("civil_affairs", "elders")].landed_new == 1
    assert by[("civil_affairs", "elders")].tombstones == 2
    elders = rows(settings, "civil_affairs", "elders")
    assert elders["E001"].name == "李四"
    assert elders["E002"].deleted and elders["E999"].deleted
    assert len([r for r in elders.values() if not r.deleted]) == 9
    assert rows(settings, "medical_insurance", "insured-persons")["M1"].deleted
    residents = rows(settings, "public_security", "residents")
    assert residents["R1"].registration_status == "1" and residents["R1"].death_date == date(2024, 6, 2)
    ps = by[("public_security", "residents")]  # export since watermark - overlap: R1 new, R2 again
    assert (ps.received, ps.landed_new, ps.landed_duplicate) == (2, 1, 1)
    assert rows(settings, "property_mgmt", "service-orders")["O1"].deleted


def _late_commit_world() -> tuple[SimStore, SimClock]:
    store = SimStore()
    for i in range(5):
        t = T0 + timedelta(minutes=10 * i)
        put(store, "civil_affairs", "elders", "record_id", civil_elder(f"E{i:03d}", t), t)
    # updated at T0+38min but committed (visible) only at T0+44min: after E004 (T0+40min)
    late = T0 + timedelta(minutes=38)
    put(store, "civil_affairs", "elders", "record_id", civil_elder("E777", late), late,
        visible=late + timedelta(minutes=6))
    store.finalize()
    return store, SimClock(T0 + timedelta(minutes=41))


@pytest.mark.parametrize("overlap, expect_found", [(300, True), (0, False)])
def test_overlap_catches_records_committed_late(serve, settings, overlap, expect_found) -> None:
    """With the contract's overlap the late commit lands; without it, it is lost — the
    control case shows the test can tell the difference."""
    store, clock = _late_commit_world()
    serve(store, clock)
    s = settings.model_copy(update={"overlap_seconds": overlap})
    ingest_all(["civil_affairs"], settings=s)
    assert "E777" not in rows(s, "civil_affairs", "elders")
    clock.advance(3600)
    ingest_all(["civil_affairs"], settings=s)
    assert ("E777" in rows(s, "civil_affairs", "elders")) is expect_found


class Crash(Exception):
    pass


def test_interrupted_run_resumes_without_loss_or_doubles(serve, settings, monkeypatch, tmp_path) -> None:
    store, clock = small_world(60)
    serve(store, clock)
    s = settings.model_copy(update={"page_limit": 7, "property_page_size": 7, "ingest_workers": 1})
    real = ingest_mod.land_page
    calls = {"n": 0}

    def crash_on_fifth(*a, **kw):
        calls["n"] += 1
        if calls["n"] == 5:
            raise Crash("killed mid-read")
        return real(*a, **kw)

    monkeypatch.setattr(ingest_mod, "land_page", crash_on_fifth)
    with pytest.raises(Crash):
        ingest_all(settings=s)
    monkeypatch.setattr(ingest_mod, "land_page", real)
    assert 0 < count(s, LandingRecord.__table__) < 240
    resumed = ingest_all(settings=s)
    assert resumed.status == "success"
    assert count(s, LandingRecord.__table__) == 240  # every version exactly once
    for key in [("civil_affairs", "elders"), ("medical_insurance", "insured-persons"),
                ("public_security", "residents"), ("property_mgmt", "service-orders")]:
        assert len(rows(s, *key)) == 60, key


def test_unkeyable_records_are_rejected_with_reasons_and_counted(serve, settings) -> None:
    store = SimStore()
    good = civil_elder("E001", T0)
    no_id = civil_elder("X", T0)
    del no_id["record_id"]
    bad_time = civil_elder("E002", T0, updated_at="2024-06-01 09:00:00")  # no offset
    for i, rec in enumerate([good, no_id, bad_time]):
        store.log("civil_affairs", "elders").append(f"k{i}", T0.timestamp(), orjson.dumps(rec))
    store.log("civil_affairs", "elders").append("k9", T0.timestamp(), b'"just a string"')
    store.finalize()
    serve(store, SimClock(T0 + timedelta(hours=1)))
    result = ingest_all(["civil_affairs"], settings=settings)
    b = next(x for x in result.batches if x.resource == "elders")
    assert (b.received, b.landed_new, b.rejected, b.tombstones) == (4, 1, 3, 0)
    with get_engine(settings).connect() as conn:
        reasons = sorted(r.reason for r in conn.execute(select(LandingReject)))
    assert any("record_id missing" in r for r in reasons)
    assert any("no UTC offset" in r for r in reasons)
    assert any("not a JSON object" in r for r in reasons)


def test_records_land_with_the_cyclic_collector_paused_and_it_is_restored_after(serve, settings,
                                                                              monkeypatch) -> None:
    import gc

    store = SimStore()
    for k in range(3):
        put(store, "civil_affairs", "elders", "record_id", civil_elder(f"E{k}", T0), T0)
    store.finalize()
    serve(store, SimClock(T0 + timedelta(days=1)))
    seen = []
    land = ingest_mod.land_page
    monkeypatch.setattr(ingest_mod, "land_page",
                        lambda *a, **kw: seen.append((gc.isenabled(), gc.get_freeze_count() > 0)) or land(*a, **kw))
    assert gc.isenabled() and gc.get_freeze_count() == 0
    result = ingest_all(["civil_affairs"], settings=settings)
    assert result.received == 3
    assert seen and set(seen) == {(False, True)}
    assert gc.isenabled() and gc.get_freeze_count() == 0
    with pytest.raises(RuntimeError), collector_paused(freeze=True):
        raise RuntimeError("a failed ingest")
    assert gc.isenabled() and gc.get_freeze_count() == 0
    gc.freeze()  # frozen by somebody else before: left frozen
    try:
        with collector_paused(freeze=True):
            assert not gc.isenabled()
        assert gc.isenabled() and gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


@pytest.mark.parametrize("workers", [1, 3])
def test_latest_version_wins_ties_go_to_the_later_delivery_and_tombstones_stick(serve, settings, workers) -> None:
    store = SimStore()
    t1, t2 = T0, T0 + timedelta(minutes=1)
    put(store, "civil_affairs", "elders", "record_id", civil_elder("E1", t1, name="甲"), t1)
    put(store, "civil_affairs", "elders", "record_id", civil_elder("E1", t1, name="乙"), t1)  # tie: later wins
    put(store, "civil_affairs", "elders", "record_id", civil_elder("E2", t2, deleted=True), t2)
    # an older version of E2 committed late must not revive it
    put(store, "civil_affairs", "elders", "record_id", civil_elder("E2", t1, name="丙"), t1,
        visible=t2 + timedelta(minutes=2))
    store.finalize()
    clock = SimClock(t2 + timedelta(seconds=30))
    serve(store, clock)
    s = settings.model_copy(update={"page_limit": 1, "ingest_workers": workers})
    ingest_all(["civil_affairs"], settings=s)
    clock.advance(600)
    ingest_all(["civil_affairs"], settings=s)
    elders = rows(s, "civil_affairs", "elders")
    assert elders["E1"].name == "乙"
    assert elders["E2"].deleted


def test_parallel_landing_keeps_each_records_versions_in_delivery_order(serve, settings) -> None:
    """Many versions of few records, one per page, landed by three workers: every record
    ends at its last delivered version, as if one process had landed them all."""
    store = SimStore()
    last: dict[str, str] = {}
    for v in range(40):
        for k in range(5):
            rid = f"E{k}"
            t = T0 + timedelta(seconds=v // 2)  # pairs of versions share an update time: ties
            name = f"名{k}-{v}"
            put(store, "civil_affairs", "elders", "record_id", civil_elder(rid, t, name=name), t)
            last[rid] = name
    store.finalize()
    serve(store, SimClock(T0 + timedelta(days=1)))
    s = settings.model_copy(update={"page_limit": 3, "ingest_workers": 3, "commit_records": 4})
    result = ingest_all(["civil_affairs"], settings=s)
    elders = next(b for b in result.batches if b.resource == "elders")
    assert (elders.status, elders.received, elders.landed_new) == ("success", 200, 200)
    assert {k: r.name for k, r in rows(s, "civil_affairs", "elders").items()} == last


def test_generated_world_lands_completely_under_default_faults(serve, settings) -> None:
    """Every version each platform serves is landed exactly once (or rejected, with a
    reason) and every record id ends in staging — checked against the store itself."""
    import hashlib

    from simulators.generator import GeneratorConfig, generate

    config = GeneratorConfig(elders=250, seed=7)
    store, _truth = generate(config)
    clock = SimClock(config.now)
    serve(store, clock, FaultConfig(rate_limit_rps=None, retry_after_s=0, export_ready_after_s=0.05,
                                    export_truncate_rate=0.3, seed=5))
    result = ingest_all(settings=settings.model_copy(update={"page_limit": 200, "property_page_size": 100,
                                                            "commit_records": 1500,
                                                            "ingest_workers": 5}))
    assert result.status == "success", [b.error for b in result.batches if b.error]
    engine = get_engine(settings)
    with engine.connect() as conn:
        landed = {(r.platform, r.resource, r.record_id, r.version_hash)
                  for r in conn.execute(select(LandingRecord.platform, LandingRecord.resource,
                                               LandingRecord.record_id, LandingRecord.version_hash))}
        rejected = conn.execute(select(func.count()).select_from(LandingReject)).scalar_one()
    expected: set[tuple[str, str, str, str]] = set()
    for (platform, resource), log in store.logs.items():
        current = set(log.current_view(clock.now())) if (platform, resource) in {
            ("public_security", "residents"), ("property_mgmt", "service-orders")} else None
        for i, body in enumerate(log.bodies):
            if log.visible[i] > clock.now() or (current is not None and i not in current):
                continue  # not served: invisible yet, or superseded in a current-state view
            digest = hashlib.blake2b(orjson.dumps(orjson.loads(body), option=orjson.OPT_SORT_KEYS),
                                     digest_size=16).hexdigest()
            expected.add((platform, resource, log.keys[i], digest))
        ids = set(rows(settings, platform, resource))
        served = {k for (p, r, k, _h) in expected if (p, r) == (platform, resource)}
        assert ids == served, (platform, resource, len(ids), len(served))
    assert rejected == 0
    assert landed == expected


def test_sqlite_write_ahead_log_is_kept_small_while_several_processes_land(serve, sqlite_settings) -> None:  # noqa: ANN001
    """Concurrent writers starve SQLite's own checkpoints; the hub truncates the log
    itself once it passes HUB_SQLITE_WAL_LIMIT_MB (0 here: after every transaction)."""
    from pathlib import Path

    store, clock = small_world(200)
    serve(store, clock)
    s = sqlite_settings.model_copy(update={"sqlite_wal_limit_mb": 0, "ingest_workers": 5,
                                           "page_limit": 20, "property_page_size": 20, "commit_records": 20})
    result = ingest_all(settings=s)
    assert result.status == "success"
    wal = Path(get_engine(s).url.database + "-wal")
    # every process truncated after its last page; what is left is at most the run's
    # closing bookkeeping (a few pages), not the whole run's writes
    assert wal.stat().st_size < 200_000


def _landing_workers(parent: int) -> list[int]:
    """The landing processes under ``parent`` (children of its forkserver)."""
    from pathlib import Path

    kids: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            kids.setdefault(ppid, []).append(int(d.name))
    servers = [k for k in kids.get(parent, []) if "forkserver" in Path(f"/proc/{k}/cmdline").read_text()]
    return [w for srv in servers for w in kids.get(srv, [])]


def test_a_landing_worker_killed_mid_run_loses_nothing_on_the_rerun(serve, settings) -> None:
    """SIGKILL one landing process while civil affairs is read: the run says what died,
    and the next run lands every version exactly once."""
    import os
    import signal
    import threading
    import time

    store = SimStore()
    for i in range(600):
        t = T0 + timedelta(seconds=i)
        put(store, "civil_affairs", "elders", "record_id", civil_elder(f"E{i:04d}", t), t)
    store.finalize()
    serve(store, SimClock(T0 + timedelta(days=1)), FaultConfig.none(rate_limit_rps=100, retry_after_s=1))
    s = settings.model_copy(update={"page_limit": 5, "ingest_workers": 2, "commit_records": 5,
                                    "requests_per_second": 60})
    out: dict = {}
    run = threading.Thread(target=lambda: out.update(result=ingest_all(["civil_affairs"], settings=s)))
    run.start()
    deadline = time.monotonic() + 60
    while count(s, LandingRecord.__table__) < 50 and time.monotonic() < deadline:
        time.sleep(0.05)
    workers = _landing_workers(os.getpid())
    assert workers, "no landing process found"
    os.kill(workers[0], signal.SIGKILL)
    run.join(120)
    first = out["result"]
    elders = next(b for b in first.batches if b.resource == "elders")
    assert elders.status == "failed" and "died" in elders.error
    assert count(s, LandingRecord.__table__) < 600
    again = ingest_all(["civil_affairs"], settings=s)
    assert again.status == "success"
    assert count(s, LandingRecord.__table__) == 600  # every version exactly once
    assert len(rows(s, "civil_affairs", "elders")) == 600


def _try_lock(path: str) -> str:
    import fcntl
    import os

    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return "held elsewhere"
    fcntl.flock(fd, fcntl.LOCK_UN)
    return "free"


def test_sqlite_landing_workers_take_turns_through_a_file_lock(tmp_path) -> None:
    """On SQLite the landing processes write one at a time through a lock beside the
    database (waiting on it wakes at once, unlike SQLite's busy handler, which sleeps);
    PostgreSQL and in-memory databases need none."""
    import multiprocessing

    assert ingest_mod._sqlite_write_lock("postgresql+psycopg://h/db") is None
    assert ingest_mod._sqlite_write_lock("sqlite://") is None
    lock = ingest_mod._sqlite_write_lock(f"sqlite:///{tmp_path}/hub.db")
    assert lock is not None and lock.path == f"{tmp_path}/hub.db.write-lock"
    ctx = multiprocessing.get_context("forkserver")
    with lock, ctx.Pool(1) as pool:
        assert pool.apply(_try_lock, (lock.path,)) == "held elsewhere"
    with ctx.Pool(1) as pool:
        assert pool.apply(_try_lock, (lock.path,)) == "free"


def test_sqlite_landing_copies_its_log_into_the_database_after_releasing_the_lock(tmp_path) -> None:
    """A landing process's commits do not checkpoint on their own (that would happen
    while it holds the landing lock); it checkpoints afterwards, passively."""
    from pathlib import Path

    from sqlalchemy import text

    from hub.db import checkpoint_passive, make_engine, manual_checkpoints

    db = tmp_path / "hub.db"
    engine = make_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 16384
    manual_checkpoints(engine)
    with engine.begin() as conn:
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
        conn.execute(text("CREATE TABLE t (v TEXT)"))
        conn.execute(text("INSERT INTO t VALUES (:v)"), [{"v": "x" * 1000}] * 2000)
    before = Path(db).stat().st_size
    checkpoint_passive(engine)
    assert Path(db).stat().st_size > before + 1_000_000  # the pages moved from the log into the file
    engine.dispose()


def test_the_landing_key_led_by_the_update_time_keeps_what_was_landed_and_refuses_the_same_versions(db_url) -> None:  # noqa: ANN001
    """Migration 0009 puts the update time in front of the landing table's unique key
    (keys then arrive in index order): the versions landed before stay, and a version
    delivered again is still refused, on both databases."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import insert, inspect

    from hub.db import MIGRATIONS, make_engine, upgrade
    from landing.bulk import writer
    from landing.loader import _LANDING_COLS, _LANDING_CONFLICT, _bind_time
    from tests.world import T0

    engine = make_engine(db_url)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0008")
    row = {"platform": "civil_affairs", "resource": "elders", "record_id": "E1", "updated_at": T0, "deleted": False,
           "version_hash": "a" * 32, "batch_id": 1, "payload": "{}"}
    with engine.begin() as conn:
        conn.execute(insert(LandingRecord), [row, {**row, "updated_at": T0 + timedelta(hours=1), "version_hash": "b" * 32}])
    upgrade(engine)
    (uq,) = [u for u in inspect(engine).get_unique_constraints("landing_record") if u["name"] == "uq_landing_version"]
    assert uq["column_names"] == ["platform", "resource", "updated_at", "record_id", "version_hash"]
    w = writer(engine.dialect, LandingRecord.__table__, _LANDING_COLS, _LANDING_CONFLICT, prebound=("updated_at",))
    again = {**row, "updated_at": T0 + timedelta(hours=1), "version_hash": "b" * 32}
    new = {**row, "updated_at": T0 + timedelta(hours=2), "version_hash": "c" * 32}
    bind = _bind_time(engine.dialect)  # as land_page binds it
    with engine.begin() as conn:
        written = w.write(conn, [tuple(bind(r[c]) if c == "updated_at" else r[c] for c in _LANDING_COLS)
                                 for r in (again, new)])
        assert written == 1  # the version landed before the migration is recognised
        assert conn.execute(select(func.count()).select_from(LandingRecord)).scalar() == 3
    engine.dispose()


def test_the_update_time_is_bound_on_sqlite_as_the_column_type_binds_it() -> None:
    """Landing binds the update time itself on SQLite (once for both tables): the text is
    what the column type's own processor gives, written as the landing key compares it;
    a time without an offset is refused as the type refuses it."""
    from datetime import datetime as dt

    from sqlalchemy.dialects import sqlite

    from landing.loader import _bind_time
    from schemas.base import UTCDateTime

    bind, proc = _bind_time(sqlite.dialect()), UTCDateTime().bind_processor(sqlite.dialect())
    shanghai = timezone(timedelta(hours=8))
    for v in (dt(2026, 12, 7, 9, 12, 44, tzinfo=UTC), dt(2026, 12, 7, 9, 12, 44, 250000, tzinfo=UTC),
              dt(2026, 12, 7, 1, 0, 0, tzinfo=shanghai), dt(2026, 1, 1, 7, 59, 59, 1, tzinfo=shanghai)):
        assert bind(v) == proc(v).isoformat(" ")
    assert bind(dt(2026, 12, 7, 1, 0, 0, tzinfo=shanghai)) == "2026-12-06 17:00:00"
    with pytest.raises(ValueError, match="naive"):
        bind(dt(2026, 12, 7, 9, 12, 44))


def test_values_are_bound_as_the_column_types_implementation_for_the_database_binds_them() -> None:
    """The writers and the row builder convert a value as the column type's
    implementation for that database does: a date reaches SQLite as the text its date
    type writes (the generic type converts nothing, which left it to sqlite3's default
    adapter, once per record), a decimal reaches psycopg as a decimal (the generic
    type's processor makes it a float)."""
    from sqlalchemy.dialects import postgresql, sqlite

    from landing.bulk import Writer
    from landing.transform import RowBuilder
    from schemas.staging import STAGING

    lite, pg = sqlite.dialect(), postgresql.psycopg.dialect()
    table = staging_table("civil_affairs", "subsidy-payments")
    cols = ("record_id", "period", "amount", "paid_on")
    row = ("R1", date(2026, 11, 1), Decimal("12.50"), date(2026, 11, 5))
    assert Writer(lite, table, cols).prepare([row]) == [("R1", "2026-11-01", 12.5, "2026-11-05")]
    (bound,) = Writer(pg, table, cols).prepare([row])
    assert bound == row and bound[2].__class__ is Decimal
    builder = RowBuilder(STAGING[("civil_affairs", "subsidy-payments")], lite)
    values, issues = builder.values({"id_card_no": id_number("370202", "19500101", 1), "program": "meal",
                                     "period": "2026-11", "amount": "12.50", "payee_org_code": "ORG1",
                                     "paid_on": "2026-11-05"})
    staged = dict(zip(builder.columns, values, strict=True))
    assert issues is None
    assert (staged["period"], staged["paid_on"], staged["amount"]) == ("2026-11-01", "2026-11-05", 12.5)


def test_landing_on_sqlite_needs_none_of_sqlite3s_default_adapters(sqlite_settings, monkeypatch) -> None:
    """sqlite3's default date and datetime adapters are deprecated (Python 3.12): the
    landing binds every date and time itself, so it lands the same without them."""
    import sqlite3
    from datetime import datetime

    from connectors.paginators import Page
    from hub.db import upgrade
    from landing.loader import land_page
    from schemas.landing import IngestRun

    engine = get_engine(sqlite_settings, migrate=False)
    upgrade(engine)
    for kind in (date, datetime):
        monkeypatch.delitem(sqlite3.adapters, (kind, sqlite3.PrepareProtocol))
    spec = next(s for s in ingest_mod.RESOURCES["civil_affairs"] if s.resource == "elders")
    with engine.begin() as conn:
        run = conn.execute(IngestRun.__table__.insert().values(started_at=T0, status="running", trigger="test")
                           .returning(IngestRun.id)).scalar_one()
        batch = conn.execute(IngestBatch.__table__.insert().values(
            run_id=run, platform="civil_affairs", resource="elders", started_at=T0, status="running")
            .returning(IngestBatch.id)).scalar_one()
    counts = land_page(engine, spec, batch, Page([civil_elder("E001", T0), civil_elder("E002", T0)]))
    assert counts.landed_new == 2
    t = staging_table("civil_affairs", "elders")
    with engine.connect() as conn:
        assert conn.exec_driver_sql(f"select birth_date from {t.name} order by record_id").scalars().all() == [
            "1950-01-01", "1950-01-01"]


def test_the_migrated_schema_is_the_models_schema(db_url) -> None:  # noqa: ANN001
    """The migrations build exactly the tables, columns and indexes the models declare
    (Alembic's autogenerate comparison finds nothing to add or drop) — on both databases."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from hub.db import make_engine
    from schemas.base import Base

    engine = make_engine(db_url)
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    engine.dispose()


def test_staging_tables_keep_only_the_indexes_their_lookups_need(db_url) -> None:  # noqa: ANN001
    """A staging table is not indexed by ID number (each index is one more keyed insert per
    landed record); the two lookups that need one keep it, and the accepted tables keep
    theirs."""
    from sqlalchemy import inspect

    from hub.db import make_engine

    engine = make_engine(db_url)
    insp = inspect(engine)
    indexed = {t: {tuple(ix["column_names"]) for ix in insp.get_indexes(t)}
               for t in insp.get_table_names() if t.startswith(("stg_", "acc_"))}
    engine.dispose()
    assert {t: cols for t, cols in indexed.items() if t.startswith("stg_") and cols} == {
        "stg_civil_affairs__benefits": {("id_card_no",)},
        "stg_property_mgmt__service_orders": {("company_credit_code",)},
    }
    assert ("id_card_no",) in indexed["acc_civil_affairs__meal_records"]
    assert ("resident_id_suffix",) in indexed["acc_property_mgmt__service_orders"]


def _watermark(settings, platform: str, resource: str):  # noqa: ANN202
    from schemas.landing import IngestWatermark

    with get_engine(settings).connect() as conn:
        return conn.execute(select(IngestWatermark.watermark).where(
            IngestWatermark.platform == platform, IngestWatermark.resource == resource)).scalar_one()


def test_a_record_dated_in_the_future_does_not_carry_the_watermark_past_later_changes(serve, settings) -> None:
    """A record stamped years ahead (the contract's "future dates") lands, but the
    watermark stays at the platform's clock, so the next day's changes are still read."""
    store = SimStore()
    future = T0 + timedelta(days=3650)
    put(store, "civil_affairs", "elders", "record_id", civil_elder("E001", T0), T0)
    # in the change log at T0 + 1 min, its update time says 2036
    put(store, "civil_affairs", "elders", "record_id", civil_elder("E900", future), T0 + timedelta(minutes=1))
    put(store, "civil_affairs", "elders", "record_id", civil_elder("E002", T0 + timedelta(hours=2)),
        T0 + timedelta(hours=2))
    store.finalize()
    clock = SimClock(T0 + timedelta(hours=1))
    serve(store, clock)
    ingest_all(["civil_affairs"], settings=settings)
    assert set(rows(settings, "civil_affairs", "elders")) == {"E001", "E900"}
    assert _watermark(settings, "civil_affairs", "elders") == T0 + timedelta(hours=1)  # the clock, not 2036
    clock.advance(3 * 3600)
    second = ingest_all(["civil_affairs"], settings=settings)
    assert set(rows(settings, "civil_affairs", "elders")) == {"E001", "E002", "E900"}
    b = next(x for x in second.batches if x.resource == "elders")
    assert b.landed_new == 1
    assert _watermark(settings, "civil_affairs", "elders") == T0 + timedelta(hours=2)


def test_a_watermark_stored_in_the_future_is_brought_back_to_the_platforms_clock(serve, settings) -> None:
    from landing.loader import advance_watermark

    spec = next(s for s in ingest_mod.RESOURCES["civil_affairs"] if s.resource == "elders")
    engine = get_engine(settings)
    advance_watermark(engine, spec, T0 + timedelta(days=3650), None)  # capped by this machine's clock
    assert _watermark(settings, "civil_affairs", "elders") < T0 + timedelta(days=3650)
    from schemas.landing import IngestWatermark

    with engine.begin() as conn:  # as an earlier version of the hub could have left it
        conn.execute(IngestWatermark.__table__.update().values(watermark=T0 + timedelta(days=3650)))
    advance_watermark(engine, spec, T0 + timedelta(hours=1), T0 + timedelta(hours=2))
    assert _watermark(settings, "civil_affairs", "elders") == T0 + timedelta(hours=1)


def test_a_version_resent_with_its_fields_in_another_order_is_the_same_version(serve, settings) -> None:
    store = SimStore()
    rec = civil_elder("E001", T0)
    store.log("civil_affairs", "elders").append("E001", T0.timestamp(), orjson.dumps(rec))
    store.log("civil_affairs", "elders").append("E001", T0.timestamp(), orjson.dumps(dict(reversed(rec.items()))))
    store.finalize()
    serve(store, SimClock(T0 + timedelta(hours=1)))
    b = next(x for x in ingest_all(["civil_affairs"], settings=settings).batches if x.resource == "elders")
    assert (b.received, b.landed_new, b.landed_duplicate) == (2, 1, 1)
    assert count(settings, LandingRecord.__table__) == 1


def test_values_too_long_for_their_columns_are_cut_or_refused_not_fatal(serve, settings) -> None:
    """On PostgreSQL a value longer than its column fails the whole chunk, at every re-read:
    a name is cut to its column and flagged, an unkeyable record id is rejected."""
    store = SimStore()
    put(store, "civil_affairs", "elders", "record_id", civil_elder("E001", T0, name="张" * 100,
                                                                    id_card_no="9" * 60), T0)
    put(store, "civil_affairs", "elders", "record_id", civil_elder("E" * 129, T0), T0)
    put(store, "civil_affairs", "elders", "record_id", civil_elder("E002", T0), T0)
    store.finalize()
    serve(store, SimClock(T0 + timedelta(hours=1)))
    result = ingest_all(["civil_affairs"], settings=settings)
    b = next(x for x in result.batches if x.resource == "elders")
    assert b.status == "success" and (b.received, b.landed_new, b.rejected) == (3, 2, 1)
    e1 = rows(settings, "civil_affairs", "elders")["E001"]
    assert e1.name == "张" * 64 and "name:truncated" in e1.issues
    assert len(e1.id_card_no_cleaned) == 40 and e1.id_card_no is None
    with get_engine(settings).connect() as conn:
        (reason,) = conn.execute(select(LandingReject.reason)).scalars()
    assert "longer than 128" in reason
