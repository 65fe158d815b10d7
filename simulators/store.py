"""The simulators' in-memory data: what the generator fills and the HTTP apps serve.

The store is a change log per (platform, resource). Each entry is one version of one
record, already serialised to the platform's wire format (bytes), with two times:

* ``updated`` — the update time the record carries (epoch seconds);
* ``visible`` — when the platform makes it readable. Normally equal to ``updated``; a
  late commit (the contract's unsynchronised clocks) becomes visible up to five minutes
  after its own update time, i.e. after records with later update times were served.

A platform's clock (:class:`SimClock`) decides what is visible, so a test can read, move
the clock on, and read again: the data "changes" without the log ever being rewritten.
Reads never parse bodies; everything a read needs (record key, times) sits beside them.
"""

from __future__ import annotations

import bisect
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime

__all__ = ["CURRENT_VIEW_RESOURCES", "ResourceLog", "SimClock", "SimStore"]

#: Resources served as current state (each record once, at its latest visible version)
#: rather than as a change log: the property platform's orders and the public-security
#: residents export.
CURRENT_VIEW_RESOURCES = {("property_mgmt", "service-orders"), ("public_security", "residents")}


class SimClock:
    """The simulated platforms' "now". Frozen at ``start`` unless ``advance``d or set to
    follow the wall clock (``running=True``: now = start + elapsed real time)."""

    def __init__(self, start: datetime, running: bool = False) -> None:
        if start.tzinfo is None:
            raise ValueError("SimClock start must be timezone-aware")
        self._base = start.timestamp()
        self._wall0 = time.monotonic()
        self.running = running
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            if self.running:
                return self._base + (time.monotonic() - self._wall0)
            return self._base

    def set(self, when: datetime) -> None:
        with self._lock:
            self._base = when.timestamp()
            self._wall0 = time.monotonic()

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._base += seconds


@dataclass
class ResourceLog:
    """Versions of one resource's records, ordered by (updated, insertion order).

    Fill with :meth:`append` (any order), then :meth:`finalize` once before serving.
    """

    platform: str
    resource: str
    keys: list[str] = field(default_factory=list)  # record id of each entry
    updated: list[float] = field(default_factory=list)
    visible: list[float] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)
    _final: bool = False

    def append(self, key: str, updated: float, body: bytes, visible: float | None = None) -> None:
        if self._final:
            raise RuntimeError(f"{self.platform}/{self.resource}: log is finalized")
        self.keys.append(key)
        self.updated.append(updated)
        self.visible.append(updated if visible is None else visible)
        self.bodies.append(body)

    def finalize(self) -> None:
        """Sort by update time, stably (a tie keeps the order of delivery)."""
        order = sorted(range(len(self.keys)), key=self.updated.__getitem__)
        self.keys = [self.keys[i] for i in order]
        self.updated = [self.updated[i] for i in order]
        self.visible = [self.visible[i] for i in order]
        self.bodies = [self.bodies[i] for i in order]
        self._final = True

    def __len__(self) -> int:
        return len(self.keys)

    def first_index(self, since: float | None) -> int:
        """Index of the first entry with ``updated >= since``."""
        if since is None:
            return 0
        return bisect.bisect_left(self.updated, since)

    def read(self, start: int, now: float, limit: int) -> tuple[list[int], int | None]:
        """Up to ``limit`` indexes of entries visible at ``now``, from ``start`` on.

        Returns the indexes and the index to continue from (None at the end). Entries are
        skipped while invisible; the scan stops at the first update time beyond ``now``
        (nothing later can be visible).
        """
        out: list[int] = []
        i, n = start, len(self.keys)
        upd, vis = self.updated, self.visible
        while i < n and len(out) < limit:
            if upd[i] > now:
                return out, None
            if vis[i] <= now:
                out.append(i)
            i += 1
        if i >= n or (i < n and upd[i] > now):
            return out, None
        return out, i

    def current_view(self, now: float) -> list[int]:
        """Indexes of the latest visible version of each key, ordered by (updated, key)."""
        latest: dict[str, int] = {}
        upd, vis, keys = self.updated, self.visible, self.keys
        for i in range(len(keys)):
            if upd[i] > now:
                break
            if vis[i] <= now:
                latest[keys[i]] = i  # later index = later update (or later delivery on a tie)
        return sorted(latest.values(), key=lambda i: (upd[i], keys[i]))


@dataclass
class SimStore:
    """Everything the five simulated platforms serve."""

    logs: dict[tuple[str, str], ResourceLog] = field(default_factory=dict)
    #: property platform's published catalogues: credit code -> wire body (JSON bytes of
    #: ``{"company_credit_code", "items": [...]}``)
    catalogs: dict[str, bytes] = field(default_factory=dict)

    def log(self, platform: str, resource: str) -> ResourceLog:
        key = (platform, resource)
        if key not in self.logs:
            self.logs[key] = ResourceLog(platform, resource)
        return self.logs[key]

    def finalize(self) -> None:
        for log in self.logs.values():
            log.finalize()

    def total_records(self) -> int:
        return sum(len(log) for log in self.logs.values())
