"""The hub's database schema: SQLAlchemy 2 models; changes go through Alembic migrations
(``schemas/migrations``)."""

from schemas import landing, quality, staging
from schemas.base import Base, metadata

__all__ = ["Base", "landing", "metadata", "quality", "staging"]
