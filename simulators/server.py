"""HTTP simulators of the five source platforms, serving a :class:`SimStore`.

They implement ``/work/shared/PLATFORMS.md`` (the platforms' contract):

========================  ================================================================
``civil_affairs``         OAuth2 client credentials; ``GET /v1/<resource>`` change log
``health``                same as civil affairs
``medical_insurance``     same, bound parameter ``updtTimeBegin``
``public_security``       HMAC-signed requests; ``/v1/exports`` bulk export of residents
``property_mgmt``         ``X-Api-Key``; page-numbered orders, service catalogues
========================  ================================================================

Usage::

    with start_simulators(store, clock, FaultConfig.none()) as sims:
        requests.post(sims.urls["civil_affairs"] + "/oauth/token", data={...})

Every platform applies, in this order: the optional path prefix (anything outside it is
404), a per-client token-bucket rate limit (429 + ``Retry-After``), random 429/5xx faults
(seeded), route matching (404/405), then its own authentication and handler. Token,
cursor and export lifetimes, the signature's timestamp window and rate limits run on the
wall clock; the store's :class:`SimClock` only decides which records are visible and
the ``server_time`` reported.

Decisions where the contract is silent (documented in the app modules too):

* list reads without a lower bound start at the beginning of the log; ``limit``
  defaults to 100 (property: ``page`` 1, ``page_size`` 100);
* unknown or repeated query parameters are 400 ``BAD_PARAMETER`` (so a misspelt bound
  name is refused rather than silently read from the beginning);
* timestamps must be ISO-8601 with an offset and a ``T`` separator; whitespace (a raw
  ``+`` decoded to a space) is 400;
* a cursor, when given, alone decides where the read continues; an invalid or tampered
  cursor is 400 ``BAD_PARAMETER``, an expired one 400 ``CURSOR_EXPIRED``;
* the property platform's ``modified_after`` is inclusive (the contract's common rule);
* 401 codes are ``TOKEN_EXPIRED`` (expired/invalidated bearer token) or ``UNAUTHORIZED``;
  ``rate_401`` (spurious token invalidation) applies to the OAuth platforms only;
* a failed export's file is 409 ``EXPORT_FAILED``; an export is kept ``export_keep_s``
  after it finished, then 404 like an unknown id.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterable
from typing import Self

import uvicorn

from simulators.apps.base import Credentials, SimApp, normalize_prefix
from simulators.apps.changelog import ChangeLogApp
from simulators.apps.property_mgmt import PropertyApp
from simulators.apps.public_security import PublicSecurityApp
from simulators.faults import FaultConfig
from simulators.store import SimClock, SimStore

__all__ = [
    "DEFAULT_PORTS",
    "PLATFORMS",
    "Credentials",
    "FaultConfig",
    "SimulatorHandle",
    "build_app",
    "start_simulators",
]

PLATFORMS = ("civil_affairs", "health", "medical_insurance", "public_security", "property_mgmt")
DEFAULT_PORTS = {
    "civil_affairs": 8101,
    "health": 8102,
    "medical_insurance": 8103,
    "public_security": 8104,
    "property_mgmt": 8105,
}

log = logging.getLogger(__name__)


def build_app(
    platform: str,
    store: SimStore,
    clock: SimClock,
    faults: FaultConfig | None = None,
    creds: Credentials | None = None,
    prefix: str = "",
) -> SimApp:
    """The ASGI app of one platform. The store must be finalized."""
    faults = faults if faults is not None else FaultConfig()
    creds = creds if creds is not None else Credentials()
    for (plat, res), rlog in store.logs.items():
        if plat == platform and not getattr(rlog, "_final", True):
            raise ValueError(f"{plat}/{res}: call store.finalize() before serving")
    if platform in ("civil_affairs", "health", "medical_insurance"):
        return ChangeLogApp(platform, store, clock, faults, creds, prefix)
    if platform == "public_security":
        return PublicSecurityApp(store, clock, faults, creds, prefix)
    if platform == "property_mgmt":
        return PropertyApp(store, clock, faults, creds, prefix)
    raise ValueError(f"unknown platform {platform!r} (known: {', '.join(PLATFORMS)})")


class _QuietBrokenDownloads(logging.Filter):
    """Drop uvicorn's complaint about the deliberately truncated export downloads."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "returned without completing response" not in record.getMessage()


_filter_installed = False


def _install_log_filter() -> None:
    global _filter_installed
    if not _filter_installed:
        logging.getLogger("uvicorn.error").addFilter(_QuietBrokenDownloads())
        _filter_installed = True


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock


class SimulatorHandle:
    """Running simulators: ``urls[platform]`` is the base URL (prefix included)."""

    def __init__(self) -> None:
        self.urls: dict[str, str] = {}
        self.apps: dict[str, SimApp] = {}
        self._servers: list[uvicorn.Server] = []
        self._threads: list[threading.Thread] = []
        self._sockets: list[socket.socket] = []

    def stop(self, timeout: float = 10.0) -> None:
        for server in self._servers:
            server.should_exit = True
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        for sock in self._sockets:
            try:
                sock.close()
            except OSError:
                pass
        self._servers.clear()
        self._threads.clear()
        self._sockets.clear()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_simulators(
    store: SimStore,
    clock: SimClock,
    faults: FaultConfig | None = None,
    creds: Credentials | None = None,
    host: str = "127.0.0.1",
    ports: dict[str, int] | None = None,
    prefix: str = "",
    platforms: Iterable[str] | None = None,
    start_timeout: float = 60.0,
) -> SimulatorHandle:
    """Serve the platforms in background threads; returns once they accept connections
    (or raises after ``start_timeout`` seconds).

    ``ports=None`` picks free ephemeral ports (``DEFAULT_PORTS`` are the CLI's); a platform
    missing from ``ports`` also gets an ephemeral port. ``platforms`` limits which
    platforms are started (default: all five).
    """
    faults = faults if faults is not None else FaultConfig()
    creds = creds if creds is not None else Credentials()
    prefix = normalize_prefix(prefix)
    chosen = list(platforms) if platforms is not None else list(PLATFORMS)
    _install_log_filter()
    handle = SimulatorHandle()
    url_host = "127.0.0.1" if host in ("0.0.0.0", "") else host
    if ":" in url_host:
        url_host = f"[{url_host}]"
    try:
        for platform in chosen:
            app = build_app(platform, store, clock, faults, creds, prefix)
            sock = _bind(host, (ports or {}).get(platform, 0))
            handle._sockets.append(sock)
            port = sock.getsockname()[1]
            config = uvicorn.Config(
                app,
                lifespan="off",
                access_log=False,
                date_header=False,  # the apps send the simulated clock's Date
                log_level="warning",
                ws="none",
                timeout_keep_alive=30,
            )
            server = uvicorn.Server(config)
            thread = threading.Thread(
                target=server.run, kwargs={"sockets": [sock]}, name=f"sim-{platform}", daemon=True
            )
            thread.start()
            handle.apps[platform] = app
            handle.urls[platform] = f"http://{url_host}:{port}{prefix}"
            handle._servers.append(server)
            handle._threads.append(thread)
        t0 = time.monotonic()
        deadline = t0 + start_timeout
        for server, thread in zip(handle._servers, handle._threads, strict=True):
            while not server.started:
                if not thread.is_alive():
                    raise RuntimeError(f"simulator thread {thread.name} died during startup")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"simulator {thread.name} did not start within {start_timeout:g} s")
                time.sleep(0.005)
        log.info("simulators started in %.1f s", time.monotonic() - t0)
    except BaseException:
        handle.stop()
        raise
    return handle
