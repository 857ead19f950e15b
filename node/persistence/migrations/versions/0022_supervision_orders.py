"""supervision orders and corrections (sup_orders, both sides), complaints, disputes between a joint
case's departments (issue 12 items 3 and 5)

Revision ID: 0022
Revises: 0018
Create Date: 2026-12-02 19:50:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0022'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'sup_orders',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('ref', sa.String(length=40), nullable=False),
        sa.Column('side', sa.String(length=8), nullable=False),
        sa.Column('issuer_node', sa.String(length=6), nullable=False),
        sa.Column('owner_node', sa.String(length=6), nullable=False),
        sa.Column('case_code', sa.String(length=32), nullable=False),
        sa.Column('kind', sa.String(length=10), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('due_days', sa.Integer(), nullable=True),
        sa.Column('due_date', sa.Date(), nullable=True),
        sa.Column('state', sa.String(length=10), nullable=False),
        sa.Column('department_id', sa.Integer(), nullable=True),
        sa.Column('department_code', sa.String(length=32), nullable=True),
        sa.Column('issued_by', sa.String(length=64), nullable=False),
        sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('rounds', sa.Integer(), nullable=False),
        sa.Column('response_text', sa.Text(), nullable=True),
        sa.Column('fix', sa.JSON(), nullable=True),
        sa.Column('responded_by', sa.String(length=64), nullable=True),
        sa.Column('responded_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('decision_note', sa.Text(), nullable=True),
        sa.Column('decided_by', sa.String(length=64), nullable=True),
        sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('order_seq', sa.Integer(), nullable=True),
        sa.Column('case_seq', sa.Integer(), nullable=True),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_sup_orders_department_id_departments')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_sup_orders')),
        sa.UniqueConstraint('side', 'ref', name=op.f('uq_sup_orders_side')),
    )
    op.create_index(op.f('ix_sup_orders_ref'), 'sup_orders', ['ref'])
    op.create_index(op.f('ix_sup_orders_owner_node'), 'sup_orders', ['owner_node'])
    op.create_index(op.f('ix_sup_orders_case_code'), 'sup_orders', ['case_code'])
    op.create_index(op.f('ix_sup_orders_state'), 'sup_orders', ['state'])
    op.create_index(op.f('ix_sup_orders_department_id'), 'sup_orders', ['department_id'])
    op.create_table(
        'complaints',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('case_code', sa.String(length=32), nullable=False),
        sa.Column('department_id', sa.Integer(), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('state', sa.String(length=10), nullable=False),
        sa.Column('finding', sa.String(length=16), nullable=True),
        sa.Column('conclusion', sa.Text(), nullable=True),
        sa.Column('handled_by', sa.String(length=64), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('handling_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('concluded_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_complaints_case_id_cases')),
        sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_complaints_department_id_departments')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_complaints')),
    )
    op.create_index(op.f('ix_complaints_case_id'), 'complaints', ['case_id'])
    op.create_index(op.f('ix_complaints_case_code'), 'complaints', ['case_code'])
    op.create_index(op.f('ix_complaints_department_id'), 'complaints', ['department_id'])
    op.create_index(op.f('ix_complaints_state'), 'complaints', ['state'])
    op.create_table(
        'disputes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('joint_case_id', sa.Integer(), nullable=False),
        sa.Column('joint_code', sa.String(length=32), nullable=False),
        sa.Column('part_no', sa.Integer(), nullable=False),
        sa.Column('department_id', sa.Integer(), nullable=False),
        sa.Column('other_departments', sa.JSON(), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('state', sa.String(length=10), nullable=False),
        sa.Column('raised_by', sa.String(length=64), nullable=False),
        sa.Column('raised_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('decision', sa.Text(), nullable=True),
        sa.Column('decided_by', sa.String(length=64), nullable=True),
        sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['joint_case_id'], ['cases.id'], name=op.f('fk_disputes_joint_case_id_cases')),
        sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_disputes_department_id_departments')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_disputes')),
    )
    op.create_index(op.f('ix_disputes_joint_case_id'), 'disputes', ['joint_case_id'])
    op.create_index(op.f('ix_disputes_joint_code'), 'disputes', ['joint_code'])
    op.create_index(op.f('ix_disputes_state'), 'disputes', ['state'])


def downgrade() -> None:
    op.drop_table('disputes')
    op.drop_table('complaints')
    op.drop_table('sup_orders')
