"""golden records' content as jsonb on PostgreSQL (read by path on every judging run)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 12:45:00
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite keeps JSON as text either way
    op.alter_column("person_version", "content", type_=postgresql.JSONB(), existing_type=sa.JSON(),
                    postgresql_using="content::jsonb")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.alter_column("person_version", "content", type_=sa.JSON(), existing_type=postgresql.JSONB(),
                    postgresql_using="content::json")
