"""Shared plumbing of the simulated platforms: a tiny raw-ASGI framework.

Each platform is a :class:`SimApp` subclass with a few routes. Every request goes through
the same pipeline: path prefix -> per-client rate limit -> random fault -> route match ->
the platform's own authentication and handler. Errors are ``{"code", "message"}`` bodies.
Responses are built as bytes (stored record bodies are never parsed).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qsl

import orjson

from simulators.faults import FaultConfig, FaultInjector, RateLimiter
from simulators.store import SimClock, SimStore

__all__ = [
    "TZ",
    "ApiError",
    "Credentials",
    "Request",
    "SimApp",
    "iso",
    "parse_int",
    "parse_ts",
    "query_params",
    "respond",
]

#: Asia/Shanghai has had no DST since 1991: a fixed +08:00 offset.
TZ = timezone(timedelta(hours=8))

_STATUS_CODES = {
    400: "BAD_PARAMETER",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    416: "RANGE_NOT_SATISFIABLE",
    429: "RATE_LIMITED",
    500: "INTERNAL_ERROR",
    502: "BAD_GATEWAY",
    503: "SERVICE_UNAVAILABLE",
    504: "GATEWAY_TIMEOUT",
}


@dataclass
class Credentials:
    """What the simulators accept (the hub's connections carry the same values)."""

    client_id: str = "hub"  # OAuth2 client (civil affairs, health, medical insurance)
    client_secret: str = "hub-secret"
    app_key: str = "hub"  # public security HMAC signing
    app_secret: str = "hub-secret"
    api_key: str = "hub-api-key"  # property platform X-Api-Key


class ApiError(Exception):
    """An error answer: ``status`` with body ``{"code", "message"}``."""

    def __init__(
        self,
        status: int,
        message: str,
        code: str | None = None,
        headers: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code or _STATUS_CODES.get(status, "ERROR")
        self.message = message
        self.headers = headers or []


def iso(ts: float) -> str:
    """Epoch seconds -> ISO-8601 local time with +08:00 offset (whole seconds)."""
    return datetime.fromtimestamp(ts, TZ).isoformat(timespec="seconds")


def parse_ts(value: str, name: str) -> float:
    """An ISO-8601 timestamp *with offset* -> epoch seconds, else 400 BAD_PARAMETER.

    Whitespace is refused: it is what a raw ``+`` of ``+08:00`` decodes to.
    """
    bad = ApiError(400, f"{name}: expected an ISO-8601 timestamp with offset, got {value!r}")
    if not value or any(c.isspace() for c in value) or "T" not in value:
        raise bad
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise bad from None
    if dt.tzinfo is None:
        raise bad
    return dt.timestamp()


_INT = re.compile(r"[0-9]{1,9}")


def parse_int(value: str | None, name: str, lo: int, hi: int | None, default: int) -> int:
    if value is None:
        return default
    if not _INT.fullmatch(value):
        raise ApiError(400, f"{name}: expected an integer, got {value!r}")
    n = int(value)
    if n < lo or (hi is not None and n > hi):
        rng = f"{lo}..{hi}" if hi is not None else f">= {lo}"
        raise ApiError(400, f"{name}: must be {rng}, got {n}")
    return n


class Request:
    __slots__ = ("headers", "method", "path", "query_string", "raw_path", "receive", "scope")

    def __init__(self, scope: dict[str, Any], receive: Callable[[], Awaitable[dict]]) -> None:
        self.scope = scope
        self.receive = receive
        self.method: str = scope["method"]
        self.path: str = scope["path"]
        raw = scope.get("raw_path")
        self.raw_path: bytes = raw if raw else scope["path"].encode("utf-8")
        self.query_string: bytes = scope.get("query_string", b"")
        self.headers: dict[str, str] = {
            k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]
        }

    @property
    def client_host(self) -> str:
        client = self.scope.get("client")
        return client[0] if client else "?"

    async def body(self, limit: int = 1 << 20) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            msg = await self.receive()
            if msg["type"] == "http.disconnect":
                raise ApiError(400, "client disconnected")
            chunk = msg.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise ApiError(400, "request body too large")
            chunks.append(chunk)
            if not msg.get("more_body", False):
                return b"".join(chunks)


def query_params(req: Request, allowed: set[str] | frozenset[str]) -> dict[str, str]:
    """The query parameters, percent-decoded (a raw ``+`` becomes a space, as usual).

    Unknown or repeated parameters are answered 400: a misspelt bound name must not
    silently turn into a read from the beginning.
    """
    qs = req.query_string.decode("latin-1")
    try:
        pairs = parse_qsl(qs, keep_blank_values=True, max_num_fields=20)
    except ValueError:
        raise ApiError(400, "too many query parameters") from None
    out: dict[str, str] = {}
    for k, v in pairs:
        if k not in allowed:
            raise ApiError(400, f"unknown parameter {k!r} (allowed: {', '.join(sorted(allowed))})")
        if k in out:
            raise ApiError(400, f"parameter {k!r} given more than once")
        out[k] = v
    return out


async def respond(
    send: Callable[[dict], Awaitable[None]],
    status: int,
    body: bytes,
    content_type: bytes = b"application/json",
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    h = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    if headers:
        h.extend(headers)
    await send({"type": "http.response.start", "status": status, "headers": h})
    await send({"type": "http.response.body", "body": body})


def json_body(obj: Any) -> bytes:
    return orjson.dumps(obj)


Handler = Callable[..., Awaitable[None]]


class SimApp:
    """Base ASGI app of one simulated platform."""

    platform = ""

    def __init__(
        self,
        store: SimStore,
        clock: SimClock,
        faults: FaultConfig,
        creds: Credentials,
        prefix: str = "",
    ) -> None:
        self.store = store
        self.clock = clock
        self.faults = faults
        self.creds = creds
        self.prefix = normalize_prefix(prefix)
        self.injector = FaultInjector(faults, self.platform)
        self.limiter = RateLimiter(faults.rate_limit_rps) if faults.rate_limit_rps else None
        self._routes: list[tuple[re.Pattern[str], dict[str, Handler]]] = []
        #: counters for tests and diagnostics: status -> count
        self.stats: dict[int, int] = {}
        #: a platform that is down answers every request 503 (tests and demos of an outage)
        self.outage = False

    # -- routing -------------------------------------------------------------------------

    def route(self, pattern: str, **methods: Handler) -> None:
        handlers = dict(methods)
        if "GET" in handlers:
            handlers.setdefault("HEAD", handlers["GET"])
        self._routes.append((re.compile(pattern), handlers))

    def client_key(self, req: Request) -> str:
        """Whom the rate limit counts against; platforms refine it with their credential."""
        return "ip:" + req.client_host

    # -- ASGI ----------------------------------------------------------------------------

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                msg = await receive()
                if msg["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif msg["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        req = Request(scope, receive)
        status_box = [0]

        async def counting_send(msg: dict) -> None:
            if msg["type"] == "http.response.start":
                status_box[0] = msg["status"]
                # The platform's clock is the simulated one: a client that reads the
                # server's time from the Date header must see the time the data lives in.
                date = formatdate(self.clock.now(), usegmt=True).encode()
                msg = {**msg, "headers": [*msg.get("headers", []), (b"date", date)]}
            await send(msg)

        try:
            await self._handle(req, counting_send)
        except ApiError as e:
            await self.send_error(counting_send, e)
        finally:
            self.stats[status_box[0]] = self.stats.get(status_box[0], 0) + 1

    async def send_error(self, send: Any, e: ApiError) -> None:
        headers = list(e.headers)
        if e.status in (429, 503) and not any(k == b"retry-after" for k, _ in headers):
            headers.append((b"retry-after", str(int(self.faults.retry_after_s)).encode()))
        await respond(
            send, e.status, json_body({"code": e.code, "message": e.message}), headers=headers
        )

    async def _handle(self, req: Request, send: Any) -> None:
        if self.outage:
            raise ApiError(503, "the platform is down (simulated outage)")
        path = req.path
        if self.prefix:
            if not path.startswith(self.prefix + "/"):
                raise ApiError(404, f"no such path: {path}")
            path = path[len(self.prefix) :]
        if self.limiter is not None:
            wait = self.limiter.take(self.client_key(req))
            if wait > 0:
                after = RateLimiter.retry_after(wait, self.faults.retry_after_s)
                raise ApiError(
                    429,
                    f"rate limit of {self.faults.rate_limit_rps:g} requests/s exceeded",
                    headers=[(b"retry-after", str(after).encode())],
                )
        fault = self.injector.draw()
        if fault is not None:
            raise ApiError(fault, "simulated transient failure" if fault != 429 else "slow down")
        for pattern, handlers in self._routes:
            m = pattern.fullmatch(path)
            if m is None:
                continue
            handler = handlers.get(req.method)
            if handler is None:
                allow = ", ".join(sorted(handlers)).encode()
                raise ApiError(405, f"{req.method} not allowed", headers=[(b"allow", allow)])
            await handler(req, send, **m.groupdict())
            return
        raise ApiError(404, f"no such path: {req.path}")


def normalize_prefix(prefix: str) -> str:
    prefix = (prefix or "").strip()
    if not prefix or prefix == "/":
        return ""
    if not prefix.startswith("/"):
        prefix = "/" + prefix
    return prefix.rstrip("/")
