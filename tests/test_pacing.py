"""Client-side pacing: one platform's per-client rate limit holds when several readers
take its resources at once."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

from connectors.http import Pacer
from hub.db import get_engine
from landing.ingest import ingest_all
from schemas.staging import staging_table
from simulators.faults import FaultConfig
from simulators.store import SimClock, SimStore
from tests.world import T0, civil_elder, put

RPS = 20.0
PLATFORM_RPS = 40.0  # high enough for a short test, low enough for four readers to exceed


def _request_starts(shared: bool) -> list[float]:
    """Three reader threads make 12 requests each; with ``shared`` they share one pacer."""
    one = Pacer(RPS)
    go = threading.Barrier(3)
    starts: list[float] = []
    lock = threading.Lock()

    def reader() -> None:
        pacer = one if shared else Pacer(RPS)
        go.wait(60)  # start together
        for _ in range(12):
            pacer.wait()
            with lock:
                starts.append(time.monotonic())

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return sorted(starts)


def _busiest_second(starts: list[float]) -> int:
    return max(sum(1 for t in starts if s <= t < s + 1.0) for s in starts)


def test_a_shared_pacer_spaces_requests_across_readers() -> None:
    together = _request_starts(shared=True)
    assert len(together) == 36
    assert _busiest_second(together) <= RPS + 1
    assert together[-1] - together[0] >= 35 / RPS * 0.95
    # Control: pacers of their own let three readers go three times as fast.
    assert _busiest_second(_request_starts(shared=False)) >= 30


def test_parallel_resource_reads_stay_under_the_platform_rate_limit(serve, sqlite_settings) -> None:  # noqa: ANN001
    """Civil affairs' resources are read by several processes at once; together they must
    not draw a single 429 from a platform enforcing its rate limit."""
    store = SimStore()  # four resources of equal size, so that four readers overlap throughout
    for resource in ("elders", "benefits", "card-deposits", "meal-records"):
        for i in range(100):
            t = T0 + timedelta(seconds=i)
            put(store, "civil_affairs", resource, "record_id", civil_elder(f"{resource}-{i}", t), t)
    store.finalize()
    clock = SimClock(T0 + timedelta(days=1))
    handle = serve(store, clock, FaultConfig.none(rate_limit_rps=PLATFORM_RPS, retry_after_s=1, export_ready_after_s=0.05))
    s = sqlite_settings.model_copy(update={"requests_per_second": PLATFORM_RPS, "ingest_workers": 4,
                                           "page_limit": 2, "commit_records": 20})
    result = ingest_all(["civil_affairs"], settings=s)
    assert result.status == "success", [b.error for b in result.batches if b.error]
    assert handle.apps["civil_affairs"].stats.get(429, 0) == 0
    assert sum(b.received for b in result.batches) == 400
    with get_engine(s).connect() as conn:
        for b in result.batches:
            table = staging_table("civil_affairs", b.resource)
            if b.received:
                assert conn.execute(table.select()).first() is not None, b.resource


def test_the_platform_with_most_reading_left_gets_the_landing_queue_first() -> None:
    """Under rate limits the run lasts as long as the platform needing the most requests:
    its pages may fill a landing worker's queue, the others only a shrinking part of it,
    and when it finishes reading the next one moves up."""
    from types import SimpleNamespace

    from connectors import RESOURCES
    from landing.ingest import QUEUE_PARTS, _Priority

    jobs = [SimpleNamespace(spec=s, reading_done=False) for p in ("civil_affairs", "health", "property_mgmt")
            for s in RESOURCES[p]]
    prio = _Priority(jobs)  # type: ignore[arg-type]
    ca, health, prop = (prio.room(p) for p in ("civil_affairs", "health", "property_mgmt"))
    assert ca == QUEUE_PARTS and ca > health > prop >= 2
    for j in jobs:
        if j.spec.platform == "civil_affairs":
            j.reading_done = True
    assert prio.room("health") == QUEUE_PARTS
    assert prio.room("property_mgmt") < QUEUE_PARTS
    assert prio.room("civil_affairs") == QUEUE_PARTS  # a platform no longer read is never held back
