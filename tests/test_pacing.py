"""Client-side pacing: one platform's per-client rate limit holds when several processes
read its resources at once."""

from __future__ import annotations

import multiprocessing
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


def _starts(slot, n: int, out, ready, go) -> None:  # noqa: ANN001
    pacer = Pacer(RPS, slot)
    ready.put(1)
    go.wait(60)  # start together, however long each took to spawn on a busy machine
    for _ in range(n):
        pacer.wait()
        out.put(time.monotonic())


def _request_starts(shared: bool) -> list[float]:
    ctx = multiprocessing.get_context("spawn")
    slot = ctx.Value("d", 0.0)
    out, ready, go = ctx.Queue(), ctx.Queue(), ctx.Event()
    procs = [ctx.Process(target=_starts, args=(slot if shared else None, 12, out, ready, go))
             for _ in range(3)]
    for p in procs:
        p.start()
    for _ in procs:
        ready.get(timeout=60)
    go.set()
    starts = sorted(out.get(timeout=30) for _ in range(36))
    for p in procs:
        p.join()
    return starts


def _busiest_second(starts: list[float]) -> int:
    return max(sum(1 for t in starts if s <= t < s + 1.0) for s in starts)


def test_a_shared_pacer_spaces_requests_across_processes() -> None:
    together = _request_starts(shared=True)
    assert _busiest_second(together) <= RPS + 1
    assert together[-1] - together[0] >= 35 / RPS * 0.95
    # Control: pacers of their own let three processes go three times as fast.
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
    s = sqlite_settings.model_copy(update={"requests_per_second": PLATFORM_RPS, "parallel_platforms": 4,
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
