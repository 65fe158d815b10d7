"""Connectors over real HTTP on loopback, against the simulators serving hand-made data:
auth, pagination, faults, token expiry, export download faults, prefixes."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from connectors.connection import get_connection, parse_connection
from connectors.errors import ConnectionNotConfigured
from hub.db import get_engine
from landing import ingest as ingest_mod
from landing.ingest import ingest_all
from schemas.staging import staging_table
from simulators.apps.base import Credentials
from simulators.faults import FaultConfig
from simulators.runtime import connections_for
from tests.world import small_world


def _count(settings, platform, resource, deleted=False) -> int:
    t = staging_table(platform, resource)
    with get_engine(settings).connect() as conn:
        return conn.execute(select(func.count()).select_from(t).where(t.c.deleted.is_(deleted))).scalar_one()


def test_every_platform_reads_everything_through_small_pages(serve, sqlite_settings) -> None:
    store, clock = small_world(30)
    serve(store, clock)
    s = sqlite_settings.model_copy(update={"page_limit": 7, "property_page_size": 4})
    result = ingest_all(settings=s)
    assert result.status == "success", [b.error for b in result.batches if b.error]
    got = {(b.platform, b.resource): b for b in result.batches}
    for key in [("civil_affairs", "elders"), ("medical_insurance", "insured-persons"),
                ("public_security", "residents"), ("property_mgmt", "service-orders")]:
        assert got[key].landed_new == 30, key
        assert _count(s, *key) == 30, key
    assert got[("civil_affairs", "benefits")].received == 0  # empty resources read cleanly


def test_transient_faults_and_429s_never_fail_a_run(serve, sqlite_settings) -> None:
    store, clock = small_world(40)
    h = serve(store, clock, FaultConfig(rate_429=0.15, rate_5xx=0.15, rate_limit_rps=None,
                                        export_ready_after_s=0.05, retry_after_s=0, seed=7))
    s = sqlite_settings.model_copy(update={"page_limit": 5, "property_page_size": 5})
    result = ingest_all(settings=s)
    assert result.status == "success", [b.error for b in result.batches if b.error]
    assert sum(b.landed_new for b in result.batches) == 160
    assert h  # the faults really fired: see the rate test in test_sim_server


def test_rate_limit_answers_are_waited_out(serve, sqlite_settings) -> None:
    store, clock = small_world(20)
    serve(store, clock, FaultConfig.none(rate_limit_rps=4, export_ready_after_s=0.05))
    s = sqlite_settings.model_copy(update={"page_limit": 2, "property_page_size": 2})
    result = ingest_all(["civil_affairs"], settings=s)
    assert result.status == "success"
    assert _count(s, "civil_affairs", "elders") == 20


def test_token_invalidated_mid_read_is_renewed_and_the_call_repeated(serve, sqlite_settings) -> None:
    store, clock = small_world(30)
    serve(store, clock, FaultConfig.none(rate_401=0.1, token_ttl_s=0.5, seed=3))
    s = sqlite_settings.model_copy(update={"page_limit": 3})
    result = ingest_all(["civil_affairs", "medical_insurance"], settings=s)
    assert result.status == "success", [b.error for b in result.batches if b.error]
    assert _count(s, "civil_affairs", "elders") == 30
    assert _count(s, "medical_insurance", "insured-persons") == 30


def test_broken_export_downloads_resume_and_failed_exports_are_requested_again(serve, sqlite_settings) -> None:
    store, clock = small_world(300)
    serve(store, clock, FaultConfig.none(export_ready_after_s=0.05, export_truncate_rate=0.6,
                                         export_fail_rate=0.4, seed=11))
    s = sqlite_settings.model_copy(update={"export_attempts": 10})
    result = ingest_all(["public_security"], settings=s)
    assert result.status == "success", [b.error for b in result.batches if b.error]
    assert _count(s, "public_security", "residents") == 300
    assert not list((s.home / "downloads").glob("*.part"))  # downloads cleaned up


def test_expired_cursor_restarts_from_the_watermark(serve, sqlite_settings, monkeypatch) -> None:
    store, clock = small_world(30)
    serve(store, clock, FaultConfig.none(cursor_ttl_s=0.2))
    real = ingest_mod.land_page
    calls = {"n": 0}

    def slow_first(*a, **kw):
        calls["n"] += 1
        if calls["n"] == 2:
            import time

            time.sleep(0.5)  # the cursor handed out with page 2 expires meanwhile
        return real(*a, **kw)

    monkeypatch.setattr(ingest_mod, "land_page", slow_first)
    s = sqlite_settings.model_copy(update={"page_limit": 10})
    result = ingest_all(["civil_affairs"], settings=s)
    elders = next(b for b in result.batches if b.resource == "elders")
    assert elders.status == "success"
    assert elders.landed_new == 30
    assert elders.landed_duplicate > 0  # the restart re-read what it had (overlap), landed once
    assert _count(s, "civil_affairs", "elders") == 30


def test_path_prefix_in_the_connection_host_is_honoured_and_signed(serve, sqlite_settings) -> None:
    store, clock = small_world(5)
    h = serve(store, clock, prefix="/gateway/v2")
    assert all(u.endswith("/gateway/v2") for u in h.urls.values())
    result = ingest_all(settings=sqlite_settings)
    assert result.status == "success", [b.error for b in result.batches if b.error]
    assert _count(sqlite_settings, "public_security", "residents") == 5


def test_wrong_secret_fails_that_platform_clearly_and_spares_the_others(serve, sqlite_settings, monkeypatch) -> None:
    store, clock = small_world(5)
    h = serve(store, clock)
    bad = connections_for(h.urls, Credentials())["civil_affairs"] | {"password": "wrong"}
    monkeypatch.setenv("AIRFLOW_CONN_CIVIL_AFFAIRS", json.dumps(bad))
    result = ingest_all(settings=sqlite_settings.model_copy(update={"ingest_workers": 5}))
    assert result.status == "partial"
    failed = [b for b in result.batches if b.status == "failed"]
    assert {b.platform for b in failed} == {"civil_affairs"}
    assert "401" in failed[0].error and "password" in failed[0].error
    assert "wrong" not in failed[0].error  # the secret never appears in messages
    assert _count(sqlite_settings, "medical_insurance", "insured-persons") == 5


def test_missing_connection_says_which_variable_to_set(monkeypatch) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_HEALTH", raising=False)
    with pytest.raises(ConnectionNotConfigured, match="AIRFLOW_CONN_HEALTH"):
        get_connection("health")


@pytest.mark.parametrize("value, base, login, password", [
    ('{"conn_type":"http","host":"http://127.0.0.1:8101","login":"hub","password":"s3cret"}',
     "http://127.0.0.1:8101", "hub", "s3cret"),
    ('{"conn_type":"http","host":"127.0.0.1","port":8102,"login":"a","password":"pw-secret-b"}',
     "http://127.0.0.1:8102", "a", "pw-secret-b"),
    ('{"host":"https://gw.example/gateway/","password":"k"}', "https://gw.example/gateway", None, "k"),
    ("http://hub:s%2Fcret@127.0.0.1:8104/prefix", "http://127.0.0.1:8104/prefix", "hub", "s/cret"),
])
def test_connection_forms(value: str, base: str, login, password) -> None:
    c = parse_connection("x", value)
    assert (c.base_url, c.login, c.password) == (base, login, password)
    assert password not in repr(c) if password else True


def test_overlap_reads_behind_the_watermark(serve, sqlite_settings) -> None:
    store, clock = small_world(20)  # records one minute apart
    serve(store, clock)
    first = ingest_all(["civil_affairs"], settings=sqlite_settings)
    second = ingest_all(["civil_affairs"], settings=sqlite_settings)
    a = next(b for b in first.batches if b.resource == "elders")
    b = next(b for b in second.batches if b.resource == "elders")
    assert a.landed_new == 20 and b.landed_new == 0
    assert b.landed_duplicate == 6  # newest record and the five minutes before it, inclusive
    assert timedelta(seconds=sqlite_settings.overlap_seconds) == timedelta(minutes=5)


def test_property_orders_modified_mid_read_shift_pages_but_none_is_skipped(serve, sqlite_settings, monkeypatch) -> None:  # noqa: ANN001
    """Pages are computed per request: when an order changes during the read it moves to
    the end and every later order moves one place up. Walking page numbers would skip
    O0005 here; the connector's keyset walk does not."""
    import orjson

    from simulators.store import SimClock, SimStore
    from tests.world import T0, order, put

    store = SimStore()
    for i in range(20):
        t = T0 + timedelta(minutes=i)
        put(store, "property_mgmt", "service-orders", "order_id", order(f"O{i:04d}", t), t)
    changed = T0 + timedelta(hours=2)
    put(store, "property_mgmt", "service-orders", "order_id", order("O0003", changed, price="50"), changed)
    store.catalogs["91370202MA3C000001"] = orjson.dumps({"company_credit_code": "91370202MA3C000001", "items": []})
    store.finalize()
    clock = SimClock(T0 + timedelta(hours=1))
    serve(store, clock)
    real = ingest_mod.land_page
    seen_pages = []

    def advance_after_first_page(*a, **kw):  # noqa: ANN002, ANN003, ANN202
        seen_pages.append([r["order_id"] for r in a[3].records])
        if len(seen_pages) == 1:
            clock.advance(7200)  # O0003 is modified while the read is under way
        return real(*a, **kw)

    monkeypatch.setattr(ingest_mod, "land_page", advance_after_first_page)
    s = sqlite_settings.model_copy(update={"property_page_size": 5})
    ingest_all(["property_mgmt"], settings=s)
    got = {oid for page in seen_pages for oid in page}
    assert got == {f"O{i:04d}" for i in range(20)}
    t = staging_table("property_mgmt", "service-orders")
    with get_engine(s).connect() as conn:
        price = conn.execute(select(t.c.price).where(t.c.record_id == "O0003")).scalar_one()
    assert str(price) == "50.00"


@pytest.mark.parametrize("platform", ["public_security", "property_mgmt", "health"])
def test_refused_credentials_of_each_auth_scheme_fail_with_a_hint(serve, sqlite_settings, monkeypatch, platform) -> None:  # noqa: ANN001
    store, clock = small_world(3)
    h = serve(store, clock)
    bad = connections_for(h.urls, Credentials())[platform] | {"password": "not-the-secret"}
    monkeypatch.setenv(f"AIRFLOW_CONN_{platform.upper()}", json.dumps(bad))
    result = ingest_all([platform], settings=sqlite_settings)
    assert result.status == "failed"
    for b in result.batches:
        assert b.status == "failed" and "401" in b.error and "login/password" in b.error
        assert "not-the-secret" not in b.error


def test_expired_cursor_restart_point_is_never_later_than_the_read_reached() -> None:
    """The restart bound comes from the latest page (worked out only when a cursor
    expires): with a record up to five minutes out of order in an earlier page, the
    restart is earlier than the newest time seen, never later — a longer re-read only."""
    from datetime import UTC, datetime

    import orjson
    import requests

    from connectors.paginators import CursorPaginator

    t0 = datetime(2026, 3, 1, tzinfo=UTC)

    def answer(status: int, body: dict) -> requests.Response:
        r = requests.Response()
        r.status_code, r._content = status, orjson.dumps(body)
        r.request = requests.Request("GET", "http://p/v1/elders").prepare()
        r.url = r.request.url
        return r

    def rec(minutes: int) -> dict:
        return {"id": str(minutes), "updated_at": (t0 + timedelta(minutes=minutes)).isoformat()}

    answers = [answer(200, {"data": [rec(1), rec(10)], "next_cursor": "c1"}),  # 10: ahead of the clock
               answer(200, {"data": [rec(6), rec(7)], "next_cursor": "c2"}),
               answer(400, {"code": "CURSOR_EXPIRED"}),
               answer(200, {"data": [], "next_cursor": None})]
    sent: list[dict] = []

    class Session:
        def get(self, url: str, params: dict) -> requests.Response:
            sent.append(dict(params))
            return answers[len(sent) - 1]

    p = CursorPaginator("civil_affairs", Session(), "http://p/v1/elders", "updated_since", 2,  # type: ignore[arg-type]
                        format_time=lambda t: t.isoformat(), parse_time=datetime.fromisoformat,
                        updated_of=lambda r: datetime.fromisoformat(r["updated_at"]),
                        overlap=timedelta(minutes=5))
    pages = list(p.pages(t0))
    assert [len(pg.records) for pg in pages] == [2, 2, 0]
    assert sent[3] == {"updated_since": (t0 + timedelta(minutes=2)).isoformat(), "limit": 2}  # 7 − 5 minutes
