"""performance assessment (绩效考核, issue 12 item 6): lib_assessment counters per (origin,
department, month), maintained as records are applied; lib_cases.evaluation_score (好差评) from the
signed CaseEvent's field 27. Existing library rows are counted in from lib_cases (their score is
unknown until their next record: NULL).

Revision ID: 0024
Revises: 0022 (the lead rechains)
Create Date: 2026-12-02 20:40:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0024'
down_revision = "0023"
branch_labels = None
depends_on = None

_COUNTERS = ('received', 'concluded', 'early', 'on_time', 'overdue', 'speedup_sum', 'speedup_n',
             'eval_n', 'eval_good', 'eval_sum', 'complaints')


def upgrade() -> None:
    with op.batch_alter_table('lib_cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('evaluation_score', sa.SmallInteger(), nullable=True))
    op.create_table(
        'lib_assessment',
        sa.Column('origin', sa.String(length=6), nullable=False),
        sa.Column('department_code', sa.String(length=32), nullable=False),
        sa.Column('month', sa.String(length=7), nullable=False),
        sa.Column('department_name', sa.String(length=100), nullable=False),
        *[sa.Column(c, sa.BigInteger() if c == 'speedup_sum' else sa.Integer(), nullable=False) for c in _COUNTERS],
        sa.PrimaryKeyConstraint('origin', 'department_code', 'month', name=op.f('pk_lib_assessment')),
    )
    op.create_index(op.f('ix_lib_assessment_month'), 'lib_assessment', ['month'], unique=False)
    # Rows already in the library: count them in (the formulas are the application's own; the
    # national calendar, as federation.library's WORKING_DAYS -- node/ never imports federation/).
    from node.domain.assessment import add_into, contributions
    from node.domain.calendar import WorkingCalendar, shipped_schedules
    WORKING_DAYS = WorkingCalendar(shipped_schedules()).working_days_between
    conn = op.get_bind()
    lc = sa.table('lib_cases', *[sa.column(c) for c in ('origin', 'department_code', 'department_name',
                                                          'accepted_at', 'concluded_at', 'legal_deadline',
                                                          'promised_deadline', 'evaluation_score')])
    acc: dict = {}
    names: dict = {}
    from datetime import date, datetime, timedelta, timezone

    CST = timezone(timedelta(hours=8), "CST")
    for r in conn.execute(sa.select(lc)).mappings():
        row = dict(r)
        for k in ('accepted_at', 'concluded_at'):
            v = row[k]
            if isinstance(v, str):
                v = datetime.fromisoformat(v)
            if v is not None:
                row[k] = (v if v.tzinfo else v.replace(tzinfo=CST)).astimezone(CST)
        for k in ('legal_deadline', 'promised_deadline'):
            if isinstance(row[k], str):
                row[k] = date.fromisoformat(row[k])
        add_into(acc, contributions(row, WORKING_DAYS), 1)
        names[(row['origin'], row['department_code'] or '')] = row['department_name'] or ''
    if acc:
        la = sa.table('lib_assessment', *[sa.column(c) for c in ('origin', 'department_code', 'month',
                                                                  'department_name', *_COUNTERS)])
        conn.execute(la.insert(), [{'origin': o, 'department_code': d, 'month': m,
                                    'department_name': names.get((o, d), ''),
                                    **{c: v.get(c, 0) for c in _COUNTERS}} for (o, d, m), v in acc.items()])


def downgrade() -> None:
    op.drop_index(op.f('ix_lib_assessment_month'), table_name='lib_assessment')
    op.drop_table('lib_assessment')
    with op.batch_alter_table('lib_cases', schema=None) as batch_op:
        batch_op.drop_column('evaluation_score')
