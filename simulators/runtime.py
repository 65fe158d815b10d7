"""Glue for the ``hub simulate`` and ``hub demo`` commands: build a synthetic world and
serve it, announcing the ``AIRFLOW_CONN_*`` connections a client needs."""

from __future__ import annotations

import gc
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from simulators.apps.base import Credentials
from simulators.faults import FaultConfig
from simulators.server import PLATFORMS, start_simulators
from simulators.store import SimClock, SimStore

__all__ = ["build_world", "connections_for", "serve"]


def build_world(elders: int, seed: int, noise_scale: float = 1.0,
                progress: Callable[[str], None] | None = None) -> tuple[SimStore, Any, SimClock]:
    from simulators.generator import GeneratorConfig, NoiseConfig, generate

    config = GeneratorConfig(elders=elders, seed=seed, noise=NoiseConfig().scaled(noise_scale))
    store, truth = generate(config, progress=progress)
    # A city-sized world is ~100 million long-lived objects: without this, each full
    # garbage collection walks them all, holding the GIL for many seconds (at 1,000,000
    # elders the servers could not even start within their deadline).
    gc.collect()
    gc.freeze()
    return store, truth, SimClock(config.now)


def connections_for(urls: dict[str, str], creds: Credentials) -> dict[str, dict[str, Any]]:
    """The Airflow connections (JSON form) that reach simulators at ``urls``."""
    out: dict[str, dict[str, Any]] = {}
    for platform, url in urls.items():
        if platform == "public_security":
            login, password = creds.app_key, creds.app_secret
        elif platform == "property_mgmt":
            login, password = None, creds.api_key
        else:
            login, password = creds.client_id, creds.client_secret
        out[platform] = {"conn_type": "http", "host": url, "login": login, "password": password}
    return out


def serve(store: SimStore, clock: SimClock, *, host: str, ports: dict[str, int], prefix: str = "",
          faults: bool = True, rate_limit: bool = True, ready_file: Path | None = None,
          announce: Callable[[str], None] = print, down: tuple[str, ...] = ()) -> None:
    """Serve until SIGTERM/Ctrl-C. A port of 0 picks a free one; the platforms in
    ``down`` answer every request 503 (an outage, for demos)."""
    import signal

    config = FaultConfig() if faults else FaultConfig.none()
    if not rate_limit:
        config.rate_limit_rps = None
    elif config.rate_limit_rps is None:
        config.rate_limit_rps = 20
    creds = Credentials()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    # A city-sized world starts slowly (minutes at 1,000,000 elders): no tight deadline here.
    with start_simulators(store, clock, config, creds, host,
                          {p: port for p, port in ports.items() if port}, prefix, PLATFORMS,
                          start_timeout=1800) as sims:
        for platform in down:
            sims.apps[platform].outage = True
            announce(f"{platform} is down: every request answers 503")
        conns = connections_for(sims.urls, creds)
        for platform, conn in conns.items():
            announce(f"export AIRFLOW_CONN_{platform.upper()}='{json.dumps(conn)}'")
        announce(f"serving {store.total_records():,} records; Ctrl-C stops")
        if ready_file:
            tmp = ready_file.with_suffix(".tmp")
            tmp.write_text(json.dumps({"urls": sims.urls, "connections": conns}))
            tmp.replace(ready_file)
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
