"""The platform simulators over real HTTP (loopback), against small hand-made stores."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import hmac
import random
import time
from collections import Counter
from datetime import datetime
from urllib.parse import urlsplit

import orjson
import pytest
import requests
import urllib3

from simulators.apps.base import TZ, iso
from simulators.apps.property_mgmt import CurrentView
from simulators.server import (
    Credentials,
    FaultConfig,
    build_app,
    start_simulators,
)
from simulators.store import ResourceLog, SimClock, SimStore

T0 = datetime(2024, 3, 5, 9, 0, tzinfo=TZ).timestamp()
CREDIT = "91370202MA3C12345X"
CATALOG = {
    "company_credit_code": CREDIT,
    "items": [
        {
            "service_type": "housekeeping",
            "description": "两小时保洁",
            "price": "45.00",
            "complaint_phone": "0532-12345",
        }
    ],
}

# (key, update offset, visible offset or None, deleted)
ELDERS = [
    ("E1", 0, None, False),
    ("E2", 60, None, False),
    ("E3", 60, None, False),  # same update time as E2, delivered after it
    ("E1", 120, None, False),  # second version of E1
    ("E4", 180, 500, False),  # late commit: visible at +500
    ("E5", 240, None, False),
    ("E6", 300, None, True),  # tombstone of a record never delivered
    ("E7", 360, None, False),
    ("E8", 1000, None, False),  # in the future at the start clock
]
START = T0 + 400


def _ts(offset: float) -> str:
    return iso(T0 + offset)


def make_store() -> tuple[SimStore, SimClock]:
    store = SimStore()
    elders = store.log("civil_affairs", "elders")
    for n, (key, off, vis, deleted) in enumerate(ELDERS):
        body = {
            "record_id": key,
            "updated_at": _ts(off),
            "deleted": deleted,
            "name": "张三",
            "n": n,
        }
        elders.append(key, T0 + off, orjson.dumps(body), None if vis is None else T0 + vis)
    deaths = store.log("health", "death-certificates")
    for n, off in enumerate((10, 20, 30)):
        key = f"D{n + 1}"
        deaths.append(key, T0 + off, orjson.dumps({"record_id": key, "updated_at": _ts(off)}))
    insured = store.log("medical_insurance", "insured-persons")
    for key, off in (("P1", 0), ("P2", 100), ("P3", 200), ("P1", 300)):
        body = {"recordId": key, "updtTime": _ts(off), "valiFlag": "1", "off": off}
        insured.append(key, T0 + off, orjson.dumps(body))
    residents = store.log("public_security", "residents")
    for key, off, vis, hkzt in (
        ("R1", 0, None, "0"),
        ("R2", 50, None, "0"),
        ("R3", 100, None, "0"),
        ("R1", 200, None, "1"),
        ("R4", 250, 600, "0"),
        ("R5", 2000, None, "0"),
    ):
        body = {"rid": key, "sfzh": "370202194501011234", "hkzt": hkzt, "off": str(off)}
        residents.append(key, T0 + off, orjson.dumps(body), None if vis is None else T0 + vis)
    orders = store.log("property_mgmt", "service-orders")
    for key, off, v in (
        ("O1", 10, 1),
        ("O2", 20, 1),
        ("O4", 30, 1),  # same modified_at as O3: ordered by order_id, not delivery
        ("O3", 30, 1),
        ("O5", 40, 1),
        ("O1", 500, 2),  # O1 modified later
    ):
        body = {"order_id": key, "modified_at": _ts(off), "is_void": False, "v": v}
        orders.append(key, T0 + off, orjson.dumps(body))
    store.catalogs[CREDIT] = orjson.dumps(CATALOG)
    store.finalize()
    return store, SimClock(datetime.fromtimestamp(START, TZ))


@pytest.fixture
def env():
    """(store, clock, start) where start(faults, **kw) runs simulators stopped at teardown."""
    store, clock = make_store()
    handles = []

    def start(faults: FaultConfig | None = None, **kw):
        h = start_simulators(store, clock, faults or FaultConfig.none(), **kw)
        handles.append(h)
        return h

    yield store, clock, start
    for h in handles:
        h.stop()


def token(base: str, secret: str = "hub-secret") -> str:
    r = requests.post(
        base + "/oauth/token",
        data={"grant_type": "client_credentials", "client_id": "hub", "client_secret": secret},
    )
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


def bearer(tok: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tok}"}


def read_all(base: str, resource: str, tok: str, params: dict, limit: int = 2) -> tuple[list, int]:
    """Follow cursors (cursor alone after the first page); (records, pages)."""
    out, pages, cursor = [], 0, None
    while True:
        q = {"cursor": cursor, "limit": limit} if cursor else {**params, "limit": limit}
        r = requests.get(f"{base}/v1/{resource}", params=q, headers=bearer(tok))
        assert r.status_code == 200, r.text
        doc = r.json()
        out += doc["data"]
        pages += 1
        cursor = doc["next_cursor"]
        if cursor is None:
            return out, pages


def err(r: requests.Response, status: int, code: str | None = None) -> dict:
    assert r.status_code == status, (r.status_code, r.text)
    doc = r.json()
    assert set(doc) == {"code", "message"}
    if code is not None:
        assert doc["code"] == code, doc
    return doc


# -- OAuth platforms ---------------------------------------------------------------------


def test_oauth_token_success_and_failures(env):
    _, _, start = env
    base = start(platforms=["civil_affairs"]).urls["civil_affairs"]
    r = requests.post(
        base + "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": "hub",
            "client_secret": "hub-secret",
        },
    )
    assert r.status_code == 200
    doc = r.json()
    assert doc["token_type"] == "Bearer" and doc["expires_in"] == 600 and doc["access_token"]
    bad = {"grant_type": "client_credentials", "client_id": "hub", "client_secret": "nope"}
    err(requests.post(base + "/oauth/token", data=bad), 401, "UNAUTHORIZED")
    err(requests.post(base + "/oauth/token", data={**bad, "grant_type": "password"}), 400)
    err(requests.get(base + "/v1/elders"), 401, "UNAUTHORIZED")
    err(requests.get(base + "/v1/elders", headers=bearer("forged")), 401, "UNAUTHORIZED")
    r = requests.get(base + "/v1/elders", headers=bearer(doc["access_token"]))
    assert r.status_code == 200


def test_token_expiry(env):
    _, _, start = env
    base = start(FaultConfig.none(token_ttl_s=0.3), platforms=["health"]).urls["health"]
    tok = token(base)
    assert requests.get(base + "/v1/death-certificates", headers=bearer(tok)).status_code == 200
    time.sleep(0.4)
    err(requests.get(base + "/v1/death-certificates", headers=bearer(tok)), 401, "TOKEN_EXPIRED")
    fresh = token(base)
    assert requests.get(base + "/v1/death-certificates", headers=bearer(fresh)).status_code == 200


def test_cursor_pagination_returns_each_visible_entry_once_in_update_order(env):
    _, clock, start = env
    base = start(platforms=["civil_affairs"]).urls["civil_affairs"]
    tok = token(base)
    data, pages = read_all(base, "elders", tok, {})
    # E4 is a late commit (invisible until +500), E8 is in the future
    assert [(d["record_id"], d["n"]) for d in data] == [
        ("E1", 0), ("E2", 1), ("E3", 2), ("E1", 3), ("E5", 5), ("E6", 6), ("E7", 7)
    ]  # fmt: skip
    assert pages == 4
    assert data[5]["deleted"] is True
    # the bound is inclusive; a full page at once gives the same entries
    data2, pages2 = read_all(base, "elders", tok, {"updated_since": _ts(60)}, limit=1000)
    assert [d["n"] for d in data2] == [1, 2, 3, 5, 6, 7] and pages2 == 1
    r = requests.get(base + "/v1/elders", params={"limit": 1000}, headers=bearer(tok))
    assert r.json()["server_time"] == iso(clock.now()) == "2024-03-05T09:06:40+08:00"


def test_visibility_follows_the_clock(env):
    _, clock, start = env
    base = start(platforms=["civil_affairs"]).urls["civil_affairs"]
    tok = token(base)
    since = {"updated_since": _ts(120)}
    first, _ = read_all(base, "elders", tok, since)
    assert [d["n"] for d in first] == [3, 5, 6, 7]
    clock.advance(200)  # now +600: the late commit E4 (updated +180) shows up
    again, _ = read_all(base, "elders", tok, since)
    assert [d["n"] for d in again] == [3, 4, 5, 6, 7]
    clock.advance(400)  # now +1000: E8 (updated exactly now) too
    last, _ = read_all(base, "elders", tok, {"updated_since": _ts(361)})
    assert [d["record_id"] for d in last] == ["E8"]


def test_cursor_expiry_and_tampering(env):
    _, _, start = env
    base = start(FaultConfig.none(cursor_ttl_s=0.3), platforms=["civil_affairs"]).urls[
        "civil_affairs"
    ]
    tok = token(base)
    r = requests.get(base + "/v1/elders", params={"limit": 2}, headers=bearer(tok))
    cursor = r.json()["next_cursor"]
    assert isinstance(cursor, str)
    ok = requests.get(base + "/v1/elders", params={"cursor": cursor}, headers=bearer(tok))
    assert ok.status_code == 200 and [d["n"] for d in ok.json()["data"]][:2] == [2, 3]
    # tampered: change one character in the middle
    mid = len(cursor) // 2
    forged = cursor[:mid] + ("A" if cursor[mid] != "A" else "B") + cursor[mid + 1 :]
    doc = err(
        requests.get(base + "/v1/elders", params={"cursor": forged}, headers=bearer(tok)), 400
    )
    assert doc["code"] != "CURSOR_EXPIRED"
    err(requests.get(base + "/v1/elders", params={"cursor": "!!"}, headers=bearer(tok)), 400)
    # a cursor of another resource is refused
    err(requests.get(base + "/v1/benefits", params={"cursor": cursor}, headers=bearer(tok)), 400)
    time.sleep(0.4)
    err(
        requests.get(base + "/v1/elders", params={"cursor": cursor}, headers=bearer(tok)),
        400,
        "CURSOR_EXPIRED",
    )


def test_parameter_validation(env):
    _, _, start = env
    base = start(platforms=["civil_affairs"]).urls["civil_affairs"]
    h = bearer(token(base))
    # a raw '+' decodes to a space: 400; '%2B' is the offset
    err(requests.get(base + "/v1/elders?updated_since=2024-03-05T09:02:00+08:00", headers=h), 400)
    r = requests.get(base + "/v1/elders?updated_since=2024-03-05T09:02:00%2B08:00", headers=h)
    assert r.status_code == 200 and [d["n"] for d in r.json()["data"]] == [3, 5, 6, 7]
    r2 = requests.get(base + "/v1/elders", params={"updated_since": _ts(120)}, headers=h)
    assert r2.json()["data"] == r.json()["data"]  # requests encodes '+' as %2B
    for bad in ("2024-03-05T09:02:00", "yesterday", "2024-03-05", ""):
        err(requests.get(base + "/v1/elders", params={"updated_since": bad}, headers=h), 400)
    for limit in ("0", "1001", "-1", "ten"):
        doc = err(requests.get(base + "/v1/elders", params={"limit": limit}, headers=h), 400)
        assert doc["code"] == "BAD_PARAMETER"
    assert requests.get(base + "/v1/elders", params={"limit": 1000}, headers=h).status_code == 200
    err(requests.get(base + "/v1/elders", params={"since": _ts(0)}, headers=h), 400)
    # a known resource with no data is empty, an unknown one is 404
    r = requests.get(base + "/v1/time-bank", headers=h)
    assert r.status_code == 200 and r.json()["data"] == [] and r.json()["next_cursor"] is None
    err(requests.get(base + "/v1/pets", headers=h), 404, "NOT_FOUND")
    err(requests.get(base + "/nowhere", headers=h), 404)
    err(requests.delete(base + "/v1/elders", headers=h), 405)


def test_medical_insurance_bound_parameter(env):
    _, _, start = env
    base = start(platforms=["medical_insurance"]).urls["medical_insurance"]
    h = bearer(token(base))
    r = requests.get(base + "/v1/insured-persons", params={"updtTimeBegin": _ts(100)}, headers=h)
    assert r.status_code == 200
    assert [(d["recordId"], d["off"]) for d in r.json()["data"]] == [
        ("P2", 100), ("P3", 200), ("P1", 300)
    ]  # fmt: skip
    err(
        requests.get(base + "/v1/insured-persons", params={"updated_since": _ts(100)}, headers=h),
        400,
    )
    data, _ = read_all(base, "insured-persons", token(base), {})
    assert len(data) == 4


def test_spurious_token_invalidation(env):
    _, _, start = env
    base = start(FaultConfig.none(rate_401=0.5), platforms=["health"]).urls["health"]
    tok = token(base)
    seen = []
    for _ in range(40):
        r = requests.get(base + "/v1/death-certificates", headers=bearer(tok))
        seen.append(r.status_code)
        if r.status_code == 401:
            assert r.json()["code"] == "TOKEN_EXPIRED"
            tok = token(base)  # refresh once and retry
    assert 5 < seen.count(401) < 35 and seen.count(200) > 5


# -- public security ---------------------------------------------------------------------


def ps(
    base: str,
    method: str,
    path: str,
    query: str = "",
    json: object = None,
    secret: str = "hub-secret",
    ts: int | None = None,
    sign_path: str | None = None,
    headers: dict | None = None,
    **kw,
) -> requests.Response:
    full = urlsplit(base).path + path if sign_path is None else sign_path
    stamp = str(int(time.time()) if ts is None else ts)
    msg = f"{method}\n{full}\n{query}\n{stamp}".encode()
    sig = hmac.new(secret.encode(), msg, hashlib.sha256).hexdigest()
    h = {"X-App-Key": "hub", "X-Timestamp": stamp, "X-Signature": sig, **(headers or {})}
    url = base + path + ("?" + query if query else "")
    return requests.request(method, url, json=json, headers=h, **kw)


def wait_ready(base: str, export_id: str, timeout: float = 5) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        doc = ps(base, "GET", f"/v1/exports/{export_id}").json()
        if doc["status"] != "pending" or time.monotonic() > deadline:
            return doc
        time.sleep(0.05)


def test_ps_signature(env):
    _, _, start = env
    base = start(platforms=["public_security"], prefix="/gateway").urls["public_security"]
    assert base.endswith("/gateway")
    body = {"dataset": "residents", "since": None}
    assert ps(base, "POST", "/v1/exports", json=body).status_code == 202
    err(ps(base, "POST", "/v1/exports", json=body, secret="wrong"), 401)
    err(ps(base, "POST", "/v1/exports", json=body, sign_path="/v1/exports"), 401)  # no prefix
    err(ps(base, "POST", "/v1/exports", json=body, ts=int(time.time()) - 301), 401)
    err(ps(base, "POST", "/v1/exports", json=body, ts=int(time.time()) + 400), 401)
    assert ps(base, "POST", "/v1/exports", json=body, ts=int(time.time()) - 250).status_code == 202
    err(ps(base, "POST", "/v1/exports", json=body, headers={"X-App-Key": "other"}), 401)
    err(requests.post(base + "/v1/exports", json=body), 401)
    # the query string is signed as sent
    err(ps(base, "GET", "/v1/exports/nope", query="a=1", sign_path=None), 400)
    r = ps(base, "GET", "/v1/exports/nope", query="")
    err(r, 404)
    # outside the prefix nothing answers
    err(requests.post(base.removesuffix("/gateway") + "/v1/exports", json=body), 404)
    err(ps(base, "POST", "/v1/exports", json={"dataset": "cars"}), 400)
    err(ps(base, "POST", "/v1/exports", json={"dataset": "residents", "since": "2024-03-05"}), 400)


def _lines(data: bytes) -> list[dict]:
    return [orjson.loads(line) for line in gzip.decompress(data).splitlines()]


def test_export_flow(env):
    _, clock, start = env
    h = start(FaultConfig.none(export_ready_after_s=0.3), platforms=["public_security"])
    base = h.urls["public_security"]
    r = ps(base, "POST", "/v1/exports", json={"dataset": "residents", "since": None})
    assert r.status_code == 202 and r.json()["status"] == "pending"
    eid = r.json()["export_id"]
    status = ps(base, "GET", f"/v1/exports/{eid}").json()
    assert status["status"] == "pending" and status["record_count"] is None
    assert status["sha256"] is None
    err(ps(base, "GET", f"/v1/exports/{eid}/file"), 409, "EXPORT_NOT_READY")
    clock.advance(1000)  # contents are fixed when the export was requested
    status = wait_ready(base, eid)
    assert status["status"] == "ready"
    f = ps(base, "GET", f"/v1/exports/{eid}/file")
    assert f.status_code == 200 and f.headers["Content-Type"] == "application/gzip"
    assert hashlib.sha256(f.content).hexdigest() == status["sha256"]
    rows = _lines(f.content)
    assert status["record_count"] == len(rows) == 3
    assert [(x["rid"], x["hkzt"]) for x in rows] == [("R2", "0"), ("R3", "0"), ("R1", "1")]
    # incremental export, requested now (+1400): the late R4 is visible, R5 still not
    r = ps(base, "POST", "/v1/exports", json={"dataset": "residents", "since": _ts(100)})
    eid2 = r.json()["export_id"]
    status2 = wait_ready(base, eid2)
    rows2 = _lines(ps(base, "GET", f"/v1/exports/{eid2}/file").content)
    assert [x["rid"] for x in rows2] == ["R3", "R1", "R4"] and status2["record_count"] == 3
    err(ps(base, "GET", "/v1/exports/unknown/file"), 404)


def test_export_range_resume(env):
    _, _, start = env
    base = start(FaultConfig.none(export_ready_after_s=0), platforms=["public_security"]).urls[
        "public_security"
    ]
    eid = ps(base, "POST", "/v1/exports", json={"dataset": "residents"}).json()["export_id"]
    status = wait_ready(base, eid)
    full = ps(base, "GET", f"/v1/exports/{eid}/file").content
    size = len(full)
    head = ps(base, "GET", f"/v1/exports/{eid}/file", headers={"Range": "bytes=0-19"})
    assert head.status_code == 206 and head.content == full[:20]
    tail = ps(base, "GET", f"/v1/exports/{eid}/file", headers={"Range": "bytes=20-"})
    assert tail.status_code == 206
    assert tail.headers["Content-Range"] == f"bytes 20-{size - 1}/{size}"
    assert int(tail.headers["Content-Length"]) == size - 20
    assert head.content + tail.content == full
    assert hashlib.sha256(head.content + tail.content).hexdigest() == status["sha256"]
    r = ps(base, "GET", f"/v1/exports/{eid}/file", headers={"Range": f"bytes={size}-"})
    assert r.status_code == 416


def test_export_truncation_and_resume(env):
    _, _, start = env
    faults = FaultConfig.none(export_ready_after_s=0, export_truncate_rate=1.0)
    h = start(faults, platforms=["public_security"])
    base = h.urls["public_security"]
    eid = ps(base, "POST", "/v1/exports", json={"dataset": "residents"}).json()["export_id"]
    status = wait_ready(base, eid)
    size = len(h.apps["public_security"].exports[eid].data)
    with pytest.raises(requests.exceptions.RequestException):
        ps(base, "GET", f"/v1/exports/{eid}/file").content  # noqa: B018
    got = b""
    for _ in range(50):  # every download breaks off, but each one makes progress
        extra = {"Range": f"bytes={len(got)}-"} if got else {}
        r = ps(base, "GET", f"/v1/exports/{eid}/file", headers=extra, stream=True)
        assert r.status_code == (206 if got else 200)
        expected = int(r.headers["Content-Length"])
        chunk = b""
        with contextlib.suppress(urllib3.exceptions.HTTPError):
            for part in r.raw.stream(1024, decode_content=False):
                chunk += part
        assert 0 < len(chunk) < expected or len(chunk) == expected == 1  # 1 byte: nothing to cut
        got += chunk
        if len(got) >= size:
            break
    assert hashlib.sha256(got).hexdigest() == status["sha256"]


def test_export_failure_and_expiry(env):
    _, _, start = env
    faults = FaultConfig.none(export_ready_after_s=0.1, export_fail_rate=1.0, export_keep_s=0.3)
    base = start(faults, platforms=["public_security"]).urls["public_security"]
    eid = ps(base, "POST", "/v1/exports", json={"dataset": "residents"}).json()["export_id"]
    assert ps(base, "GET", f"/v1/exports/{eid}").json()["status"] == "pending"
    doc = wait_ready(base, eid)
    assert doc == {"export_id": eid, "status": "failed", "record_count": None, "sha256": None}
    err(ps(base, "GET", f"/v1/exports/{eid}/file"), 409)
    time.sleep(0.5)
    err(ps(base, "GET", f"/v1/exports/{eid}"), 404)
    err(ps(base, "GET", f"/v1/exports/{eid}/file"), 404)


# -- property ----------------------------------------------------------------------------

KEY = {"X-Api-Key": "hub-api-key"}


def orders_page(base: str, **params) -> dict:
    r = requests.get(base + "/api/service-orders", params=params, headers=KEY)
    assert r.status_code == 200, r.text
    return r.json()


def test_property_paging(env):
    _, _, start = env
    base = start(platforms=["property_mgmt"]).urls["property_mgmt"]
    err(requests.get(base + "/api/service-orders"), 401)
    err(requests.get(base + "/api/service-orders", headers={"X-Api-Key": "x"}), 401)
    pages = [orders_page(base, page=p, page_size=2) for p in (1, 2, 3, 4)]
    assert [p["total"] for p in pages] == [5] * 4
    assert [(p["page"], p["page_size"]) for p in pages] == [(1, 2), (2, 2), (3, 2), (4, 2)]
    ids = [[i["order_id"] for i in p["items"]] for p in pages]
    assert ids == [["O1", "O2"], ["O3", "O4"], ["O5"], []]
    doc = orders_page(base, modified_after=_ts(30), page_size=500)
    assert doc["total"] == 3 and [i["order_id"] for i in doc["items"]] == ["O3", "O4", "O5"]
    for bad in ({"page": "0"}, {"page_size": "501"}, {"page_size": "0"}, {"modified_after": "x"}):
        err(requests.get(base + "/api/service-orders", params=bad, headers=KEY), 400)
    err(
        requests.get(base + "/api/service-orders", params={"updated_since": _ts(0)}, headers=KEY),
        400,
    )


def test_property_order_modified_during_read_moves_to_the_end(env):
    _, clock, start = env
    base = start(platforms=["property_mgmt"]).urls["property_mgmt"]
    first = orders_page(base, page=1, page_size=2)
    assert [(i["order_id"], i["v"]) for i in first["items"]] == [("O1", 1), ("O2", 1)]
    clock.advance(200)  # O1 was modified at +500
    second = orders_page(base, page=2, page_size=2)
    third = orders_page(base, page=3, page_size=2)
    assert [i["order_id"] for i in second["items"]] == ["O4", "O5"]  # O3 shifted to page 1
    assert [(i["order_id"], i["v"]) for i in third["items"]] == [("O1", 2)]
    assert second["total"] == third["total"] == 5


def test_property_catalog(env):
    _, _, start = env
    base = start(platforms=["property_mgmt"], prefix="/gw").urls["property_mgmt"]
    url = base + "/api/service-catalog"
    r = requests.get(url, params={"company_credit_code": CREDIT}, headers=KEY)
    assert r.status_code == 200 and r.json() == CATALOG
    err(requests.get(url, params={"company_credit_code": "91370202XXXXXXXXXX"}, headers=KEY), 404)
    err(requests.get(url, headers=KEY), 400)
    err(requests.get(url, params={"company_credit_code": CREDIT}), 401)


def test_current_view_matches_store_under_clock_moves():
    rng = random.Random(7)
    log = ResourceLog("property_mgmt", "service-orders")
    for _ in range(600):
        upd = rng.randrange(0, 1000)
        vis = upd + (rng.randrange(1, 300) if rng.random() < 0.15 else 0)
        log.append(f"K{rng.randrange(80):03d}", float(upd), b"{}", float(vis))
    log.finalize()
    for rebuild_above in (10**9, 5):
        view = CurrentView(log)
        view.REBUILD_ABOVE = rebuild_above
        now = 0.0
        for _ in range(120):
            now = max(0.0, now + rng.choice((-150, 0, 3, 17, 40, 90)))
            expected = log.current_view(now)
            total, idx = view.page(now, None, 0, 10**6)
            assert idx == expected and total == len(expected)
            since = float(rng.randrange(0, 1000))
            total, idx = view.page(now, since, 2, 5)
            tail = [i for i in expected if log.updated[i] >= since]
            assert total == len(tail) and idx == tail[2:7]


# -- all platforms: rate limit, faults ---------------------------------------------------


def test_rate_limit_returns_429_with_retry_after(env):
    _, _, start = env
    faults = FaultConfig.none(rate_limit_rps=5)
    base = start(faults, platforms=["property_mgmt"]).urls["property_mgmt"]
    url = base + "/api/service-catalog"
    s = requests.Session()
    codes = []
    for _ in range(15):
        r = s.get(url, params={"company_credit_code": CREDIT}, headers=KEY)
        codes.append(r.status_code)
        if r.status_code == 429:
            assert int(r.headers["Retry-After"]) >= 1
            assert r.json()["code"] == "RATE_LIMITED"
    assert codes[:5] == [200] * 5 and codes.count(429) >= 8
    # another client has its own bucket (here: an unknown key, so 401, not 429)
    assert s.get(url, headers={"X-Api-Key": "other"}).status_code == 401
    time.sleep(0.5)
    assert s.get(url, params={"company_credit_code": CREDIT}, headers=KEY).status_code == 200


def test_random_faults_roughly_as_configured(env):
    _, _, start = env
    faults = FaultConfig(rate_429=0.1, rate_5xx=0.1, rate_limit_rps=None, seed=3)
    h = start(faults, platforms=["property_mgmt", "civil_affairs"])
    s = requests.Session()
    url = h.urls["property_mgmt"] + "/api/service-catalog"
    n = 800
    codes = Counter()
    for _ in range(n):
        r = s.get(url, params={"company_credit_code": CREDIT}, headers=KEY)
        codes[r.status_code] += 1
        if r.status_code != 200:
            doc = r.json()
            assert set(doc) == {"code", "message"}
        if r.status_code == 429:
            assert r.headers["Retry-After"] == "1"
    assert set(codes) <= {200, 429, 500, 502, 503, 504}
    five = sum(codes[c] for c in (500, 502, 503, 504))
    assert 0.06 * n < codes[429] < 0.14 * n
    assert 0.06 * n < five < 0.14 * n
    assert sum(1 for c in (500, 502, 503, 504) if codes[c]) >= 3
    # faults default to a few per thousand
    default = FaultConfig()
    assert default.rate_429 == default.rate_5xx == 0.003 and default.rate_limit_rps == 20


def test_build_app_and_credentials():
    store, clock = make_store()
    creds = Credentials(client_secret="other")
    app = build_app("civil_affairs", store, clock, FaultConfig.none(), creds)
    assert callable(app)
    with pytest.raises(ValueError):
        build_app("weather", store, clock, FaultConfig.none(), creds)
    with start_simulators(store, clock, FaultConfig.none(), creds, platforms=["health"]) as h:
        base = h.urls["health"]
        token(base, secret="other")
        r = requests.post(
            base + "/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": "hub",
                "client_secret": "hub-secret",
            },
        )
        err(r, 401)
