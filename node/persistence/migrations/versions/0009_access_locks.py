"""access_locks: failed attempts at a secret (lookup ID tail, staff password) and the locks they set

Revision ID: 0009
Revises: 0010
Create Date: 2026-12-02 04:30:00
"""
import sqlalchemy as sa
from alembic import op


revision = '0009'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('access_locks',
    sa.Column('scope', sa.String(length=20), nullable=False),
    sa.Column('key', sa.String(length=128), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('window_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('scope', 'key', name=op.f('pk_access_locks'))
    )
    with op.batch_alter_table('access_locks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_access_locks_locked_until'), ['locked_until'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('access_locks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_access_locks_locked_until'))
    op.drop_table('access_locks')
