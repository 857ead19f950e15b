"""assessment items (事项纳入率, issue 12 item 6): lib_assessment_items counts cases per (origin,
department, month of acceptance, catalog item), and of them the ones received online, maintained
as records are applied. Existing library rows are counted in from lib_cases (their channel as the
row holds it; a row from before the channel column: NULL, not online).

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-04 10:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0026'
down_revision = '0025'
branch_labels = None
depends_on = None

_CHUNK = 5000  # rows per insert executemany


def upgrade() -> None:
    op.create_table(
        'lib_assessment_items',
        sa.Column('origin', sa.String(length=6), nullable=False),
        sa.Column('department_code', sa.String(length=32), nullable=False),
        sa.Column('month', sa.String(length=7), nullable=False),
        sa.Column('item_code', sa.String(length=40), nullable=False),
        sa.Column('received', sa.Integer(), nullable=False),
        sa.Column('online', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('origin', 'department_code', 'month', 'item_code',
                                name=op.f('pk_lib_assessment_items')),
    )
    op.create_index(op.f('ix_lib_assessment_items_month'), 'lib_assessment_items', ['month'], unique=False)
    # Rows already in the library: count them in with the application's own formula (node.domain).
    from datetime import datetime, timedelta, timezone

    from node.domain.assessment import add_into, item_contributions

    CST = timezone(timedelta(hours=8), "CST")
    conn = op.get_bind()
    lc = sa.table('lib_cases', *[sa.column(c) for c in ('origin', 'department_code', 'item_code', 'accepted_at',
                                                          'channel')])
    acc: dict = {}
    for r in conn.execute(sa.select(lc).where(lc.c.accepted_at.isnot(None))).mappings():
        row = dict(r)
        v = row['accepted_at']
        if isinstance(v, str):
            v = datetime.fromisoformat(v)
        row['accepted_at'] = v if v.tzinfo else v.replace(tzinfo=CST)  # SQLite keeps CST without the offset
        add_into(acc, item_contributions(row), 1)
    li = sa.table('lib_assessment_items', *[sa.column(c) for c in ('origin', 'department_code', 'month', 'item_code',
                                                                    'received', 'online')])
    rows = [{'origin': o, 'department_code': d, 'month': m, 'item_code': i,
             'received': v.get('received', 0), 'online': v.get('online', 0)} for (o, d, m, i), v in sorted(acc.items())]
    for k in range(0, len(rows), _CHUNK):
        conn.execute(li.insert(), rows[k:k + _CHUNK])


def downgrade() -> None:
    op.drop_index(op.f('ix_lib_assessment_items_month'), table_name='lib_assessment_items')
    op.drop_table('lib_assessment_items')
