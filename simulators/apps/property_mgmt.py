"""Property management: API-key auth, page-numbered current-state reads, catalogues.

``GET /api/service-orders?modified_after=<ts>&page=<1..>&page_size=<1..500>`` pages over
the *current view* (latest visible version of each order, ordered by
(``modified_at``, ``order_id``)) as of the platform clock at request time. The view is
maintained incrementally as the clock moves forward (rebuilt when it moves back or too
much changed), so paging a large store under a running clock stays cheap.

Decisions: ``modified_after`` is an inclusive bound, like every other platform's (the
contract's common rule); missing means everything; ``page`` defaults to 1 and
``page_size`` to 100; a page past the end is an empty ``items`` list; unknown or
repeated query parameters are 400; a missing ``company_credit_code`` is 400.
"""

from __future__ import annotations

import bisect
import hmac
import threading
from typing import Any

from simulators.apps.base import (
    ApiError,
    Credentials,
    Request,
    SimApp,
    parse_int,
    parse_ts,
    query_params,
    respond,
)
from simulators.faults import FaultConfig
from simulators.store import ResourceLog, SimClock, SimStore

__all__ = ["DEFAULT_PAGE_SIZE", "MAX_PAGE_SIZE", "CurrentView", "PropertyApp"]

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 500
ORDERS = ("property_mgmt", "service-orders")


class CurrentView:
    """``ResourceLog.current_view`` kept up to date as the clock advances.

    ``order`` holds the indexes of the latest visible version of each key, sorted by
    (updated, key). Moving the clock forward from T1 to T2 only touches the entries that
    become visible in (T1, T2]: those updated in (T1, T2] and late commits whose
    ``visible`` falls in (T1, T2].
    """

    REBUILD_ABOVE = 20_000  # more changes than this: rebuild from scratch

    def __init__(self, log: ResourceLog) -> None:
        self.log = log
        self.now: float | None = None
        self.latest: dict[str, int] = {}
        self.order: list[int] = []
        upd, vis = log.updated, log.visible
        late = [i for i in range(len(log)) if vis[i] > upd[i]]
        late.sort(key=vis.__getitem__)
        self._late = late
        self._late_vis = [vis[i] for i in late]
        self._lock = threading.Lock()

    def _sort_key(self, i: int) -> tuple[float, str]:
        return (self.log.updated[i], self.log.keys[i])

    def _rebuild(self, now: float) -> None:
        log = self.log
        self.order = log.current_view(now)
        keys = log.keys
        self.latest = {keys[i]: i for i in self.order}
        self.now = now

    def _advance(self, now: float) -> bool:
        """Move from self.now to ``now`` incrementally; False if a rebuild is better."""
        log, t1 = self.log, self.now
        assert t1 is not None
        upd, vis, keys = log.updated, log.visible, log.keys
        lo, hi = bisect.bisect_right(upd, t1), bisect.bisect_right(upd, now)
        a = bisect.bisect_right(self._late_vis, t1)
        b = bisect.bisect_right(self._late_vis, now)
        if (hi - lo) + (b - a) > self.REBUILD_ABOVE:
            return False
        cand = {i for i in range(lo, hi) if vis[i] <= now}
        cand.update(i for i in self._late[a:b] if upd[i] <= now)
        order, latest, key = self.order, self.latest, self._sort_key
        for i in sorted(cand):
            k = keys[i]
            old = latest.get(k)
            if old is not None:
                if old >= i:
                    continue
                pos = bisect.bisect_left(order, key(old), key=key)
                del order[pos]
            latest[k] = i
            bisect.insort(order, i, key=key)
        self.now = now
        return True

    def page(
        self, now: float, since: float | None, offset: int, size: int
    ) -> tuple[int, list[int]]:
        """(total matching ``since``, indexes of the page) as of ``now``."""
        with self._lock:
            if self.now is None or now < self.now or now > self.now and not self._advance(now):
                self._rebuild(now)
            order = self.order
            first = 0
            if since is not None:
                first = bisect.bisect_left(order, since, key=self.log.updated.__getitem__)
            total = len(order) - first
            return total, order[first + offset : first + offset + size]


class PropertyApp(SimApp):
    platform = "property_mgmt"

    def __init__(
        self,
        store: SimStore,
        clock: SimClock,
        faults: FaultConfig,
        creds: Credentials,
        prefix: str = "",
    ) -> None:
        super().__init__(store, clock, faults, creds, prefix)
        self._view: CurrentView | None = None
        self.route(r"/api/service-orders", GET=self.service_orders)
        self.route(r"/api/service-catalog", GET=self.service_catalog)

    @property
    def view(self) -> CurrentView | None:
        """The orders' current view (created on first use: the log may come later)."""
        if self._view is None:
            log = self.store.logs.get(ORDERS)
            if log is not None:
                self._view = CurrentView(log)
        return self._view

    def client_key(self, req: Request) -> str:
        key = req.headers.get("x-api-key")
        return "key:" + key if key else "ip:" + req.client_host

    def authenticate(self, req: Request) -> None:
        key = req.headers.get("x-api-key")
        if not key:
            raise ApiError(401, "X-Api-Key header is required")
        if not hmac.compare_digest(key.encode("latin-1"), self.creds.api_key.encode()):
            raise ApiError(401, "invalid API key")

    async def service_orders(self, req: Request, send: Any) -> None:
        self.authenticate(req)
        params = query_params(req, frozenset({"modified_after", "page", "page_size"}))
        since = (
            parse_ts(params["modified_after"], "modified_after")
            if "modified_after" in params
            else None
        )
        page = parse_int(params.get("page"), "page", 1, None, 1)
        size = parse_int(params.get("page_size"), "page_size", 1, MAX_PAGE_SIZE, DEFAULT_PAGE_SIZE)
        view = self.view
        if view is None:
            total, idx, bodies = 0, [], []
        else:
            total, idx = view.page(self.clock.now(), since, (page - 1) * size, size)
            bodies = view.log.bodies
        body = b"".join(
            [
                b'{"total":%d,"page":%d,"page_size":%d,"items":[' % (total, page, size),
                b",".join([bodies[i] for i in idx]),
                b"]}",
            ]
        )
        await respond(send, 200, body)

    async def service_catalog(self, req: Request, send: Any) -> None:
        self.authenticate(req)
        params = query_params(req, frozenset({"company_credit_code"}))
        code = params.get("company_credit_code")
        if not code:
            raise ApiError(400, "company_credit_code is required")
        body = self.store.catalogs.get(code)
        if body is None:
            raise ApiError(404, f"no catalogue for company {code!r}")
        await respond(send, 200, body)
