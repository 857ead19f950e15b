"""Joint cases (联办件): case_parts, stage_signoffs (联合审图/联合踏勘), cases.joint_case_id,
agent_staff_id and green_channel, item_versions.parts, decision and fields

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 16:20:00
"""
import sqlalchemy as sa
from alembic import op


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('joint_case_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('agent_staff_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('green_channel', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.create_index(batch_op.f('ix_cases_joint_case_id'), ['joint_case_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_cases_joint_case_id_cases'), 'cases', ['joint_case_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_cases_agent_staff_id_staff'), 'staff', ['agent_staff_id'], ['id'])
    with op.batch_alter_table('item_versions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('parts', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('decision', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('fields', sa.JSON(), nullable=True))
    op.create_table('case_parts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('joint_case_id', sa.Integer(), nullable=False),
    sa.Column('part_no', sa.Integer(), nullable=False),
    sa.Column('item_code', sa.String(length=40), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('local_case_id', sa.Integer(), nullable=True),
    sa.Column('remote_node', sa.String(length=12), nullable=True),
    sa.Column('remote_code', sa.String(length=32), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('deadline', sa.Date(), nullable=True),
    sa.Column('result', sa.String(length=10), nullable=True),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_case_parts_department_id_departments')),
    sa.ForeignKeyConstraint(['joint_case_id'], ['cases.id'], name=op.f('fk_case_parts_joint_case_id_cases')),
    sa.ForeignKeyConstraint(['local_case_id'], ['cases.id'], name=op.f('fk_case_parts_local_case_id_cases')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_parts')),
    sa.UniqueConstraint('joint_case_id', 'part_no', name=op.f('uq_case_parts_joint_case_id')),
    sa.UniqueConstraint('local_case_id', name=op.f('uq_case_parts_local_case_id'))
    )
    op.create_table('stage_signoffs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('stage_index', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('opinion', sa.Text(), nullable=False),
    sa.Column('signed_by', sa.Integer(), nullable=False),
    sa.Column('signed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_stage_signoffs_case_id_cases')),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_stage_signoffs_department_id_departments')),
    sa.ForeignKeyConstraint(['signed_by'], ['staff.id'], name=op.f('fk_stage_signoffs_signed_by_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stage_signoffs')),
    sa.UniqueConstraint('case_id', 'stage_index', 'department_id', name=op.f('uq_stage_signoffs_case_id'))
    )
    with op.batch_alter_table('stage_signoffs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stage_signoffs_case_id'), ['case_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('stage_signoffs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stage_signoffs_case_id'))
    op.drop_table('stage_signoffs')
    op.drop_table('case_parts')
    with op.batch_alter_table('item_versions', schema=None) as batch_op:
        batch_op.drop_column('fields')
        batch_op.drop_column('decision')
        batch_op.drop_column('parts')
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_cases_agent_staff_id_staff'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_cases_joint_case_id_cases'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_cases_joint_case_id'))
        batch_op.drop_column('green_channel')
        batch_op.drop_column('agent_staff_id')
        batch_op.drop_column('joint_case_id')
