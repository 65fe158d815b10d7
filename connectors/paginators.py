"""Pagination strategies: how to walk one resource's change list page by page.

Each strategy yields :class:`Page` objects and knows only the wire protocol of its kind
of API; what a record means is the resource spec's business (``connectors.platforms``).

* :class:`CursorPaginator` — civil affairs, health, medical insurance: a lower bound on
  the update time, then an opaque cursor. An expired cursor restarts the read from the
  newest update time already seen, minus the overlap.
* :class:`KeysetPagePaginator` — property management: page numbers computed at request
  time, so pages shift when records change during a read. Instead of walking page 2, 3…
  of one bound, it moves the bound to the last update time received and asks for page 1
  again (the bound is inclusive, so nothing between is skipped; repeats are dropped by
  the landing). Only when a whole page shares one update time does it step the page,
  checking at each step that nothing shifted under it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson
import requests

from connectors.errors import ContractViolation, CursorExpired
from connectors.http import error_code, get, raise_for_platform

__all__ = ["EPOCH", "CursorPaginator", "KeysetPagePaginator", "Page", "Unparsed"]

log = logging.getLogger(__name__)

#: The bound sent for a first (full) read: the contract has every list endpoint take one.
EPOCH = datetime.fromisoformat("1970-01-01T08:00:00+08:00")


@dataclass(frozen=True)
class Unparsed:
    """An element of a response that is not a JSON object (kept so it can be rejected
    with a reason rather than lost)."""

    raw: str
    reason: str


@dataclass
class Page:
    records: list[dict[str, Any] | Unparsed]
    server_time: datetime | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    #: True when every record up to this page's newest update time has been delivered,
    #: so the watermark may advance (a change list in update-time order). An export file
    #: is in no order: only its last page is a checkpoint.
    checkpoint: bool = True


def _json(platform: str, resp: requests.Response) -> Any:
    try:
        return orjson.loads(resp.content)
    except orjson.JSONDecodeError as exc:
        raise ContractViolation(
            f"{platform}: {resp.request.method} {resp.url.split('?')[0]} answered {resp.status_code} "
            f"with a body that is not JSON ({exc})"
        ) from exc


def _elements(items: list[Any]) -> list[dict[str, Any] | Unparsed]:
    return [x if isinstance(x, dict) else Unparsed(orjson.dumps(x).decode(), "element is not a JSON object")
            for x in items]


@dataclass
class CursorPaginator:
    platform: str
    session: requests.Session
    url: str
    bound_param: str
    limit: int
    format_time: Callable[[datetime], str]
    parse_time: Callable[[str], datetime]
    updated_of: Callable[[dict[str, Any]], datetime | None]
    overlap: timedelta = timedelta(minutes=5)
    max_restarts: int = 5

    def pages(self, since: datetime | None) -> Iterator[Page]:
        bound = since or EPOCH
        params: dict[str, Any] = {self.bound_param: self.format_time(bound), "limit": self.limit}
        last: list[dict[str, Any] | Unparsed] = []  # the latest page that held records
        restarts = 0
        while True:
            resp = get(self.session, self.url, params=params)
            if resp.status_code == 400 and error_code(resp)[0] == "CURSOR_EXPIRED":
                restarts += 1
                if restarts > self.max_restarts:
                    raise CursorExpired(f"{self.platform}: cursor expired {restarts} times in one read; "
                                        "pages are read too slowly — check the database's write speed")
                newest = self._newest(last)
                restart = max(bound, newest - self.overlap) if newest else bound
                log.info("%s: cursor expired, reading again from %s", self.platform, restart.isoformat())
                params = {self.bound_param: self.format_time(restart), "limit": self.limit}
                continue
            raise_for_platform(self.platform, resp)
            body = _json(self.platform, resp)
            if not isinstance(body, dict) or not isinstance(body.get("data"), list):
                raise ContractViolation(f"{self.platform}: list answer without a 'data' array")
            records = _elements(body["data"])
            if records:
                last = records
            server_time = self._server_time(body.get("server_time"))
            yield Page(records, server_time)
            cursor = body.get("next_cursor")
            if not cursor:
                return
            params = {"cursor": cursor, "limit": self.limit}

    def _server_time(self, value: Any) -> datetime | None:
        """The page's ``server_time``; one that cannot be read is only a lost hint
        (the watermark then falls back to the local clock), not a failed read."""
        if not isinstance(value, str):
            return None
        try:
            return self.parse_time(value)
        except (ValueError, OverflowError):
            log.warning("%s: unreadable server_time %r ignored", self.platform, value[:40])
            return None

    def _newest(self, records: list[dict[str, Any] | Unparsed]) -> datetime | None:
        """The newest update time of ``records``: where an expired cursor's read restarts
        (less the overlap). The change list comes in update-time order, so the latest page
        holds the newest time read; were it out of order somewhere, the restart would only
        be earlier — a longer re-read, never a lost record. Worked out only when a cursor
        expires, not for every record."""
        newest = None
        for rec in records:
            if isinstance(rec, dict):
                try:
                    ts = self.updated_of(rec)
                except ValueError:
                    continue
                if ts and (newest is None or ts > newest):
                    newest = ts
        return newest


@dataclass
class KeysetPagePaginator:
    platform: str
    session: requests.Session
    url: str
    bound_param: str
    page_size: int
    format_time: Callable[[datetime], str]
    updated_of: Callable[[dict[str, Any]], datetime | None]
    server_time_of: Callable[[requests.Response], datetime | None] = lambda r: None

    #: How often one run of records sharing an update time may be read again from its
    #: first page because records shifted under the reader (see :meth:`pages`).
    max_rereads: int = 20

    def _get(self, bound: datetime, page_no: int) -> tuple[requests.Response, list[Any], int, Any]:
        resp = get(self.session, self.url, params={self.bound_param: self.format_time(bound),
                                                   "page": page_no, "page_size": self.page_size})
        raise_for_platform(self.platform, resp)
        body = _json(self.platform, resp)
        if not isinstance(body, dict) or not isinstance(body.get("items"), list):
            raise ContractViolation(f"{self.platform}: page answer without an 'items' array")
        # The page size the platform applied: a server that caps it below what was asked
        # still answers full pages of its own size, and only a shorter one is the last.
        size = body.get("page_size")
        if size.__class__ is not int or not 0 < size <= self.page_size:
            size = self.page_size
        return resp, body["items"], size, body.get("total")

    def pages(self, since: datetime | None) -> Iterator[Page]:
        """Walk the orders modified at or after ``since``.

        The bound moves to the last update time of each full page, and page 1 is asked
        again. A run of records sharing one update time that fills a page cannot be
        passed that way, so the reader steps page 2, 3 … of that bound — and because a
        record of the run modified meanwhile leaves it (it moves to the end of the list),
        shifting the rest back one place, every stepped page is checked: the page before
        it, fetched again, must still end with the record it ended with. If not, the run
        is read again from its first page (the landing drops the repeats)."""
        bound = since or EPOCH
        page_no = 1
        ended: Any = None  # when stepping: the record the previous page ended with
        rereads = 0
        while True:
            resp, items, size, total = self._get(bound, page_no)
            if page_no > 1:
                before = self._get(bound, page_no - 1)[1]
                if not before or before[-1] != ended:
                    rereads += 1
                    if rereads > self.max_rereads:
                        raise ContractViolation(
                            f"{self.platform}: records sharing one update time kept shifting between pages "
                            f"({rereads} re-reads); run the ingest again later")
                    log.info("%s: records moved between pages during the read; reading the orders of %s "
                             "again from page 1", self.platform, self.format_time(bound))
                    page_no, ended = 1, None
                    continue
            yield Page(_elements(items), self.server_time_of(resp), {"total": total})
            if not items or len(items) < size:
                return
            last = None
            for rec in reversed(items):
                if isinstance(rec, dict):
                    try:
                        last = self.updated_of(rec)
                    except ValueError:
                        last = None
                    if last:
                        break
            if last is not None and last > bound:
                bound, page_no, ended, rereads = last, 1, None, 0
            else:
                page_no, ended = page_no + 1, items[-1]
