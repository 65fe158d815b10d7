"""The hub's database schema: SQLAlchemy 2 models; changes go through Alembic migrations
(``schemas/migrations``)."""

from schemas.base import Base, metadata
from schemas import landing, staging  # noqa: F401  (register tables on the metadata)

__all__ = ["Base", "metadata", "landing", "staging"]
