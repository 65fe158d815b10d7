"""Landing: every record a platform sent, as sent, plus the accounting of each read.

* ``landing_record`` — one row per distinct version of a record (original payload); a
  version delivered again (overlapping reads, retries, re-sent records) is recognised by
  its content hash and not stored twice.
* ``landing_reject`` — records that cannot be keyed (no record id, no readable update
  time, not a JSON object), kept whole with the reason.
* ``ingest_run`` / ``ingest_batch`` — one batch per (run, platform, resource) with the
  counts that must reconcile: received = landed_new + landed_duplicate + rejected + tombstones.
* ``ingest_watermark`` — the largest update time landed per (platform, resource).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from schemas.base import Base, UTCDateTime

BigId = BigInteger().with_variant(Integer(), "sqlite")


class IngestRun(Base):
    __tablename__ = "ingest_run"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16))  # running, success, partial, failed
    trigger: Mapped[str] = mapped_column(String(32))  # cli, airflow, test
    note: Mapped[str | None] = mapped_column(Text)


class IngestBatch(Base):
    __tablename__ = "ingest_batch"
    __table_args__ = (Index("ix_ingest_batch_source", "platform", "resource", "run_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(BigId, index=True)
    platform: Mapped[str] = mapped_column(String(32))
    resource: Mapped[str] = mapped_column(String(48))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16))  # running, success, failed
    read_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    watermark: Mapped[datetime | None] = mapped_column(UTCDateTime)
    server_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    received: Mapped[int] = mapped_column(BigInteger, default=0)
    landed_new: Mapped[int] = mapped_column(BigInteger, default=0)
    landed_duplicate: Mapped[int] = mapped_column(BigInteger, default=0)
    rejected: Mapped[int] = mapped_column(BigInteger, default=0)
    tombstones: Mapped[int] = mapped_column(BigInteger, default=0)
    pages: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)


class IngestWatermark(Base):
    __tablename__ = "ingest_watermark"

    platform: Mapped[str] = mapped_column(String(32), primary_key=True)
    resource: Mapped[str] = mapped_column(String(48), primary_key=True)
    watermark: Mapped[datetime | None] = mapped_column(UTCDateTime)
    server_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class LandingRecord(Base):
    __tablename__ = "landing_record"
    __table_args__ = (
        # A version is its record id and content hash; its update time (part of the content,
        # so the same for every delivery of it) leads the key because change lists arrive
        # in update-time order: new keys land at the end of the index instead of at random
        # places across it, which at a city's tens of millions of versions is most of the
        # landing's cost under SQLite's one write lock.
        UniqueConstraint("platform", "resource", "updated_at", "record_id", "version_hash",
                         name="uq_landing_version"),
        Index("ix_landing_record_batch", "batch_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    platform: Mapped[str] = mapped_column(String(32))
    resource: Mapped[str] = mapped_column(String(48))
    record_id: Mapped[str] = mapped_column(String(128))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    deleted: Mapped[bool] = mapped_column(Boolean)
    version_hash: Mapped[str] = mapped_column(String(32))
    batch_id: Mapped[int] = mapped_column(BigId)
    payload: Mapped[str] = mapped_column(Text)


class LandingReject(Base):
    __tablename__ = "landing_reject"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    batch_id: Mapped[int] = mapped_column(BigId, index=True)
    platform: Mapped[str] = mapped_column(String(32))
    resource: Mapped[str] = mapped_column(String(48))
    record_id: Mapped[str | None] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(Text)
    payload: Mapped[str] = mapped_column(Text)


class CatalogSnapshot(Base):
    """A property company's published service catalogue as fetched (no price history at
    the source, so the hub keeps every distinct version it saw)."""

    __tablename__ = "catalog_snapshot"
    __table_args__ = (UniqueConstraint("company_credit_code", "version_hash", name="uq_catalog_version"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    company_credit_code: Mapped[str] = mapped_column(String(32))
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime)
    version_hash: Mapped[str] = mapped_column(String(32))
    batch_id: Mapped[int] = mapped_column(BigId)
    payload: Mapped[str] = mapped_column(Text)
