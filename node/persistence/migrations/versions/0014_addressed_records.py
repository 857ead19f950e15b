"""addressed records: fed_down (a parent's arrival index of records addressed below it), fed_addressed
(what this node sent and received, and their state), fed_down_cursors (this node's pull from its parent)

Revision ID: 0014
Revises: 0012
Create Date: 2026-12-02 16:30:00
"""
import sqlalchemy as sa
from alembic import op


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('fed_down',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('dest', sa.String(length=6), nullable=False),
    sa.Column('origin', sa.String(length=6), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('stored_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fed_down')),
    sa.UniqueConstraint('origin', 'seq', name=op.f('uq_fed_down_origin'))
    )
    op.create_index(op.f('ix_fed_down_dest'), 'fed_down', ['dest'], unique=False)
    op.create_table('fed_addressed',
    sa.Column('origin', sa.String(length=6), nullable=False),
    sa.Column('seq', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('direction', sa.String(length=3), nullable=False),
    sa.Column('dest', sa.String(length=6), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('subject', sa.String(length=64), nullable=False),
    sa.Column('reply_to_seq', sa.BigInteger(), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=True),
    sa.Column('detail', sa.Text(), nullable=True),
    sa.Column('ack_seq', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('settled_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('origin', 'seq', name=op.f('pk_fed_addressed'))
    )
    op.create_index(op.f('ix_fed_addressed_dest'), 'fed_addressed', ['dest'], unique=False)
    op.create_index(op.f('ix_fed_addressed_state'), 'fed_addressed', ['state'], unique=False)
    op.create_table('fed_down_cursors',
    sa.Column('peer', sa.String(length=6), nullable=False),
    sa.Column('after_id', sa.BigInteger(), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('peer', name=op.f('pk_fed_down_cursors'))
    )


def downgrade() -> None:
    op.drop_table('fed_down_cursors')
    op.drop_index(op.f('ix_fed_addressed_state'), table_name='fed_addressed')
    op.drop_index(op.f('ix_fed_addressed_dest'), table_name='fed_addressed')
    op.drop_table('fed_addressed')
    op.drop_index(op.f('ix_fed_down_dest'), table_name='fed_down')
    op.drop_table('fed_down')
