"""Bulk exports (public security): request, poll, download with resume, verify, read.

The flow of PLATFORMS.md §4: ``POST /v1/exports`` → poll ``GET /v1/exports/{id}`` until
``ready`` (a ``failed`` export is requested anew) → ``GET …/file`` (gzip NDJSON) into a
local ``.part`` file, resumed with ``Range`` when the connection breaks → sha256 and
record count checked → lines read back in pages.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import orjson
import requests
import urllib3

from connectors.errors import ContractViolation, ExportFailed
from connectors.http import get, raise_for_platform
from connectors.paginators import Page, Unparsed

__all__ = ["BulkExport", "date_header"]

log = logging.getLogger(__name__)
# ``resp.raw.stream`` raises urllib3's own exceptions, ``requests`` its wrappers
_NET_ERRORS = (requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError,
               requests.exceptions.Timeout, urllib3.exceptions.ProtocolError, urllib3.exceptions.TimeoutError)


class _Gone(Exception):
    """The export's file is no longer there (expired): the export is requested anew."""


def _range_start(resp: requests.Response) -> int | None:
    """Where a 206 answer's ``Content-Range: bytes START-END/SIZE`` starts (None: not said)."""
    value = resp.headers.get("Content-Range", "")
    try:
        return int(value.split()[1].split("-")[0]) if value.startswith("bytes ") else None
    except (IndexError, ValueError):
        return None


def date_header(resp: requests.Response) -> datetime | None:
    """The platform's clock as its HTTP ``Date`` header states it."""
    value = resp.headers.get("Date")
    if not value:
        return None
    try:
        return parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None


@dataclass
class BulkExport:
    platform: str
    session: requests.Session
    base_url: str
    dataset: str
    download_dir: Path
    format_time: Callable[[datetime], str]
    poll_seconds: float = 2.0
    timeout_seconds: float = 3600.0
    attempts: int = 3
    page_size: int = 5000
    max_resumes: int = 20

    def pages(self, since: datetime | None) -> Iterator[Page]:
        path, server_time, count = self._fetch(since)
        try:
            yield from self._read(path, server_time, count)
        finally:
            path.unlink(missing_ok=True)

    # -- steps -----------------------------------------------------------------------------

    def _fetch(self, since: datetime | None) -> tuple[Path, datetime | None, int]:
        last_error = ""
        for attempt in range(1, self.attempts + 1):
            resp = self.session.post(f"{self.base_url}/v1/exports",
                                     json={"dataset": self.dataset,
                                           "since": self.format_time(since) if since else None})
            raise_for_platform(self.platform, resp)
            export_id = resp.json().get("export_id")
            if not export_id:
                raise ContractViolation(f"{self.platform}: export request answered without export_id")
            server_time = date_header(resp)
            status = self._wait_ready(export_id)
            if status.get("status") == "failed":
                last_error = f"export {export_id} failed"
                log.warning("%s: %s (attempt %d of %d); requesting a new one", self.platform,
                            last_error, attempt, self.attempts)
                continue
            count, sha = status.get("record_count"), status.get("sha256")
            if isinstance(count, str) and count.strip().isascii() and count.strip().isdigit():
                count = int(count)  # a count sent as a string is still the count
            if not isinstance(count, int) or isinstance(count, bool) or not isinstance(sha, str):
                raise ContractViolation(f"{self.platform}: ready export {export_id} lacks record_count/sha256")
            try:
                path = self._download(export_id, sha)
            except _Gone as exc:
                last_error = str(exc)
                log.warning("%s: %s (attempt %d of %d); requesting a new one", self.platform, last_error,
                            attempt, self.attempts)
                continue
            return path, server_time, count
        raise ExportFailed(f"{self.platform}: {self.attempts} exports of {self.dataset!r} failed "
                           f"({last_error}); the platform could not produce the file — try again later")

    def _wait_ready(self, export_id: str) -> dict[str, Any]:
        deadline = time.monotonic() + self.timeout_seconds
        delay = min(self.poll_seconds, 0.5)
        while True:
            resp = get(self.session, f"{self.base_url}/v1/exports/{export_id}")
            raise_for_platform(self.platform, resp)
            status = resp.json()
            if status.get("status") in ("ready", "failed"):
                return status
            if time.monotonic() > deadline:
                raise ExportFailed(f"{self.platform}: export {export_id} not ready after "
                                   f"{self.timeout_seconds:.0f}s; raise HUB_EXPORT_TIMEOUT_SECONDS or retry later")
            time.sleep(delay)
            delay = min(delay * 1.5, max(self.poll_seconds, 0.5) * 5)

    def _download(self, export_id: str, sha256: str) -> Path:
        self.download_dir.mkdir(parents=True, exist_ok=True)
        part = self.download_dir / f"{self.platform}-{export_id}.ndjson.gz.part"
        try:
            return self._download_to(part, export_id, sha256)
        except BaseException:  # a download given up leaves no gigabytes behind
            part.unlink(missing_ok=True)
            raise

    def _download_to(self, part: Path, export_id: str, sha256: str) -> Path:
        part.unlink(missing_ok=True)
        url = f"{self.base_url}/v1/exports/{export_id}/file"
        resumes = 0
        deadline = time.monotonic() + self.timeout_seconds
        for full_pass in range(2):  # one fresh download more if the checksum does not match
            while True:
                have = part.stat().st_size if part.exists() else 0
                # The file's own bytes, as the checksum covers them: no transfer encoding
                # asked for, and none undone if a server labels the gzip file with one.
                headers = {"Accept": "application/gzip, application/octet-stream, */*",
                           "Accept-Encoding": "identity"}
                if have:
                    headers["Range"] = f"bytes={have}-"
                try:
                    with self.session.get(url, headers=headers, stream=True) as resp:
                        if resp.status_code == 409:  # not ready after all; wait and retry
                            if time.monotonic() > deadline:
                                raise ExportFailed(f"{self.platform}: export {export_id} file still not ready "
                                                   f"after {self.timeout_seconds:.0f}s; try again later")
                            time.sleep(self.poll_seconds)
                            continue
                        if resp.status_code in (404, 410):  # kept 2 hours: gone, ask for a new one
                            raise _Gone(f"export {export_id} file answered {resp.status_code}")
                        if resp.status_code == 416:  # we already hold every byte
                            break
                        raise_for_platform(self.platform, resp)
                        resumed = have and resp.status_code == 206
                        if resumed and _range_start(resp) not in (None, have):
                            # not the range asked for: start the file afresh
                            log.info("%s: export %s answered another range than asked; downloading "
                                     "it from the start", self.platform, export_id)
                            part.unlink(missing_ok=True)
                            continue
                        with part.open("ab" if resumed else "wb") as fh:
                            for chunk in resp.raw.stream(1 << 20, decode_content=False):
                                fh.write(chunk)
                    break
                except _NET_ERRORS as exc:
                    resumes += 1
                    if resumes > self.max_resumes:
                        raise ExportFailed(f"{self.platform}: download of export {export_id} broke off "
                                           f"{resumes} times; giving up") from exc
                    log.info("%s: download of export %s broke off at %d bytes (%s); resuming",
                             self.platform, export_id, part.stat().st_size if part.exists() else 0,
                             type(exc).__name__)
            digest = _sha256(part)
            if digest == sha256.strip().lower():
                return part
            log.warning("%s: export %s checksum mismatch (pass %d); downloading it again",
                        self.platform, export_id, full_pass + 1)
            part.unlink(missing_ok=True)
        raise ContractViolation(f"{self.platform}: export {export_id} never matched its sha256")

    def _read(self, path: Path, server_time: datetime | None, count: int) -> Iterator[Page]:
        batch: list[dict[str, Any] | Unparsed] = []
        lines = 0
        with gzip.open(path, "rb") as fh:
            for line in fh:
                if not line.strip():
                    continue
                lines += 1
                try:
                    obj = orjson.loads(line)
                except orjson.JSONDecodeError as exc:
                    batch.append(Unparsed(line.decode("utf-8", "replace").rstrip("\n"), f"line is not JSON: {exc}"))
                else:
                    batch.append(obj if isinstance(obj, dict) else Unparsed(line.decode().rstrip("\n"),
                                                                            "line is not a JSON object"))
                if len(batch) >= self.page_size:
                    yield Page(batch, server_time, checkpoint=False)
                    batch = []
        if lines != count:
            raise ContractViolation(f"{self.platform}: export holds {lines} lines but announced "
                                    f"record_count {count}")
        yield Page(batch, server_time, {"final": True}, checkpoint=True)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
