"""fed_links: the state of each federation link (uplink cursors, last success, what blocks it; children's last contact)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 05:00:00
"""
import sqlalchemy as sa
from alembic import op


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('fed_links',
    sa.Column('peer', sa.String(length=6), nullable=False),
    sa.Column('direction', sa.String(length=6), nullable=False),
    sa.Column('address', sa.String(length=200), nullable=True),
    sa.Column('last_attempt', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_success', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('blocking', sa.Text(), nullable=True),
    sa.Column('cursors', sa.JSON(), nullable=False),
    sa.Column('sent', sa.BigInteger(), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('peer', name=op.f('pk_fed_links'))
    )


def downgrade() -> None:
    op.drop_table('fed_links')
