"""The connectors against servers that follow PLATFORMS.md but choose differently from the
project's simulators: a scripted server on loopback answers each case the way another
implementation of the contract may."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import json
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connectors.auth import HmacSignature, OAuth2ClientCredentials
from connectors.connection import PlatformConnection
from connectors.errors import ExportFailed
from connectors.export import BulkExport
from connectors.http import get, make_session
from connectors.paginators import CursorPaginator, KeysetPagePaginator
from connectors.platforms import RESOURCES, ClientOptions, PlatformClient, platform_auth
from landing.normalize import format_timestamp, parse_timestamp

Handler = Callable[["_Request"], tuple[int, dict[str, str], bytes]]


class _Request:
    def __init__(self, h: http.server.BaseHTTPRequestHandler, body: bytes) -> None:
        self.method, self.path, self.headers, self.body = h.command, h.path, h.headers, body


@pytest.fixture
def scripted() -> Iterator[Callable[[Handler], str]]:
    """``scripted(handler)`` serves ``handler(request) -> (status, headers, body)`` on a
    loopback port and returns its base URL."""
    servers: list[http.server.ThreadingHTTPServer] = []

    def start(handler: Handler) -> str:
        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a: object) -> None:
                pass

            def _answer(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, headers, out = handler(_Request(self, body))
                self.send_response(status)
                headers = {"Content-Type": "application/json", **headers}
                headers.setdefault("Content-Length", str(len(out)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(out)
                if headers["Content-Length"] != str(len(out)):  # a body cut short
                    self.close_connection = True

            do_GET = do_POST = _answer

        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
        return f"http://127.0.0.1:{srv.server_port}"

    yield start
    for srv in servers:
        srv.shutdown()
        srv.server_close()


def _json(status: int, obj: object, **headers: str) -> tuple[int, dict[str, str], bytes]:
    return status, headers, json.dumps(obj).encode()


# --------------------------------------------------------------------- retries


@pytest.mark.parametrize("retry_after", ["1.5", "0.2", "-1", "soon"])
def test_any_retry_after_value_is_waited_out_or_backed_off_not_fatal(scripted, retry_after) -> None:  # noqa: ANN001
    hits = []

    def handler(r: _Request):  # noqa: ANN202
        hits.append(r.path)
        if len(hits) == 1:
            return _json(429, {"code": "RATE_LIMITED", "message": "slow down"}, **{"Retry-After": retry_after})
        return _json(200, {"ok": 1})

    base = scripted(handler)
    resp = make_session(rps=None, backoff=0.01).get(base + "/v1/elders")
    assert resp.status_code == 200 and len(hits) == 2


def test_a_body_cut_short_is_read_again(scripted) -> None:  # noqa: ANN001
    hits = []

    def handler(r: _Request):  # noqa: ANN202
        hits.append(r.path)
        body = json.dumps({"data": [], "next_cursor": None}).encode()
        if len(hits) == 1:  # the connection drops after half the body
            return 200, {"Content-Length": str(len(body))}, body[: len(body) // 2]
        return 200, {}, body

    base = scripted(handler)
    resp = get(make_session(rps=None), base + "/v1/elders")
    assert resp.json() == {"data": [], "next_cursor": None} and len(hits) == 2


# ------------------------------------------------------------------------ auth


def test_each_401_renews_the_token_again_and_a_platforms_readers_share_one(scripted) -> None:  # noqa: ANN001
    issued: list[str] = []
    sent: list[str] = []

    def handler(r: _Request):  # noqa: ANN202
        if r.path == "/oauth/token":
            issued.append(f"t{len(issued) + 1}")
            return _json(200, {"access_token": issued[-1], "token_type": "Bearer", "expires_in": 600})
        token = r.headers.get("Authorization", "").split()[-1]
        sent.append(token)
        if token in ("t1", "t2"):  # the platform invalidates the first two tokens
            return _json(401, {"code": "TOKEN_EXPIRED", "message": "expired"})
        return _json(200, {"data": [], "next_cursor": None, "server_time": "2026-03-01T08:00:00+08:00"})

    base = scripted(handler)
    conn = PlatformConnection("civil_affairs", base, "hub", "secret", {})
    options = ClientOptions(requests_per_second=None)
    shared = platform_auth("civil_affairs", conn, options)
    assert isinstance(shared, OAuth2ClientCredentials)
    from dataclasses import replace

    first = PlatformClient("civil_affairs", conn, replace(options, auth=shared))
    assert [len(p.records) for p in first.pages("elders", None)] == [0]
    assert sent == ["t1", "t2", "t3"]  # renewed twice, each time with a new token
    second = PlatformClient("civil_affairs", conn, replace(options, auth=shared))
    list(second.pages("benefits", None))
    assert issued == ["t1", "t2", "t3"] and sent[-1] == "t3"  # the second reader used the same token


def test_a_signed_request_refused_once_is_signed_afresh_and_sent_again(scripted) -> None:  # noqa: ANN001
    seen: list[tuple[str, str]] = []

    def handler(r: _Request):  # noqa: ANN202
        seen.append((r.headers["X-Timestamp"], r.headers["X-Signature"]))
        if len(seen) == 1:  # as if the signature had gone stale during retries
            return _json(401, {"code": "BAD_SIGNATURE", "message": "timestamp too far off"})
        return _json(202, {"export_id": "e1", "status": "pending"})

    base = scripted(handler)
    s = make_session(rps=None)
    s.auth = HmacSignature("app", "secret")
    resp = s.post(base + "/v1/exports", json={"dataset": "residents", "since": None})
    assert resp.status_code == 202 and len(seen) == 2
    ts, sig = seen[1]
    assert sig == HmacSignature("app", "secret").sign("POST", "/v1/exports", "", ts)


def test_a_signed_request_refused_twice_fails(scripted) -> None:  # noqa: ANN001
    base = scripted(lambda r: _json(401, {"code": "BAD_SIGNATURE", "message": "no"}))
    s = make_session(rps=None)
    s.auth = HmacSignature("app", "wrong")
    assert s.get(base + "/v1/exports/e1").status_code == 401


# ---------------------------------------------------------------------- export


_FILE = gzip.compress(b'{"rid":"1","gxsj":"20240101000000"}\n{"rid":"2","gxsj":"20240101000000"}\n')


def _export(base: str, tmp_path: Path, **kw: float) -> BulkExport:
    return BulkExport("public_security", make_session(rps=None, retries=1), base, "residents", tmp_path,
                      format_timestamp, poll_seconds=0.05, **kw)  # type: ignore[arg-type]


def test_an_export_file_labelled_as_gzip_encoded_is_kept_as_sent(scripted, tmp_path) -> None:  # noqa: ANN001
    """A server that labels the .gz file ``Content-Encoding: gzip`` and refuses requests
    that do not accept gzip: the file's own bytes are what the checksum covers."""

    def handler(r: _Request):  # noqa: ANN202
        if r.method == "POST":
            return _json(202, {"export_id": "e1", "status": "pending"})
        if r.path.endswith("/file"):
            if "gzip" not in r.headers.get("Accept", "") and "*/*" not in r.headers.get("Accept", ""):
                return _json(406, {"code": "NOT_ACCEPTABLE", "message": "gzip only"})
            return 200, {"Content-Type": "application/gzip", "Content-Encoding": "gzip"}, _FILE
        return _json(200, {"status": "ready", "record_count": 2, "sha256": hashlib.sha256(_FILE).hexdigest()})

    pages = list(_export(scripted(handler), tmp_path).pages(None))
    assert sum(len(p.records) for p in pages) == 2


def test_an_expired_export_file_is_requested_anew(scripted, tmp_path) -> None:  # noqa: ANN001
    exports: list[str] = []

    def handler(r: _Request):  # noqa: ANN202
        if r.method == "POST":
            exports.append(f"e{len(exports) + 1}")
            return _json(202, {"export_id": exports[-1], "status": "pending"})
        if r.path.endswith("/file"):
            if "/e1/" in r.path:  # kept two hours: gone
                return _json(410, {"code": "EXPORT_EXPIRED", "message": "gone"})
            return 200, {"Content-Type": "application/gzip"}, _FILE
        return _json(200, {"status": "ready", "record_count": 2, "sha256": hashlib.sha256(_FILE).hexdigest()})

    pages = list(_export(scripted(handler), tmp_path).pages(None))
    assert exports == ["e1", "e2"] and sum(len(p.records) for p in pages) == 2


def test_a_file_that_never_becomes_ready_fails_within_the_timeout(scripted, tmp_path) -> None:  # noqa: ANN001
    def handler(r: _Request):  # noqa: ANN202
        if r.method == "POST":
            return _json(202, {"export_id": "e1", "status": "pending"})
        if r.path.endswith("/file"):
            return _json(409, {"code": "EXPORT_NOT_READY", "message": "wait"})
        return _json(200, {"status": "ready", "record_count": 2, "sha256": "00"})

    with pytest.raises(ExportFailed, match="still not ready"):
        list(_export(scripted(handler), tmp_path, timeout_seconds=0.3).pages(None))


# ------------------------------------------------------------------ pagination

T0 = datetime(2026, 3, 1, tzinfo=UTC)


class _Orders:
    """A property platform in memory: orders ordered by (modified_at, order_id), pages
    computed per request; ``on_request`` may change them between requests."""

    def __init__(self, orders: dict[str, datetime], cap: int = 500) -> None:
        self.orders, self.cap, self.requests = orders, cap, 0
        self.on_request: Callable[[int], None] = lambda n: None

    def handler(self, r: _Request):  # noqa: ANN201
        from urllib.parse import parse_qs, urlsplit

        self.requests += 1
        self.on_request(self.requests)
        q = {k: v[0] for k, v in parse_qs(urlsplit(r.path).query).items()}
        bound = datetime.fromisoformat(q["modified_after"])
        size = min(int(q["page_size"]), self.cap)
        page = int(q["page"])
        rows = sorted((t, oid) for oid, t in self.orders.items() if t >= bound)
        items = [{"order_id": oid, "modified_at": t.isoformat()} for t, oid in rows[(page - 1) * size: page * size]]
        return _json(200, {"total": len(rows), "page": page, "page_size": size, "items": items})


def _keyset(base: str, page_size: int) -> KeysetPagePaginator:
    return KeysetPagePaginator("property_mgmt", make_session(rps=None), base + "/api/service-orders",
                               "modified_after", page_size, format_timestamp,
                               lambda r: parse_timestamp(r["modified_at"]))


def test_an_order_leaving_a_run_of_equal_update_times_mid_read_skips_nothing(scripted) -> None:  # noqa: ANN001
    """Twelve orders share one update time (a bulk import): the reader steps pages of
    that time. One of the first page's orders is modified after the first page was
    read, which shifts every later one back a place; the check of each stepped page
    notices and reads the run again."""
    orders = {f"O{i:02d}": T0 for i in range(12)} | {"O99": T0 + timedelta(hours=1)}
    platform = _Orders(orders)

    def modify(n: int) -> None:
        if n == 2:  # after page 1 of the run was served
            orders["O01"] = T0 + timedelta(hours=2)

    platform.on_request = modify
    got = [r["order_id"] for p in _keyset(scripted(platform.handler), 5).pages(T0) for r in p.records]
    assert set(got) == set(orders)


def test_a_server_that_caps_the_page_size_is_read_to_the_end(scripted) -> None:  # noqa: ANN001
    orders = {f"O{i:03d}": T0 + timedelta(minutes=i // 5) for i in range(23)}
    base = scripted(_Orders(orders, cap=4).handler)
    got = [r["order_id"] for p in _keyset(base, 10).pages(T0) for r in p.records]
    assert set(got) == set(orders)


def test_an_unreadable_server_time_is_ignored_not_fatal(scripted) -> None:  # noqa: ANN001
    base = scripted(lambda r: _json(200, {"data": [{"record_id": "1", "updated_at": "2026-03-01T08:00:00+08:00"}],
                                          "next_cursor": None, "server_time": "2026-03-01 08:00:00"}))
    p = CursorPaginator("civil_affairs", make_session(rps=None), base + "/v1/elders", "updated_since", 10,
                        format_timestamp, parse_timestamp, lambda r: parse_timestamp(r["updated_at"]))
    (page,) = list(p.pages(None))
    assert len(page.records) == 1 and page.server_time is None


# -------------------------------------------------------------------- records


@pytest.mark.parametrize(("platform", "flag", "withdrawn"), [
    ("civil_affairs", True, True), ("civil_affairs", "true", True), ("civil_affairs", 1, True),
    ("civil_affairs", "1", True), ("civil_affairs", False, False), ("civil_affairs", 0, False),
    ("civil_affairs", None, False), ("medical_insurance", "0", True), ("medical_insurance", 0, True),
    ("medical_insurance", " 0", True), ("medical_insurance", "1", False), ("medical_insurance", 1, False),
    ("property_mgmt", "1", True), ("property_mgmt", False, False),
])
def test_tombstone_flags_in_every_spelling(platform: str, flag: object, withdrawn: bool) -> None:
    spec = RESOURCES[platform][0]
    assert spec.is_tombstone({spec.tombstone_field: flag}) is withdrawn


def test_a_record_id_too_long_to_key_is_refused() -> None:
    spec = RESOURCES["civil_affairs"][0]
    assert spec.record_id({"record_id": " E1 "}) == "E1"
    with pytest.raises(ValueError, match="longer than 128"):
        spec.record_id({"record_id": "E" * 129})


def test_an_export_status_with_its_count_as_a_string_is_read(scripted, tmp_path) -> None:  # noqa: ANN001
    def handler(r: _Request):  # noqa: ANN202
        if r.method == "POST":
            return _json(202, {"export_id": 7, "status": "pending"})
        if r.path.endswith("/file"):
            return 200, {"Content-Type": "application/gzip"}, _FILE
        return _json(200, {"status": "ready", "record_count": "2", "sha256": hashlib.sha256(_FILE).hexdigest().upper()})

    pages = list(_export(scripted(handler), tmp_path).pages(None))
    assert sum(len(p.records) for p in pages) == 2


def test_a_download_given_up_leaves_no_partial_file(scripted, tmp_path) -> None:  # noqa: ANN001
    def handler(r: _Request):  # noqa: ANN202
        if r.method == "POST":
            return _json(202, {"export_id": "e1", "status": "pending"})
        if r.path.endswith("/file"):  # the connection breaks after a few bytes, every time
            return 200, {"Content-Type": "application/gzip", "Content-Length": str(len(_FILE))}, _FILE[:10]
        return _json(200, {"status": "ready", "record_count": 2, "sha256": hashlib.sha256(_FILE).hexdigest()})

    export = _export(scripted(handler), tmp_path)
    export.max_resumes = 2
    with pytest.raises(ExportFailed, match="broke off"):
        list(export.pages(None))
    assert list(tmp_path.iterdir()) == []
