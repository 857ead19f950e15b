"""supervision: the library's record history (lib_events: every applied CaseEvent; on PostgreSQL
partitioned by month of the event time, with a default partition here and monthly ones added by the
apply path), the lights kept on lib_cases (light, stage_light, light_changes_on and the clock they
come from), and escalations (each warning / yellow card / red card of an own case's stage once)

Revision ID: 0021
Revises: 0018
Create Date: 2026-12-02 19:50:00
"""
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = '0021'
down_revision = "0022"
branch_labels = None
depends_on = None

def upgrade() -> None:
    pg = op.get_bind().dialect.name == 'postgresql'
    partitioned: dict[str, Any] = {'postgresql_partition_by': 'RANGE (at)'} if pg else {}
    op.create_table(
        'lib_events',
        sa.Column('origin', sa.String(length=6), nullable=False),
        sa.Column('seq', sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('service_code', sa.String(length=32), nullable=False),
        sa.Column('event', sa.String(length=30), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('stage_index', sa.SmallInteger(), nullable=False),
        sa.Column('stage_kind', sa.String(length=20), nullable=False),
        sa.Column('stage_name', sa.String(length=50), nullable=False),
        sa.Column('actor_role', sa.String(length=20), nullable=True),
        sa.Column('item_code', sa.String(length=40), nullable=False),
        sa.Column('department_code', sa.String(length=32), nullable=False),
        sa.Column('channel', sa.String(length=10), nullable=True),
        sa.Column('legal_deadline', sa.Date(), nullable=True),
        sa.Column('promised_deadline', sa.Date(), nullable=True),
        sa.Column('stage_deadline', sa.Date(), nullable=True),
        sa.Column('extension_days', sa.Integer(), nullable=False),
        sa.Column('result', sa.String(length=10), nullable=True),
        sa.Column('joint_code', sa.String(length=32), nullable=True),
        sa.Column('part_no', sa.Integer(), nullable=True),
        sa.Column('record_hash', sa.String(length=64), nullable=False),
        sa.Column('signed_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('origin', 'seq', 'at', name=op.f('pk_lib_events')),
        **partitioned,
    )
    if pg:
        op.execute('CREATE TABLE lib_events_default PARTITION OF lib_events DEFAULT')
    op.create_index('ix_lib_events_service_code', 'lib_events', ['service_code', 'at'])
    op.create_index('ix_lib_events_joint_code', 'lib_events', ['joint_code', 'at'])
    with op.batch_alter_table('lib_cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('stage_index', sa.SmallInteger(), nullable=True))
        batch_op.add_column(sa.Column('stage_started_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('supplement_started_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('paused_days', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('due_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('light', sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column('stage_light', sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column('light_changes_on', sa.Date(), nullable=True))
        batch_op.create_index(batch_op.f('ix_lib_cases_light_changes_on'), ['light_changes_on'], unique=False)
        batch_op.create_index('ix_lib_cases_light_due', ['light', 'due_on', 'service_code'], unique=False)
        batch_op.create_index('ix_lib_cases_stage_light', ['stage_light', 'stage_deadline', 'service_code'],
                              unique=False)
        batch_op.create_index('ix_lib_cases_counts', ['origin', 'stage_kind', 'light'], unique=False)
    op.create_table(
        'escalations',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('stage_index', sa.Integer(), nullable=False),
        sa.Column('level', sa.String(length=10), nullable=False),
        sa.Column('deadline', sa.Date(), nullable=False),
        sa.Column('recipients', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_escalations')),
        sa.UniqueConstraint('case_id', 'stage_index', 'level', name=op.f('uq_escalations_case_id_stage_index_level')),
    )
    op.create_index(op.f('ix_escalations_case_id'), 'escalations', ['case_id'], unique=False)

def downgrade() -> None:
    op.drop_index(op.f('ix_escalations_case_id'), table_name='escalations')
    op.drop_table('escalations')
    with op.batch_alter_table('lib_cases', schema=None) as batch_op:
        batch_op.drop_index('ix_lib_cases_counts')
        batch_op.drop_index('ix_lib_cases_stage_light')
        batch_op.drop_index('ix_lib_cases_light_due')
        batch_op.drop_index(batch_op.f('ix_lib_cases_light_changes_on'))
        for c in ('light_changes_on', 'stage_light', 'light', 'due_on', 'paused_days', 'supplement_started_on',
                  'stage_started_on', 'stage_index'):
            batch_op.drop_column(c)
    op.drop_index('ix_lib_events_joint_code', table_name='lib_events')
    op.drop_index('ix_lib_events_service_code', table_name='lib_events')
    op.drop_table('lib_events')
