"""Public security: HMAC-signed requests and the bulk export flow for ``residents``.

* ``POST /v1/exports`` ``{"dataset": "residents", "since": ts|null}`` -> 202 pending.
  The export's content is fixed when it is created: the latest visible version of each
  resident (``ResourceLog.current_view`` at the platform clock's "now") with
  ``updated >= since``. The gzip file is built once, in a background thread.
* ``GET /v1/exports/{id}`` -> ``{"export_id", "status", "record_count", "sha256"}``.
* ``GET /v1/exports/{id}/file`` -> the gzip (NDJSON inside), with single-range support
  (``Range: bytes=N-``, ``bytes=N-M``, ``bytes=-N``) answering 206 + Content-Range.

Decisions: a missing ``since`` key is the same as null; unknown body keys are ignored;
an unknown dataset is 400; the file of a failed export is 409 ``EXPORT_FAILED``; an export
is kept ``export_keep_s`` from when it became ready (or failed), then 404 like an unknown
id; ``X-Timestamp`` must be whole unix seconds.
"""

from __future__ import annotations

import gzip
import hashlib
import hmac
import logging
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import orjson

from simulators.apps.base import (
    ApiError,
    Credentials,
    Request,
    SimApp,
    json_body,
    parse_ts,
    query_params,
    respond,
)
from simulators.faults import FaultConfig
from simulators.store import SimClock, SimStore

__all__ = ["GZIP_LEVEL", "MAX_SKEW_S", "PublicSecurityApp"]

log = logging.getLogger(__name__)

MAX_SKEW_S = 300
GZIP_LEVEL = 3
CHUNK = 1 << 20
DATASETS = {"residents": ("public_security", "residents")}
_TS = re.compile(r"[0-9]{1,12}")
_RANGE = re.compile(r"bytes=([0-9]*)-([0-9]*)")


@dataclass
class Export:
    export_id: str
    dataset: str
    since: float | None
    at: float  # platform clock when requested
    created: float  # monotonic
    fail: bool
    built: threading.Event = field(default_factory=threading.Event)
    built_at: float = 0.0
    data: bytes | None = None
    sha256: str | None = None
    record_count: int | None = None

    def ready_from(self, ready_after: float) -> float | None:
        """Monotonic time from which the export is finished, or None while pending."""
        if not self.built.is_set():
            return None
        return max(self.created + ready_after, self.built_at)


class PublicSecurityApp(SimApp):
    platform = "public_security"

    def __init__(
        self,
        store: SimStore,
        clock: SimClock,
        faults: FaultConfig,
        creds: Credentials,
        prefix: str = "",
    ) -> None:
        super().__init__(store, clock, faults, creds, prefix)
        self.exports: dict[str, Export] = {}
        self._lock = threading.Lock()
        self.route(r"/v1/exports", POST=self.create_export)
        self.route(r"/v1/exports/(?P<export_id>[^/]+)", GET=self.export_status)
        self.route(r"/v1/exports/(?P<export_id>[^/]+)/file", GET=self.export_file)

    def client_key(self, req: Request) -> str:
        key = req.headers.get("x-app-key")
        return "app:" + key if key else "ip:" + req.client_host

    # -- auth ----------------------------------------------------------------------------

    def verify(self, req: Request) -> None:
        h = req.headers
        key, ts, sig = h.get("x-app-key"), h.get("x-timestamp"), h.get("x-signature")
        if not key or not ts or not sig:
            raise ApiError(401, "X-App-Key, X-Timestamp and X-Signature are required")
        if not hmac.compare_digest(key.encode("latin-1"), self.creds.app_key.encode()):
            raise ApiError(401, "unknown app key")
        if not _TS.fullmatch(ts):
            raise ApiError(401, "X-Timestamp must be unix seconds")
        if abs(time.time() - int(ts)) > MAX_SKEW_S:
            raise ApiError(401, f"X-Timestamp is more than {MAX_SKEW_S} s off")
        message = b"\n".join([req.method.encode(), req.raw_path, req.query_string, ts.encode()])
        want = hmac.new(self.creds.app_secret.encode(), message, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(sig.encode("latin-1"), want.encode()):
            raise ApiError(401, "bad signature")

    # -- exports -------------------------------------------------------------------------

    def _prune(self, now: float) -> None:
        ready_after, keep = self.faults.export_ready_after_s, self.faults.export_keep_s
        with self._lock:
            for eid in list(self.exports):
                start = self.exports[eid].ready_from(ready_after)
                if start is not None and now > start + keep:
                    del self.exports[eid]

    def _get(self, export_id: str) -> Export:
        self._prune(time.monotonic())
        exp = self.exports.get(export_id)
        if exp is None:
            raise ApiError(404, f"unknown or expired export {export_id!r}")
        return exp

    def _status(self, exp: Export) -> str:
        start = exp.ready_from(self.faults.export_ready_after_s)
        if start is None or time.monotonic() < start:
            return "pending"
        return "failed" if exp.fail else "ready"

    async def create_export(self, req: Request, send: Any) -> None:
        self.verify(req)
        query_params(req, frozenset())
        raw = await req.body()
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise ApiError(400, "body must be JSON") from None
        if not isinstance(body, dict):
            raise ApiError(400, "body must be a JSON object")
        dataset = body.get("dataset")
        if dataset not in DATASETS:
            raise ApiError(400, f"unknown dataset {dataset!r} (known: {', '.join(DATASETS)})")
        since_raw = body.get("since")
        if since_raw is None:
            since = None
        elif isinstance(since_raw, str):
            since = parse_ts(since_raw, "since")
        else:
            raise ApiError(400, "since must be an ISO-8601 timestamp with offset, or null")
        now_mono = time.monotonic()
        self._prune(now_mono)
        exp = Export(
            export_id=uuid.uuid4().hex,
            dataset=dataset,
            since=since,
            at=self.clock.now(),
            created=now_mono,
            fail=self.injector.chance(self.faults.export_fail_rate),
        )
        with self._lock:
            self.exports[exp.export_id] = exp
        if exp.fail:
            exp.built_at = now_mono
            exp.built.set()
        else:
            threading.Thread(
                target=self._build, args=(exp,), name=f"export-{exp.export_id[:8]}", daemon=True
            ).start()
        location = f"{self.prefix}/v1/exports/{exp.export_id}".encode()
        await respond(
            send,
            202,
            json_body({"export_id": exp.export_id, "status": "pending"}),
            headers=[(b"location", location)],
        )

    def _build(self, exp: Export) -> None:
        try:
            log = self.store.logs.get(DATASETS[exp.dataset])
            if log is None:
                idx: list[int] = []
            else:
                idx = log.current_view(exp.at)
                if exp.since is not None:
                    upd = log.updated
                    idx = [i for i in idx if upd[i] >= exp.since]
            bodies = log.bodies if log is not None else []
            ndjson = b"".join([bodies[i] + b"\n" for i in idx])
            data = gzip.compress(ndjson, compresslevel=GZIP_LEVEL, mtime=0)
            exp.data = data
            exp.sha256 = hashlib.sha256(data).hexdigest()
            exp.record_count = len(idx)
        except Exception:  # a bug in the data turns into a failed export, and a log line
            log.exception("export %s could not be built", exp.export_id)
            exp.fail = True
        finally:
            exp.built_at = time.monotonic()
            exp.built.set()

    async def export_status(self, req: Request, send: Any, export_id: str) -> None:
        self.verify(req)
        query_params(req, frozenset())
        exp = self._get(export_id)
        status = self._status(exp)
        ready = status == "ready"
        payload = {
            "export_id": exp.export_id,
            "status": status,
            "record_count": exp.record_count if ready else None,
            "sha256": exp.sha256 if ready else None,
        }
        await respond(send, 200, json_body(payload))

    async def export_file(self, req: Request, send: Any, export_id: str) -> None:
        self.verify(req)
        query_params(req, frozenset())
        exp = self._get(export_id)
        status = self._status(exp)
        if status == "pending":
            raise ApiError(409, "export is not ready yet; poll its status", "EXPORT_NOT_READY")
        if status == "failed" or exp.data is None:
            raise ApiError(409, "export failed; request a new one", "EXPORT_FAILED")
        data = exp.data
        size = len(data)
        etag = f'"{exp.sha256}"'.encode()
        start, end, status_code = 0, size, 200
        headers = [
            (b"accept-ranges", b"bytes"),
            (b"etag", etag),
            (b"content-disposition", f'attachment; filename="{export_id}.ndjson.gz"'.encode()),
        ]
        range_h = req.headers.get("range")
        if_range = req.headers.get("if-range")
        if range_h and (if_range is None or if_range.encode() == etag):
            parsed = _parse_range(range_h, size)
            if parsed == "unsatisfiable":
                raise ApiError(
                    416,
                    f"range {range_h!r} outside the file ({size} bytes)",
                    headers=[(b"content-range", f"bytes */{size}".encode())],
                )
            if parsed is not None:
                start, end = parsed
                status_code = 206
                headers.append((b"content-range", f"bytes {start}-{end - 1}/{size}".encode()))
        length = end - start
        stop = end
        truncate = length > 1 and self.injector.chance(self.faults.export_truncate_rate)
        if truncate:
            stop = start + max(1, min(length - 1, int(length * self.injector.uniform(0.1, 0.9))))
        await send(
            {
                "type": "http.response.start",
                "status": status_code,
                "headers": [
                    (b"content-type", b"application/gzip"),
                    (b"content-length", str(length).encode()),
                    *headers,
                ],
            }
        )
        view = memoryview(data)
        pos = start
        while pos < stop:
            nxt = min(stop, pos + CHUNK)
            more = nxt < end
            await send(
                {"type": "http.response.body", "body": bytes(view[pos:nxt]), "more_body": more}
            )
            pos = nxt
        if start == end:
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        # When truncating, return with the response incomplete: the server closes the
        # connection, and the client sees fewer bytes than Content-Length announced.


def _parse_range(value: str, size: int) -> tuple[int, int] | str | None:
    """A single byte range -> (start, end exclusive); None to ignore; "unsatisfiable"."""
    m = _RANGE.fullmatch(value.strip())
    if m is None:
        return None  # multiple or malformed ranges: ignored, the whole file is sent
    first, last = m.groups()
    if not first and not last:
        return None
    if first:
        s = int(first)
        if last and int(last) < s:
            return None
        if s >= size:
            return "unsatisfiable"
        e = min(size, int(last) + 1) if last else size
        return s, e
    n = int(last)
    if n == 0:
        return "unsatisfiable"
    return max(0, size - n), size
