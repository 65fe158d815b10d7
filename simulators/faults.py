"""Fault configuration and the small machinery the simulators use to misbehave on purpose.

Everything random is drawn from a seeded RNG (one per platform), so a run with the same
seed and the same request sequence sees the same faults. Times that decide token, cursor
and export lifetimes and rate limits are *wall-clock* times (clients live in real time),
never the simulated platform clock (:class:`simulators.store.SimClock`), which only
decides what data is visible.
"""

from __future__ import annotations

import math
import random
import threading
import time
from dataclasses import dataclass, fields, replace

__all__ = ["TRANSIENT_STATUSES", "FaultConfig", "FaultInjector", "RateLimiter"]

#: The transient statuses of the contract, drawn uniformly when a 5xx fault fires.
TRANSIENT_STATUSES = (500, 502, 503, 504)


@dataclass
class FaultConfig:
    """How badly the simulated platforms behave. Defaults resemble normal operation."""

    rate_429: float = 0.003  # random "rate limited" answers, per request
    rate_5xx: float = 0.003  # random transient failures (500/502/503/504), per request
    rate_401: float = 0.0  # spurious token invalidation (OAuth platforms), per request
    token_ttl_s: float = 600  # OAuth token lifetime (wall seconds)
    cursor_ttl_s: float = 1800  # cursor lifetime (wall seconds since the cursor was issued)
    rate_limit_rps: float | None = 20  # per client token bucket; None = lifted
    retry_after_s: int = 1  # Retry-After of 429/503 answers
    export_ready_after_s: float = 2.0  # wall seconds until an export leaves "pending"
    export_fail_rate: float = 0.0  # probability that an export ends "failed"
    export_truncate_rate: float = 0.0  # probability that a file download breaks off mid-body
    export_keep_s: float = 7200  # how long a finished export stays downloadable
    seed: int = 0

    @classmethod
    def none(cls, **overrides: object) -> FaultConfig:
        """All faults off and the rate limit lifted (benchmarks, simple tests).

        Lifetimes and the export delay keep their defaults unless overridden, e.g.
        ``FaultConfig.none(export_ready_after_s=0.1)``.
        """
        base = cls(
            rate_429=0.0,
            rate_5xx=0.0,
            rate_401=0.0,
            rate_limit_rps=None,
            export_fail_rate=0.0,
            export_truncate_rate=0.0,
        )
        names = {f.name for f in fields(cls)}
        unknown = set(overrides) - names
        if unknown:
            raise TypeError(f"unknown FaultConfig fields: {sorted(unknown)}")
        return replace(base, **overrides)  # type: ignore[arg-type]


class FaultInjector:
    """Seeded random decisions for one platform."""

    def __init__(self, config: FaultConfig, platform: str) -> None:
        self.config = config
        self._rng = random.Random(f"{config.seed}:{platform}")
        self._lock = threading.Lock()

    def draw(self) -> int | None:
        """The status of a random fault for this request (429 or a 5xx), or None."""
        c = self.config
        if c.rate_429 <= 0 and c.rate_5xx <= 0:
            return None
        with self._lock:
            r = self._rng.random()
            if r < c.rate_429:
                return 429
            if r < c.rate_429 + c.rate_5xx:
                return self._rng.choice(TRANSIENT_STATUSES)
        return None

    def chance(self, p: float) -> bool:
        if p <= 0:
            return False
        with self._lock:
            return self._rng.random() < p

    def uniform(self, a: float, b: float) -> float:
        with self._lock:
            return self._rng.uniform(a, b)


class RateLimiter:
    """Token bucket per client: ``rps`` tokens per second, burst of one second's worth."""

    def __init__(self, rps: float, burst: float | None = None) -> None:
        if rps <= 0:
            raise ValueError("rate_limit_rps must be positive (or None to lift the limit)")
        self.rate = float(rps)
        self.capacity = max(1.0, float(burst if burst is not None else rps))
        self._buckets: dict[str, tuple[float, float]] = {}  # client -> (tokens, at)
        self._lock = threading.Lock()

    def take(self, client: str, now: float | None = None) -> float:
        """Take a token for ``client``: 0.0 if allowed, else the seconds until one is due."""
        t = time.monotonic() if now is None else now
        with self._lock:
            tokens, at = self._buckets.get(client, (self.capacity, t))
            tokens = min(self.capacity, tokens + (t - at) * self.rate)
            if tokens >= 1.0:
                self._buckets[client] = (tokens - 1.0, t)
                return 0.0
            self._buckets[client] = (tokens, t)
            return (1.0 - tokens) / self.rate

    @staticmethod
    def retry_after(wait: float, floor: int) -> int:
        """Whole seconds for a Retry-After header: at least ``floor`` and at least ``wait``."""
        return max(int(floor), math.ceil(wait))
