"""The hub's database schema: SQLAlchemy 2 models; changes go through Alembic migrations
(``schemas/migrations``)."""

from schemas import access, findings, landing, quality, registry, staging
from schemas.base import Base, metadata

__all__ = ["Base", "access", "findings", "landing", "metadata", "quality", "registry", "staging"]
