"""the API's change feed: person links by the release they began in

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 22:30:00
"""
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('person_link', schema=None) as batch_op:
        batch_op.create_index('ix_person_link_from', ['valid_from'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('person_link', schema=None) as batch_op:
        batch_op.drop_index('ix_person_link_from')
