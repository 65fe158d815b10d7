"""incremental linking: the state of the last run's model decisions, and what each golden
record was built from

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 05:20:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('link_state',
    sa.Column('platform', sa.String(length=32), nullable=False),
    sa.Column('resource', sa.String(length=48), nullable=False),
    sa.Column('record_id', sa.String(length=128), nullable=False),
    sa.Column('batch_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('candidates', sa.String(length=32), nullable=False),
    sa.Column('person_sig', sa.String(length=32), nullable=True),
    sa.Column('confidence', sa.Float(), nullable=False),
    sa.Column('method', sa.String(length=16), nullable=False),
    sa.PrimaryKeyConstraint('platform', 'resource', 'record_id', name=op.f('pk_link_state'))
    )
    with op.batch_alter_table('person_version', schema=None) as batch_op:
        batch_op.add_column(sa.Column('members_hash', sa.String(length=32), nullable=True))
    with op.batch_alter_table('link_run', schema=None) as batch_op:
        batch_op.add_column(sa.Column('mode', sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('link_run', schema=None) as batch_op:
        batch_op.drop_column('mode')
    with op.batch_alter_table('person_version', schema=None) as batch_op:
        batch_op.drop_column('members_hash')
    op.drop_table('link_state')
