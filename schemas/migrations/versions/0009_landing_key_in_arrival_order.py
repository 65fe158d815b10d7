"""landing_record's unique key led by the update time (keys arrive in index order)

A version is identified by its record id and content hash as before; the update time is
part of the content, so adding it in front accepts and refuses exactly the same rows,
while a change list's new keys, which come in update-time order, land at the end of the
index instead of at random places across it.

On SQLite the table is rebuilt (a unique constraint cannot be dropped in place): on a
large database this one-time copy takes minutes.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 06:10:00
"""
import logging

from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")


def upgrade() -> None:
    log.info("landing_record: rebuilding its unique key with the update time first (one-time; minutes "
             "on a large database)")
    if op.get_bind().dialect.name == "sqlite":
        # SQLite keeps times as text, and the key now compares them: the hub's first landing
        # code wrote a whole second as "…:44.000000", the landing since as "…:44" (what
        # ``landing.loader`` binds). One spelling, or a version landed then and delivered
        # again would not be recognised.
        op.execute("UPDATE landing_record SET updated_at = substr(updated_at, 1, 19) "
                   "WHERE length(updated_at) = 26 AND substr(updated_at, 20) = '.000000'")
    with op.batch_alter_table('landing_record', schema=None) as batch_op:
        batch_op.drop_constraint('uq_landing_version', type_='unique')
        batch_op.create_unique_constraint('uq_landing_version',
                                          ['platform', 'resource', 'updated_at', 'record_id', 'version_hash'])


def downgrade() -> None:
    with op.batch_alter_table('landing_record', schema=None) as batch_op:
        batch_op.drop_constraint('uq_landing_version', type_='unique')
        batch_op.create_unique_constraint('uq_landing_version', ['platform', 'resource', 'record_id', 'version_hash'])
