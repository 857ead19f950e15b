"""drop ix_case_transitions_case_id: the unique (case_id, seq) index serves every lookup by case

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 03:20:00
"""
from alembic import op


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index('ix_case_transitions_case_id', table_name='case_transitions')


def downgrade() -> None:
    op.create_index('ix_case_transitions_case_id', 'case_transitions', ['case_id'], unique=False)
