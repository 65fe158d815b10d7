"""Data quality: validation history, the gate per resource, and the row quarantine.

* ``quality_run`` — one validation of the staged data (usually right after an ingest run).
* ``quality_resource`` — per run and resource: rows checked, promoted, quarantined,
  released, and whether the resource passed, warned or was blocked.
* ``quality_result`` — per run, resource and check: rows checked and failed, the
  threshold and the outcome (``pass``/``warn``/``block``). The validation history that
  the stewards' report draws its trends from.
* ``quality_gate`` — per resource: how far its staging rows have been promoted into the
  registry's inputs (``acc_*`` tables, see ``schemas.staging``), and whether it is blocked.
* ``quality_quarantine`` — one row per (record version, failed check) held back from the
  registry, with the failing value (masked when personal); released, never deleted, when a
  corrected version of the record arrives or the record is withdrawn.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from schemas.base import Base, UTCDateTime
from schemas.landing import BigId


class QualityRun(Base):
    __tablename__ = "quality_run"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ingest_run_id: Mapped[int | None] = mapped_column(BigId)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16))  # running, passed, warned, blocked, failed
    docs_path: Mapped[str | None] = mapped_column(Text)  # the run's GX Data Docs index
    error: Mapped[str | None] = mapped_column(Text)


class QualityResource(Base):
    __tablename__ = "quality_resource"
    __table_args__ = (Index("ix_quality_resource_source", "platform", "resource", "run_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(BigId, index=True)
    platform: Mapped[str] = mapped_column(String(32))
    resource: Mapped[str] = mapped_column(String(48))
    status: Mapped[str] = mapped_column(String(16))  # passed, warned, blocked
    as_of: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the platform's clock
    rows_checked: Mapped[int] = mapped_column(Integer)  # pending versions, tombstones included
    rows_promoted: Mapped[int] = mapped_column(Integer)
    rows_quarantined: Mapped[int] = mapped_column(Integer)  # pending versions held back
    rows_released: Mapped[int] = mapped_column(Integer)
    rows_live: Mapped[int] = mapped_column(Integer)  # not deleted in staging, for the volume check
    reason: Mapped[str | None] = mapped_column(Text)


class QualityResult(Base):
    __tablename__ = "quality_result"
    __table_args__ = (Index("ix_quality_result_source", "platform", "resource", "run_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(BigId, index=True)
    platform: Mapped[str] = mapped_column(String(32))
    resource: Mapped[str] = mapped_column(String(48))
    check_name: Mapped[str] = mapped_column(String(96))
    scope: Mapped[str] = mapped_column(String(8))  # row, table
    severity: Mapped[str] = mapped_column(String(8))  # warn, block
    threshold: Mapped[float] = mapped_column(Float)
    rows_checked: Mapped[int] = mapped_column(Integer)
    rows_failed: Mapped[int] = mapped_column(Integer)
    observed: Mapped[str | None] = mapped_column(Text)
    outcome: Mapped[str] = mapped_column(String(8))  # pass, warn, block


class QualityGate(Base):
    __tablename__ = "quality_gate"

    platform: Mapped[str] = mapped_column(String(32), primary_key=True)
    resource: Mapped[str] = mapped_column(String(48), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))  # open, blocked
    #: staging rows with a batch id up to here have been judged (promoted or held back)
    promoted_batch_id: Mapped[int] = mapped_column(BigId)
    last_run_id: Mapped[int | None] = mapped_column(BigId)
    last_good_run_id: Mapped[int | None] = mapped_column(BigId)
    reason: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class QualityQuarantine(Base):
    __tablename__ = "quality_quarantine"
    __table_args__ = (
        UniqueConstraint("platform", "resource", "record_id", "version_hash", "check_name",
                         name="uq_quarantine_version_check"),
        Index("ix_quarantine_open", "platform", "resource", "released_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    platform: Mapped[str] = mapped_column(String(32))
    resource: Mapped[str] = mapped_column(String(48))
    record_id: Mapped[str] = mapped_column(String(128))
    version_hash: Mapped[str] = mapped_column(String(32))
    check_name: Mapped[str] = mapped_column(String(96))
    value: Mapped[str | None] = mapped_column(Text)  # masked when the column is personal
    run_id: Mapped[int] = mapped_column(BigId)
    quarantined_at: Mapped[datetime] = mapped_column(UTCDateTime)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    released_run_id: Mapped[int | None] = mapped_column(BigId)
    release_reason: Mapped[str | None] = mapped_column(String(32))  # corrected, withdrawn
