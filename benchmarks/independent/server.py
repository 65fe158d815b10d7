"""Independent implementation of the five platforms of PLATFORMS.md (one process, five ports).

  civil_affairs      http://127.0.0.1:9101/gw/mz   (OAuth2, cursor, prefix in host)
  health             http://127.0.0.1:9102         (OAuth2, cursor, pages capped at 250)
  medical_insurance  http://127.0.0.1:9103/hsa     (OAuth2, camelCase, updtTime in +00:00)
  public_security    http://127.0.0.1:9104/ga      (HMAC, bulk export)
  property_mgmt      http://127.0.0.1:9105         (X-Api-Key, page numbers)

Usage: python server.py [--data DIR] [--now ISO] [--ports 9101,9102,9103,9104,9105] [--fault-rate 0.01] [--token-ttl 90]

The platforms' clock (``server_time``, the HTTP ``Date`` header, live changes) is the data's:
--now when the server starts (default common.DEFAULT_NOW; give the --now the data was
generated with), advancing with the wall clock from there. The hub takes its as-of date from
it. Token expiry, cursor age, export readiness and the HMAC timestamp check stay on the wall
clock. The server refuses data newer than --now.
"""
from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gzip
import hashlib
import hmac
import io
import json
import os
import random
import secrets
import threading
import time
from collections import defaultdict, deque
from email.utils import formatdate

import uvicorn
from common import DEFAULT_NOW, SH, iso_sh, iso_utc, parse_now
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

ap = argparse.ArgumentParser()
ap.add_argument("--data", default="data")
ap.add_argument("--now", type=parse_now, default=DEFAULT_NOW,
                help=f"the platforms' clock at start: ISO date-time with offset (default {DEFAULT_NOW})")
ap.add_argument("--ports", default="9101,9102,9103,9104,9105",
                help="civil_affairs,health,medical_insurance,public_security,property_mgmt")
ap.add_argument("--fault-rate", type=float, default=0.01)
ap.add_argument("--r429-rate", type=float, default=0.005)
ap.add_argument("--revoke-rate", type=float, default=0.003)
ap.add_argument("--token-ttl", type=int, default=90)
ap.add_argument("--rps", type=int, default=20)
ap.add_argument("--cursor-expire-rate", type=float, default=0.0, help="probe: answer CURSOR_EXPIRED at this rate")
ap.add_argument("--live-rate", type=float, default=0.0, help="probe: per list request, chance of a live change")
args = ap.parse_args()
STARTED = time.monotonic()

rng = random.Random(7)
LOCK = threading.Lock()
STATS = defaultdict(int)

CRED = {"civil_affairs": ("indep-mz", "mz-secret-9101"), "health": ("indep-wj", "wj-secret-9102"),
        "medical_insurance": ("indep-yb", "yb-secret-9103"), "public_security": ("indep-ga", "ga-secret-9104"),
        "property_mgmt": ("", "wy-apikey-9105")}
PREFIX = {"civil_affairs": "/gw/mz", "health": "", "medical_insurance": "/hsa", "public_security": "/ga",
          "property_mgmt": ""}
PORT = dict(zip(("civil_affairs", "health", "medical_insurance", "public_security", "property_mgmt"),
                (int(x) for x in args.ports.split(",")), strict=True))


def load(key):
    path = os.path.join(args.data, key.replace("/", "__") + ".json")
    if not os.path.exists(path):
        return []
    return json.load(open(path))


DATA = {}
for plat, res in [("civil_affairs", r) for r in ("elders", "benefits", "card-deposits", "meal-records",
                                                 "subsidy-payments", "time-bank")] + \
        [("health", r) for r in ("family-doctor-contracts", "home-medical-services", "death-certificates")] + \
        [("medical_insurance", r) for r in ("insured-persons", "ltc-enrolments", "ltc-payments")] + \
        [("property_mgmt", "service-orders"), ("public_security", "residents")]:
    DATA[(plat, res)] = load(f"{plat}/{res}")  # sorted by t, stable (arrival order)
with open(os.path.join(args.data, "catalog.json")) as _fh:
    CATALOG = json.load(_fh)
_NEWEST = max((v["t"] for rows in DATA.values() for v in rows), default=None)
if _NEWEST is not None and args.now.timestamp() < _NEWEST:  # no record after the clock
    raise SystemExit(f"server.py: the data holds update times up to "
                     f"{iso_sh(dt.datetime.fromtimestamp(_NEWEST, SH))}, after --now "
                     f"{iso_sh(args.now)}; the platforms' clock would be behind their data")


LIVE = {"n": 0}


def live_change(key):
    """Append a new version of a random record with update time now or up to 4 min in the past (clock skew)."""
    import bisect
    rows = DATA[key]
    if not rows or rng.random() >= args.live_rate:
        return
    src = dict(rng.choice(rows)["rec"])
    t = now() - dt.timedelta(seconds=rng.choice([0, 0, 0, 60, 240]))
    if key[0] == "property_mgmt":
        src["price"] = f"{rng.randint(10, 90)}.00"
        if rng.random() < 0.1:
            src["is_void"] = True
        src["modified_at"] = iso_sh(t, True)
    else:
        src["phone"] = "139" + f"{rng.randint(0, 10**8):08d}"
        if rng.random() < 0.1:
            src["deleted"] = True
        src["updated_at"] = iso_sh(t)
    v = {"t": t.timestamp(), "rec": src}
    i = bisect.bisect_right([r["t"] for r in rows], v["t"])
    rows.insert(i, v)
    LIVE["n"] += 1
    STATS[(key[0], key[1], "live_changes")] += 1
    if key[0] == "property_mgmt":
        global PROP_ROWS, PROP_T
        PROP_ROWS = sorted(DATA[key], key=prop_key)
        PROP_T = [prop_key(v)[0].timestamp() for v in PROP_ROWS]


def err(status, code, msg, headers=None):
    return JSONResponse({"code": code, "message": msg}, status_code=status, headers=headers)


def now():
    """The platforms' clock: --now at start, advancing with the wall clock."""
    return args.now + dt.timedelta(seconds=time.monotonic() - STARTED)


class DataClockDate:
    """ASGI wrapper: the HTTP ``Date`` header (what the hub reads as the bulk export's and the
    property platform's clock) from ``now()`` instead of uvicorn's wall clock."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_dated(message):
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"date"]
                headers.append((b"date", formatdate(now().timestamp(), usegmt=True).encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_dated)


def server_time(plat):
    return iso_utc(now()) if plat == "medical_insurance" else iso_sh(now())


def parse_bound(raw: str | None):
    if raw is None:
        return None
    if " " in raw:
        raise ValueError("'+' of the offset must be sent as %2B")
    t = dt.datetime.fromisoformat(raw)
    if t.tzinfo is None:
        raise ValueError("timestamp without offset")
    return t


class Platform:
    def __init__(self, name):
        self.name = name
        self.tokens: dict[str, float] = {}
        self.window: deque = deque()
        self.cursors: dict[str, dict] = {}
        self.app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
        self.app.middleware("http")(self.middleware)

    # ------- faults, rate limits
    async def middleware(self, request: Request, call_next):
        path = request.url.path
        if path.startswith("/admin"):
            return await call_next(request)
        with LOCK:
            STATS[(self.name, "requests")] += 1
            t = time.monotonic()
            while self.window and self.window[0] < t - 1:
                self.window.popleft()
            self.window.append(t)
            over = len(self.window) > args.rps
        if over:
            STATS[(self.name, "429_rate")] += 1
            return err(429, "RATE_LIMITED", "too many requests", {"Retry-After": "1"})
        if not path.endswith("/file"):
            r = rng.random()
            if r < args.fault_rate:
                STATS[(self.name, "5xx")] += 1
                code = rng.choice([503, 503, 502, 500, 504])
                return err(code, "TEMPORARILY_UNAVAILABLE", "upstream busy")
            if r < args.fault_rate + args.r429_rate:
                STATS[(self.name, "429_random")] += 1
                return err(429, "RATE_LIMITED", "slow down", {"Retry-After": rng.choice(["1", "2"])})
        return await call_next(request)

    # ------- auth
    def oauth_check(self, request: Request):
        h = request.headers.get("authorization", "")
        if not h.startswith("Bearer "):
            return err(401, "UNAUTHORIZED", "missing bearer token")
        tok = h[7:].strip()
        exp = self.tokens.get(tok)
        if exp is None or exp < time.time():
            STATS[(self.name, "401_expired")] += 1
            return err(401, "TOKEN_EXPIRED", "access token expired or unknown")
        if rng.random() < args.revoke_rate:
            self.tokens.pop(tok, None)
            STATS[(self.name, "401_revoked")] += 1
            return err(401, "TOKEN_EXPIRED", "access token revoked")
        return None


def make_oauth_platform(name, idf, tsf, bound_param, fmt, cap, trailing_empty):
    pl = Platform(name)
    pre = PREFIX[name]
    cid, secret = CRED[name]

    @pl.app.post(pre + "/oauth/token")
    async def token(request: Request):
        form = await request.form()
        if form.get("grant_type") != "client_credentials":
            return err(400, "UNSUPPORTED_GRANT_TYPE", "grant_type must be client_credentials")
        if form.get("client_id") != cid or form.get("client_secret") != secret:
            return err(401, "INVALID_CLIENT", "bad client credentials")
        tok = secrets.token_urlsafe(24)
        pl.tokens[tok] = time.time() + args.token_ttl
        STATS[(name, "tokens")] += 1
        return {"access_token": tok, "token_type": "Bearer", "expires_in": args.token_ttl}

    @pl.app.get(pre + "/v1/{resource}")
    async def listing(resource: str, request: Request):
        bad = pl.oauth_check(request)
        if bad:
            return bad
        if (name, resource) not in DATA:
            return err(404, "NOT_FOUND", f"unknown resource {resource}")
        q = request.query_params
        try:
            limit = int(q.get("limit", "100"))
            if not 1 <= limit <= 1000:
                raise ValueError
        except ValueError:
            return err(400, "BAD_PARAMETER", "limit must be 1..1000")
        if (name, resource) == ("civil_affairs", "elders"):
            live_change((name, resource))
        rows = DATA[(name, resource)]
        cur = q.get("cursor")
        if cur and rng.random() < args.cursor_expire_rate:
            STATS[(name, "cursor_expired")] += 1
            return err(400, "CURSOR_EXPIRED", "cursor expired")
        if cur:
            st = pl.cursors.get(cur)
            if not st or st["res"] != resource or st["created"] < time.time() - 1800:
                return err(400, "CURSOR_EXPIRED", "cursor unknown or expired")
            start = st["pos"]
        else:
            try:
                b = parse_bound(q.get(bound_param))
            except ValueError as e:
                return err(400, "BAD_PARAMETER", f"{bound_param}: {e}")
            if b is None:
                start = 0
            else:
                ts = b.timestamp()
                lo, hi = 0, len(rows)
                while lo < hi:
                    mid = (lo + hi) // 2
                    if rows[mid]["t"] < ts:
                        lo = mid + 1
                    else:
                        hi = mid
                start = lo
        n = min(limit, cap)
        page = rows[start:start + n]
        end = start + len(page)
        nxt = None
        if end < len(rows) or (trailing_empty and page and end == len(rows) and len(page) == n):
            nxt = secrets.token_hex(12) + f".{end}"
            pl.cursors[nxt] = {"res": resource, "pos": end, "created": time.time()}
        STATS[(name, resource, "records")] += len(page)
        return JSONResponse({"data": [r["rec"] for r in page], "next_cursor": nxt, "server_time": server_time(name)})

    return pl


civil = make_oauth_platform("civil_affairs", "record_id", "updated_at", "updated_since", iso_sh, 1000, True)
health = make_oauth_platform("health", "record_id", "updated_at", "updated_since", iso_sh, 250, False)
mi = make_oauth_platform("medical_insurance", "recordId", "updtTime", "updtTimeBegin", iso_utc, 700, False)

# ------------------------------------------------------------------ property
prop = Platform("property_mgmt")


def prop_key(v):
    return (dt.datetime.fromisoformat(v["rec"]["modified_at"]), v["rec"]["order_id"])


PROP_ROWS = sorted(DATA[("property_mgmt", "service-orders")], key=prop_key)  # stable: resends keep order
PROP_T = [prop_key(v)[0].timestamp() for v in PROP_ROWS]


@prop.app.get("/api/service-orders")
async def orders(request: Request):
    if request.headers.get("x-api-key") != CRED["property_mgmt"][1]:
        return err(401, "UNAUTHORIZED", "bad api key")
    q = request.query_params
    try:
        b = parse_bound(q.get("modified_after"))
        page = int(q.get("page", "1"))
        size = int(q.get("page_size", "50"))
        if page < 1 or not 1 <= size <= 500:
            raise ValueError("page >= 1, page_size 1..500")
    except ValueError as e:
        return err(400, "BAD_PARAMETER", str(e))
    live_change(("property_mgmt", "service-orders"))
    start = 0
    if b is not None:
        import bisect
        start = bisect.bisect_left(PROP_T, b.timestamp())
    total = len(PROP_ROWS) - start
    items = PROP_ROWS[start + (page - 1) * size: start + page * size]
    STATS[("property_mgmt", "service-orders", "records")] += len(items)
    return {"total": total, "page": page, "page_size": size, "items": [v["rec"] for v in items]}


@prop.app.get("/api/service-catalog")
async def catalog(request: Request, company_credit_code: str = ""):
    if request.headers.get("x-api-key") != CRED["property_mgmt"][1]:
        return err(401, "UNAUTHORIZED", "bad api key")
    STATS[("property_mgmt", "catalog")] += 1
    c = CATALOG.get(company_credit_code.strip())
    if not c:
        return err(404, "NOT_FOUND", "no such company")
    return c


# ------------------------------------------------------------------ public security
ps = Platform("public_security")
PSPRE = PREFIX["public_security"]
EXPORTS: dict[str, dict] = {}


def ps_auth(request: Request):
    key = request.headers.get("x-app-key")
    ts = request.headers.get("x-timestamp", "")
    sig = request.headers.get("x-signature", "")
    if key != CRED["public_security"][0]:
        return err(401, "UNAUTHORIZED", "unknown app key")
    try:
        if abs(int(ts) - time.time()) > 300:
            return err(401, "TIMESTAMP_SKEW", "timestamp more than 300 s off")
    except ValueError:
        return err(401, "UNAUTHORIZED", "bad timestamp")
    msg = f"{request.method}\n{request.url.path}\n{request.url.query}\n{ts}"
    want = hmac.new(CRED["public_security"][1].encode(), msg.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(want, sig):
        STATS[("public_security", "401_sig")] += 1
        return err(401, "BAD_SIGNATURE", "signature mismatch")
    return None


def build_export(since):
    latest = {}
    for v in DATA[("public_security", "residents")]:
        latest[v["rec"]["rid"]] = v["rec"]  # sorted by t; later wins
    rows = list(latest.values())
    if since is not None:
        loc = since.astimezone(SH).strftime("%Y%m%d%H%M%S")
        rows = [r for r in rows if r["gxsj"] >= loc]
    rng2 = random.Random(len(rows))
    rng2.shuffle(rows)  # an export file is in no particular order
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as gz:
        for r in rows:
            gz.write(json.dumps(r, ensure_ascii=False, separators=(", ", ": ")).encode() + b"\r\n")
    data = buf.getvalue()
    return data, len(rows)


@ps.app.post(PSPRE + "/v1/exports")
async def new_export(request: Request):
    bad = ps_auth(request)
    if bad:
        return bad
    try:
        body = await request.json()
        if body.get("dataset") != "residents":
            return err(400, "UNKNOWN_DATASET", "dataset must be residents")
        since = body.get("since")
        since = None if since is None else parse_bound(since)
    except Exception as e:
        return err(400, "BAD_REQUEST", f"bad body: {e}")
    eid = "EXP" + secrets.token_hex(6)
    data, n = build_export(since)
    first = not EXPORTS
    EXPORTS[eid] = {"ready_at": time.time() + rng.uniform(3, 10), "fail": first, "data": data, "n": n,
                    "sha": hashlib.sha256(data).hexdigest(), "downloads": 0, "since": since}
    STATS[("public_security", "exports")] += 1
    return JSONResponse({"export_id": eid, "status": "pending"}, status_code=202)


@ps.app.get(PSPRE + "/v1/exports/{eid}")
async def export_status(eid: str, request: Request):
    bad = ps_auth(request)
    if bad:
        return bad
    e = EXPORTS.get(eid)
    if not e:
        return err(404, "NOT_FOUND", "no such export")
    if time.time() < e["ready_at"]:
        return {"status": "pending", "record_count": None, "sha256": None}
    if e["fail"]:
        return {"status": "failed", "record_count": None, "sha256": None}
    return {"status": "ready", "record_count": e["n"], "sha256": e["sha"]}


@ps.app.get(PSPRE + "/v1/exports/{eid}/file")
async def export_file(eid: str, request: Request):
    bad = ps_auth(request)
    if bad:
        return bad
    e = EXPORTS.get(eid)
    if not e:
        return err(404, "NOT_FOUND", "no such export")
    if time.time() < e["ready_at"] or e["fail"]:
        return err(409, "EXPORT_NOT_READY", "export not ready")
    data = e["data"]
    size = len(data)
    rh = request.headers.get("range")
    start, end = 0, size - 1
    status = 200
    if rh:
        try:
            unit, rngs = rh.split("=", 1)
            a, b = rngs.split("-", 1)
            start = int(a)
            end = int(b) if b else size - 1
        except ValueError:
            return err(400, "BAD_RANGE", "bad Range header")
        if start >= size:
            return Response(status_code=416, headers={"Content-Range": f"bytes */{size}"})
        status = 206
        STATS[("public_security", "range_requests")] += 1
    chunk = data[start:end + 1]
    e["downloads"] += 1
    headers = {"Content-Length": str(len(chunk)), "Accept-Ranges": "bytes",
               "Content-Disposition": f'attachment; filename="{eid}.ndjson.gz"'}
    if status == 206:
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    if e["downloads"] == 1 and status == 200 and size > 4096:
        # break the first download off half-way (Content-Length promises more)
        async def broken():
            yield chunk[: size // 2]
            await asyncio.sleep(0.05)
            raise ConnectionResetError("simulated broken download")
        STATS[("public_security", "broken_downloads")] += 1
        return StreamingResponse(broken(), status_code=200, headers=headers, media_type="application/gzip")
    return Response(chunk, status_code=status, headers=headers, media_type="application/gzip")


@civil.app.get("/admin/stats")
async def stats():
    return {" | ".join(map(str, k)): v for k, v in sorted(STATS.items(), key=lambda x: str(x[0]))}


@civil.app.get("/admin/dump")
async def dump():
    out = {}
    for (plat, res), rows in DATA.items():
        idf = {"medical_insurance": "recordId", "public_security": "rid", "property_mgmt": "order_id"}.get(plat, "record_id")
        latest = {}
        for v in rows:
            latest[v["rec"][idf]] = v["rec"]
        out[f"{plat}/{res}"] = latest
    return out


async def main():
    servers = []
    for pl in (civil, health, mi, ps, prop):
        cfg = uvicorn.Config(DataClockDate(pl.app), host="127.0.0.1", port=PORT[pl.name], log_level="warning",
                             access_log=False, date_header=False)
        servers.append(uvicorn.Server(cfg))
    await asyncio.gather(*(s.serve() for s in servers))


if __name__ == "__main__":
    asyncio.run(main())
