"""supervision counts kept as records apply: lib_counts holds the library's cases per (origin,
stage kind, light), moved by ``federation.library.apply_records`` and
``node.services.supervision.refresh_lights`` in their transactions, so the province-wide counts
(``GET /api/v1/supervision/counts`` without a channel or department filter) read O(groups) rows
instead of every case. Existing library rows are counted in.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-03 06:40:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0027'
down_revision = '0026'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'lib_counts',
        sa.Column('origin', sa.String(length=6), nullable=False),
        sa.Column('stage_kind', sa.String(length=20), nullable=False),
        sa.Column('light', sa.String(length=8), nullable=False),
        sa.Column('n', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('origin', 'stage_kind', 'light', name=op.f('pk_lib_counts')),
    )
    op.execute("INSERT INTO lib_counts (origin, stage_kind, light, n) "
               "SELECT origin, coalesce(stage_kind, ''), light, count(*) FROM lib_cases WHERE light IS NOT NULL "
               "GROUP BY origin, coalesce(stage_kind, ''), light")


def downgrade() -> None:
    op.drop_table('lib_counts')
