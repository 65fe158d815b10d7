"""The unified elder registry: golden persons, their links to source records, releases,
history, and the stewards' review queue and decisions.

History is kept by *release*: every linking run that publishes gets the next release
number, and each person version and link row is valid from the release that wrote it up
to (not including) the release that replaced it (``valid_to`` null = still current). So
"what did the registry say at release R" is ``valid_from <= R AND (valid_to IS NULL OR
valid_to > R)``, and "on date X" is the last release published before X.

* ``registry_release`` — one per publishing run: number, time, the platforms' as-of date.
* ``person_version`` — a golden record (``content``: fields plus provenance) per person and
  release; a version with ``merged_into`` set says the id now resolves to that person.
* ``person_link`` — which person (or nobody) a person-describing source record is linked
  to, with the confidence and how the link was made.
* ``link_review`` — uncertain matches waiting for a steward, with the score explained.
* ``link_decision`` — a steward's must-link / cannot-link between two source records;
  every later run respects it.
* ``link_run`` — one linking run: full or incremental, counts, the model's parameters, timing.
* ``link_state`` — what the last run decided for each record linked by the model, and
  over which candidates (their signatures): an incremental run reuses the decision of a
  record whose version and candidates are unchanged.
* ``publication`` — what consumers see: each row makes one registry release (and the
  findings judged over it) the published one; the newest row is current. A rollback is a
  new row pointing at an earlier release. ``sources`` says, per platform and resource,
  whether the data behind it is fresh or stale (the platform failed, or quality held its
  latest batch) and since when it is good.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, Float, Index, Integer, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from schemas.base import Base, UTCDateTime
from schemas.landing import BigId

__all__ = ["LinkDecision", "LinkReview", "LinkRun", "LinkState", "PersonLink", "PersonVersion", "Publication", "RegistryRelease"]


class LinkRun(Base):
    __tablename__ = "link_run"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16))  # running, published, failed
    as_of: Mapped[date | None] = mapped_column(Date)
    release: Mapped[int | None] = mapped_column(Integer)
    stats: Mapped[dict | None] = mapped_column(JSON)
    model: Mapped[dict | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    mode: Mapped[str | None] = mapped_column(String(16))  # full, incremental


class RegistryRelease(Base):
    __tablename__ = "registry_release"

    release: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    link_run_id: Mapped[int] = mapped_column(BigId)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime)
    as_of: Mapped[date | None] = mapped_column(Date)
    persons: Mapped[int] = mapped_column(Integer)
    links: Mapped[int] = mapped_column(Integer)


class PersonVersion(Base):
    __tablename__ = "person_version"

    person_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    valid_from: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    valid_to: Mapped[int | None] = mapped_column(Integer)
    merged_into: Mapped[str | None] = mapped_column(String(16))
    id_card_no: Mapped[str | None] = mapped_column(String(18))
    name: Mapped[str | None] = mapped_column(String(64))
    gender: Mapped[str | None] = mapped_column(String(1))
    birth_date: Mapped[date | None] = mapped_column(Date)
    district_code: Mapped[str | None] = mapped_column(String(6))
    status: Mapped[str | None] = mapped_column(String(16))
    death_date: Mapped[date | None] = mapped_column(Date)
    #: jsonb on PostgreSQL: read by path for every person on every judging run, and a
    #: json column is parsed again for each path read (13 paths of 2.3 M records: 45 s)
    content: Mapped[dict | None] = mapped_column(JSON().with_variant(JSONB(), "postgresql"))
    content_hash: Mapped[str | None] = mapped_column(String(32))
    #: what the golden record was built from (its records, their versions, which were
    #: linked confidently): an incremental run does not build it again while this holds
    members_hash: Mapped[str | None] = mapped_column(String(32))

    __table_args__ = (
        Index("ix_person_version_current", "valid_to", "person_id"),
        Index("ix_person_version_id_card_no", "id_card_no"),
    )


class PersonLink(Base):
    __tablename__ = "person_link"

    platform: Mapped[str] = mapped_column(String(32), primary_key=True)
    resource: Mapped[str] = mapped_column(String(48), primary_key=True)
    record_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    valid_from: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    valid_to: Mapped[int | None] = mapped_column(Integer)
    person_id: Mapped[str | None] = mapped_column(String(16))  # null: linked to nobody
    confidence: Mapped[float] = mapped_column(Float)
    method: Mapped[str] = mapped_column(String(16))

    __table_args__ = (
        Index("ix_person_link_person", "person_id", "valid_to"),
        Index("ix_person_link_current", "valid_to"),
        Index("ix_person_link_from", "valid_from"),  # the API's change feed (changed_since)
    )


class LinkState(Base):
    """Per record the model judged (not an anchor, not linked by its ID number): the
    version judged (``batch_id`` of its accepted row), the signature of its candidate
    persons (a hash over each candidate's anchor records and their versions), and the
    decision before the elders-only filter (``person_sig``: the signature of the person it
    joined)."""

    __tablename__ = "link_state"

    platform: Mapped[str] = mapped_column(String(32), primary_key=True)
    resource: Mapped[str] = mapped_column(String(48), primary_key=True)
    record_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    batch_id: Mapped[int] = mapped_column(BigId)
    candidates: Mapped[str] = mapped_column(String(32))
    person_sig: Mapped[str | None] = mapped_column(String(32))
    confidence: Mapped[float] = mapped_column(Float)
    method: Mapped[str] = mapped_column(String(16))


class LinkReview(Base):
    __tablename__ = "link_review"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    link_run_id: Mapped[int] = mapped_column(BigId)
    platform: Mapped[str] = mapped_column(String(32))
    resource: Mapped[str] = mapped_column(String(48))
    record_id: Mapped[str] = mapped_column(String(128))
    person_id: Mapped[str] = mapped_column(String(16))  # the candidate
    other_platform: Mapped[str] = mapped_column(String(32))  # a record of the candidate,
    other_resource: Mapped[str] = mapped_column(String(48))  # the one a decision names
    other_record_id: Mapped[str] = mapped_column(String(128))
    probability: Mapped[float] = mapped_column(Float)
    explanation: Mapped[list | None] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))  # open, decided, obsolete

    __table_args__ = (Index("ix_link_review_status", "status"),)


class LinkDecision(Base):
    __tablename__ = "link_decision"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    platform: Mapped[str] = mapped_column(String(32))
    resource: Mapped[str] = mapped_column(String(48))
    record_id: Mapped[str] = mapped_column(String(128))
    other_platform: Mapped[str] = mapped_column(String(32))
    other_resource: Mapped[str] = mapped_column(String(48))
    other_record_id: Mapped[str] = mapped_column(String(128))
    decision: Mapped[str] = mapped_column(String(16))  # must_link, cannot_link
    steward: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime)
    active: Mapped[bool] = mapped_column(default=True)  # a later decision on the pair replaces it


class Publication(Base):
    __tablename__ = "publication"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    release: Mapped[int] = mapped_column(Integer)
    rule_run_id: Mapped[int | None] = mapped_column(BigId)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(16))  # publish, rollback
    stale: Mapped[bool] = mapped_column(default=False)
    sources: Mapped[dict | None] = mapped_column(JSON)
    note: Mapped[str | None] = mapped_column(Text)
