"""integrity findings (issue 12 item 4)

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-02 20:35:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0023'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'integrity_findings',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('key', sa.String(length=160), nullable=False),
        sa.Column('kind', sa.String(length=32), nullable=False),
        sa.Column('subject', sa.String(length=64), nullable=False),
        sa.Column('origin', sa.String(length=6), nullable=False),
        sa.Column('detail', sa.Text(), nullable=False),
        sa.Column('evidence', sa.JSON(), nullable=False),
        sa.Column('raised_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('reviewed_by', sa.String(length=64), nullable=True),
        sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('review_note', sa.Text(), nullable=True),
        sa.Column('head_seq', sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_integrity_findings')),
        sa.UniqueConstraint('key', name=op.f('uq_integrity_findings_key')),
    )
    op.create_index(op.f('ix_integrity_findings_kind'), 'integrity_findings', ['kind'])
    op.create_index(op.f('ix_integrity_findings_origin'), 'integrity_findings', ['origin'])


def downgrade() -> None:
    op.drop_table('integrity_findings')
