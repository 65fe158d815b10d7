"""Who may see what: API tokens with their scopes, and the audit log of every read of
personal data.

* ``api_token`` — a token's name, scopes and the SHA-256 of its secret (the secret itself
  is shown once, when created, and never stored).
* ``access_log`` — one row per read of the registry by a token or an export: who, what,
  how many records, and whether personal data was unmasked.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from schemas.base import Base, UTCDateTime
from schemas.landing import BigId

__all__ = ["AccessLog", "ApiToken"]


class ApiToken(Base):
    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class AccessLog(Base):
    __tablename__ = "access_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    principal: Mapped[str] = mapped_column(String(64))  # a token's name, or "cli:<user>"
    action: Mapped[str] = mapped_column(String(64))  # e.g. export:persons
    records: Mapped[int] = mapped_column(Integer)
    unmasked: Mapped[bool] = mapped_column(Boolean)
    detail: Mapped[str | None] = mapped_column(Text)
