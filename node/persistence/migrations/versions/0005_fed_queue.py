"""fed_queue: case events committed with their change, sealed into the signed log after the commit

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 05:50:00
"""
import sqlalchemy as sa
from alembic import op


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('fed_queue',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at_ms', sa.BigInteger(), nullable=False),
    sa.Column('event', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fed_queue'))
    )


def downgrade() -> None:
    op.drop_table('fed_queue')
