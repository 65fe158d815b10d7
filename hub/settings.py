"""One settings object for the whole hub, read from ``HUB_*`` environment variables.

``HUB_HOME`` (default ``./.hub``) holds local state and reports; ``HUB_DATABASE_URL`` is an
SQLAlchemy URL (default: an SQLite file under ``HUB_HOME``). Every command honours both.
"""

from __future__ import annotations

import os
from datetime import date
from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["HubSettings", "get_settings"]


class HubSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HUB_", extra="ignore")

    home: Path = Field(default=Path(".hub"), description="local state, downloads and reports")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL of the hub database")

    # Incremental reads: re-read this far behind the watermark, because platform clocks
    # are not synchronised (PLATFORMS.md: up to 5 minutes).
    overlap_seconds: int = 300
    page_limit: int = Field(default=1000, ge=1, le=1000)  # cursor platforms: the contract's 1..1000
    property_page_size: int = Field(default=500, ge=1, le=500)  # property platform: 1..500
    # Client-side pacing per platform; the contract allows 20 requests/second per client.
    requests_per_second: float | None = 20.0
    http_connect_timeout: float = 10.0
    http_read_timeout: float = 120.0
    http_retries: int = 10  # transient failures and 429s per request before giving up
    export_poll_seconds: float = 2.0
    export_timeout_seconds: float = 3600.0
    export_attempts: int = 3  # a failed export is requested anew this many times
    # Pages are landed together until this many records, one transaction each: fewer
    # commits, and a crash loses at most this much work (never data: it is read again).
    commit_records: int = 50_000
    # SQLite only: checkpoint and truncate the write-ahead log when it grows past this.
    sqlite_wal_limit_mb: int = 256
    # Landing worker processes (parsing, normalising, writing); every resource is read
    # at once by a thread of the calling process. 1: everything in the calling process,
    # one resource after another. Default: one per CPU.
    ingest_workers: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1)
    # Quality: how many validation runs keep their GX Data Docs (about 4 MB each).
    quality_docs_keep: int = 30
    # Linking: a record joins its best candidate person at this match probability; below
    # it, when it probably describes somebody (at least ``review_at``), it waits for a steward.
    link_at: float = Field(default=0.99, gt=0.5, lt=1.0)
    review_at: float = Field(default=0.5, gt=0.0, lt=1.0)
    # An incremental link run reuses the model of the last full run (and the decisions
    # nothing has changed under) while the platforms' date is less than this many days
    # after that run's; then the next run is full and estimates the model again.
    link_full_after_days: int = Field(default=7, ge=0)
    # Subsidy rules: the effective-dated policy parameters (default: rules/policy.yaml),
    # and the first day judged (default: the earliest transaction date received).
    policy_file: Path | None = None
    rules_window_start: date | None = None
    # Publishing: how many publications a rollback can return to.
    publish_keep: int = Field(default=5, ge=1)

    @field_validator("requests_per_second", mode="before")
    @classmethod
    def _lifted(cls, v: object) -> object:
        """Empty, ``0`` or ``none`` lift the client-side pacing."""
        if v is None or (isinstance(v, str) and v.strip().lower() in ("", "0", "none", "off")):
            return None
        return v

    @property
    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.home / 'hub.db').resolve()}"

    def ensure_home(self) -> Path:
        self.home.mkdir(parents=True, exist_ok=True)
        return self.home


@lru_cache(maxsize=1)
def get_settings() -> HubSettings:
    return HubSettings()
