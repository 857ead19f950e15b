"""integrity findings wired (issue 12 item 4): per child link, when its own log's head last
advanced here and when it last called in (fed_links.head_seq, head_advanced_at, last_seen_at,
for the rule stopped_syncing); lib_cases (status, last_event_at) for the rule never_moved.

Existing child links take their last contact (last_success) as last seen, and their head and
its time from fed_heads (updated_at: written only when a received origin's head advances).

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-03 10:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0025'
down_revision = '0024'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('fed_links', schema=None) as batch_op:
        batch_op.add_column(sa.Column('head_seq', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('head_advanced_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE fed_links SET last_seen_at = last_success WHERE direction = 'child'")
    op.execute("UPDATE fed_links SET "
               "head_seq = (SELECT h.seq FROM fed_heads h WHERE h.origin = fed_links.peer), "
               "head_advanced_at = (SELECT h.updated_at FROM fed_heads h WHERE h.origin = fed_links.peer) "
               "WHERE direction = 'child'")
    op.create_index('ix_lib_cases_idle', 'lib_cases', ['status', 'last_event_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_lib_cases_idle', table_name='lib_cases')
    with op.batch_alter_table('fed_links', schema=None) as batch_op:
        batch_op.drop_column('last_seen_at')
        batch_op.drop_column('head_advanced_at')
        batch_op.drop_column('head_seq')
