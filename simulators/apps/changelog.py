"""Civil affairs, health and medical insurance: OAuth2 client credentials + change-log reads.

``GET /v1/<resource>?<bound>=<ts>&limit=<1..1000>&cursor=<opaque>`` returns
``{"data": [...], "next_cursor": str|null, "server_time": ts}``. The body is assembled by
byte concatenation of the stored record bodies.

Decisions where the contract is silent (see also ``simulators/server.py``):

* a missing bound means "from the beginning of the log";
* ``limit`` defaults to 100;
* when a cursor is given it alone decides where the read continues (a repeated bound is
  still validated, but ignored);
* an empty ``cursor=`` is the same as no cursor;
* unknown or repeated query parameters are 400 (so ``updated_since`` on the medical
  insurance platform, whose bound is ``updtTimeBegin``, is refused, not ignored);
* a cursor is bound to its resource; a cursor that does not verify is 400 BAD_PARAMETER.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import math
import secrets
import time
from typing import Any
from urllib.parse import parse_qsl

import orjson

from simulators.apps.base import (
    ApiError,
    Credentials,
    Request,
    SimApp,
    iso,
    json_body,
    parse_int,
    parse_ts,
    query_params,
    respond,
)
from simulators.faults import FaultConfig
from simulators.store import SimClock, SimStore

__all__ = ["BOUND_PARAM", "DEFAULT_LIMIT", "MAX_LIMIT", "RESOURCES", "ChangeLogApp"]

RESOURCES: dict[str, tuple[str, ...]] = {
    "civil_affairs": (
        "elders",
        "benefits",
        "card-deposits",
        "meal-records",
        "subsidy-payments",
        "time-bank",
    ),
    "health": ("family-doctor-contracts", "home-medical-services", "death-certificates"),
    "medical_insurance": ("insured-persons", "ltc-enrolments", "ltc-payments"),
}
BOUND_PARAM = {
    "civil_affairs": "updated_since",
    "health": "updated_since",
    "medical_insurance": "updtTimeBegin",
}
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
_SIG_LEN = 12
_BEARER_CHALLENGE = [(b"www-authenticate", b'Bearer error="invalid_token"')]


class ChangeLogApp(SimApp):
    def __init__(
        self,
        platform: str,
        store: SimStore,
        clock: SimClock,
        faults: FaultConfig,
        creds: Credentials,
        prefix: str = "",
    ) -> None:
        if platform not in RESOURCES:
            raise ValueError(f"not a change-log platform: {platform}")
        self.platform = platform
        super().__init__(store, clock, faults, creds, prefix)
        self.bound = BOUND_PARAM[platform]
        self.allowed = frozenset({self.bound, "limit", "cursor"})
        self.resources = set(RESOURCES[platform]) | {
            res for (plat, res) in store.logs if plat == platform
        }
        # token -> (client id, expiry on the monotonic clock; -inf when revoked)
        self.tokens: dict[str, tuple[str, float]] = {}
        # Deterministic, so cursors survive a simulator restart (as a real platform's would).
        self._cursor_key = hashlib.sha256(
            f"cursor:{platform}:{faults.seed}:{creds.client_secret}".encode()
        ).digest()
        self.route(r"/oauth/token", POST=self.issue_token)
        self.route(r"/v1/(?P<resource>[^/]+)", GET=self.list_resource)

    # -- auth ----------------------------------------------------------------------------

    def client_key(self, req: Request) -> str:
        scheme, _, tok = req.headers.get("authorization", "").partition(" ")
        entry = self.tokens.get(tok.strip()) if scheme.lower() == "bearer" else None
        return "client:" + entry[0] if entry else "ip:" + req.client_host

    async def issue_token(self, req: Request, send: Any) -> None:
        body = (await req.body()).decode("utf-8", "replace")
        form = dict(parse_qsl(body, keep_blank_values=True))
        grant = form.get("grant_type")
        if grant is None:
            raise ApiError(400, "grant_type is required")
        if grant != "client_credentials":
            raise ApiError(400, f"unsupported grant_type {grant!r}", code="UNSUPPORTED_GRANT_TYPE")
        cid, secret = form.get("client_id", ""), form.get("client_secret", "")
        ok = hmac.compare_digest(cid.encode(), self.creds.client_id.encode())
        ok &= hmac.compare_digest(secret.encode(), self.creds.client_secret.encode())
        if not ok:
            raise ApiError(401, "invalid client credentials")
        now = time.monotonic()
        self._prune_tokens(now)
        tok = secrets.token_urlsafe(24)
        self.tokens[tok] = (cid, now + self.faults.token_ttl_s)
        payload = {
            "access_token": tok,
            "token_type": "Bearer",
            "expires_in": max(1, math.ceil(self.faults.token_ttl_s)),
        }
        await respond(send, 200, json_body(payload), headers=[(b"cache-control", b"no-store")])

    def _prune_tokens(self, now: float) -> None:
        if len(self.tokens) < 10_000:
            return
        horizon = now - 3600  # keep recently expired ones to answer TOKEN_EXPIRED
        self.tokens = {t: e for t, e in self.tokens.items() if e[1] > horizon}

    def authenticate(self, req: Request) -> str:
        scheme, _, tok = req.headers.get("authorization", "").partition(" ")
        tok = tok.strip()
        if scheme.lower() != "bearer" or not tok:
            raise ApiError(401, "missing bearer token", headers=list(_BEARER_CHALLENGE))
        entry = self.tokens.get(tok)
        if entry is None:
            raise ApiError(401, "unknown token", headers=list(_BEARER_CHALLENGE))
        client, expiry = entry
        if time.monotonic() >= expiry:
            raise ApiError(401, "token expired", "TOKEN_EXPIRED", list(_BEARER_CHALLENGE))
        if self.injector.chance(self.faults.rate_401):
            self.tokens[tok] = (client, -math.inf)
            raise ApiError(401, "token expired", "TOKEN_EXPIRED", list(_BEARER_CHALLENGE))
        return client

    # -- cursors -------------------------------------------------------------------------

    def encode_cursor(self, resource: str, index: int) -> str:
        raw = orjson.dumps([resource, index, int(time.time() * 1000)])
        sig = hmac.new(self._cursor_key, raw, hashlib.sha256).digest()[:_SIG_LEN]
        return base64.urlsafe_b64encode(raw + sig).rstrip(b"=").decode()

    def decode_cursor(self, cursor: str, resource: str) -> int:
        bad = ApiError(400, "invalid cursor")
        try:
            blob = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        except (binascii.Error, ValueError):
            raise bad from None
        raw, sig = blob[:-_SIG_LEN], blob[-_SIG_LEN:]
        want = hmac.new(self._cursor_key, raw, hashlib.sha256).digest()[:_SIG_LEN]
        if len(blob) <= _SIG_LEN or not hmac.compare_digest(sig, want):
            raise bad
        try:
            res, index, issued_ms = orjson.loads(raw)
        except (orjson.JSONDecodeError, ValueError, TypeError):
            raise bad from None
        if res != resource:
            raise ApiError(400, f"cursor belongs to {res!r}, not {resource!r}")
        if time.time() - issued_ms / 1000 > self.faults.cursor_ttl_s:
            raise ApiError(
                400, "cursor expired; restart the read from your watermark", "CURSOR_EXPIRED"
            )
        return int(index)

    # -- list ----------------------------------------------------------------------------

    async def list_resource(self, req: Request, send: Any, resource: str) -> None:
        self.authenticate(req)
        if resource not in self.resources:
            raise ApiError(404, f"unknown resource {resource!r}")
        params = query_params(req, self.allowed)
        limit = parse_int(params.get("limit"), "limit", 1, MAX_LIMIT, DEFAULT_LIMIT)
        since = parse_ts(params[self.bound], self.bound) if self.bound in params else None
        cursor = params.get("cursor") or None
        log = self.store.logs.get((self.platform, resource))
        start = self.decode_cursor(cursor, resource) if cursor else None
        now = self.clock.now()
        if log is None:
            idx, nxt = [], None
        else:
            if start is None:
                start = log.first_index(since)
            idx, nxt = log.read(start, now, limit)
        bodies = log.bodies if log is not None else []
        parts = [b'{"data":[', b",".join([bodies[i] for i in idx]), b'],"next_cursor":']
        if nxt is None:
            parts.append(b"null")
        else:
            parts += [b'"', self.encode_cursor(resource, nxt).encode(), b'"']
        parts += [b',"server_time":"', iso(now).encode(), b'"}']
        await respond(send, 200, b"".join(parts))
