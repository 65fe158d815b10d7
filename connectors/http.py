"""One HTTP session factory for every platform: retries, backoff, Retry-After, timeouts,
client-side pacing, and errors that say which platform answered what.

Transient failures (429 and 5xx, dropped connections) are retried by urllib3 with
exponential backoff, honouring ``Retry-After``; PLATFORMS.md says they happen a few times
per thousand requests and must never fail a run on their own.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from urllib.parse import urlsplit

import orjson
import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import InvalidHeader
from urllib3.util.retry import Retry

from connectors.errors import PlatformError

__all__ = ["BODY_ERRORS", "TRANSIENT", "Pacer", "get", "make_session", "raise_for_platform"]

log = logging.getLogger(__name__)
TRANSIENT = (429, 500, 502, 503, 504)


class Pacer:
    """Spaces request starts at least ``1/rps`` seconds apart, so a client stays under the
    platform's rate limit instead of collecting 429s.

    Thread-safe: the readers of one platform's resources run as threads and share one
    pacer, so that together they keep to the one limit the platform sets per client."""

    def __init__(self, rps: float | None) -> None:
        self.interval = 1.0 / rps if rps else 0.0
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        if not self.interval:
            return
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + self.interval
        if start > now:
            time.sleep(start - now)


class _PacedAdapter(HTTPAdapter):
    def __init__(self, pacer: Pacer, timeout: tuple[float, float], **kw) -> None:
        self.pacer = pacer
        self.timeout = timeout
        super().__init__(**kw)

    def send(self, request, **kwargs):
        self.pacer.wait()
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        return super().send(request, **kwargs)


class _LoggingRetry(Retry):
    """urllib3's retry, logging each transient failure, and lenient about ``Retry-After``:
    the contract says "seconds", and a server may well send ``1.5``; a value that is no
    number of seconds nor an HTTP date (or a negative one) falls back to the exponential
    backoff instead of failing the request (urllib3 would raise ``InvalidHeader``)."""

    def parse_retry_after(self, retry_after: str) -> float:
        try:
            seconds = float(retry_after.strip())
        except ValueError:
            return super().parse_retry_after(retry_after)
        if not math.isfinite(seconds):
            raise InvalidHeader(f"Invalid Retry-After header: {retry_after}")
        return min(max(seconds, 0.0), self.retry_after_max)

    def get_retry_after(self, response):
        try:
            return super().get_retry_after(response)
        except InvalidHeader:
            log.info("ignoring an unreadable Retry-After header; backing off instead")
            return None

    def increment(self, method=None, url=None, response=None, error=None, _pool=None, _stacktrace=None):
        what = f"HTTP {response.status}" if response is not None else type(error).__name__
        log.info("transient failure (%s) on %s %s; retrying", what, method, urlsplit(url or "").path)
        return super().increment(method, url, response, error, _pool, _stacktrace)


def make_session(
    *,
    retries: int = 10,
    rps: float | None = 20.0,
    connect_timeout: float = 10.0,
    read_timeout: float = 120.0,
    backoff: float = 0.5,
    pacer: Pacer | None = None,
) -> requests.Session:
    """A session that retries transient failures and paces its requests (``pacer``, shared
    with other sessions of the same platform, or one of its own at ``rps``)."""
    retry = _LoggingRetry(
        total=retries,
        connect=retries,
        read=retries,
        status=retries,
        other=retries,
        backoff_factor=backoff,
        backoff_max=30,
        status_forcelist=TRANSIENT,
        allowed_methods=frozenset({"GET", "POST", "HEAD"}),
        respect_retry_after_header=True,
        raise_on_status=False,
    )
    adapter = _PacedAdapter(pacer or Pacer(rps), (connect_timeout, read_timeout), max_retries=retry,
                            pool_connections=4, pool_maxsize=4)
    session = requests.Session()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["Accept"] = "application/json"
    session.headers["User-Agent"] = "elder-data-hub/0.1"
    return session


#: Failures while a body is being read: after the status line, so urllib3's retries are
#: over and ``requests`` raises them itself.
BODY_ERRORS = (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError)


def get(session: requests.Session, url: str, attempts: int = 4, **kwargs) -> requests.Response:
    """``session.get``, repeated when the connection breaks while the body is read (a
    transient failure like a 503 that urllib3 cannot retry: it has handed the response
    over). Only for reads that are safe to repeat."""
    for attempt in range(1, attempts + 1):
        try:
            return session.get(url, **kwargs)
        except BODY_ERRORS as exc:
            if attempt == attempts:
                raise
            log.info("transient failure (%s) reading %s; retrying", type(exc).__name__, urlsplit(url).path)
            time.sleep(min(0.5 * 2 ** (attempt - 1), 8.0))
    raise AssertionError("unreachable")


def error_code(response: requests.Response) -> tuple[str | None, str | None]:
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return None, None
    if isinstance(body, dict):
        return body.get("code"), body.get("message")
    return None, None


def raise_for_platform(platform: str, response: requests.Response) -> None:
    """Raise :class:`PlatformError` for a 4xx/5xx answer that retries did not cure."""
    if response.status_code < 400:
        return
    code, message = error_code(response)
    path = urlsplit(response.url).path
    hint = {
        401: "check the connection's login/password (client id and secret, app key or API key)",
        403: "the client is not allowed this resource; ask the platform to grant it",
        404: "check the connection's host (base URL and path prefix)",
        429: "the platform kept rate-limiting after all retries; lower HUB_REQUESTS_PER_SECOND",
    }.get(response.status_code, "the platform kept failing after all retries; try again later")
    raise PlatformError(
        f"{platform}: {response.request.method} {path} answered {response.status_code}"
        f"{' ' + code if code else ''}{': ' + message if message else ''} — {hint}",
        status=response.status_code,
        code=code,
    )
