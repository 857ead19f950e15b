"""towns and sub-district offices as units (departments.parent_unit_id), items' prerequisites,
case_prerequisites (前置审批结果验证: what was entered and how it was verified)

Revision ID: 0015
Revises: 0012
Create Date: 2026-12-02 16:30:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('departments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('parent_unit_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_departments_parent_unit_id_departments'), 'departments',
                                    ['parent_unit_id'], ['id'])
        batch_op.create_index(batch_op.f('ix_departments_parent_unit_id'), ['parent_unit_id'], unique=False)
    with op.batch_alter_table('item_versions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('prerequisites', sa.JSON(), nullable=False, server_default='[]'))
    op.create_table('case_prerequisites',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('item_code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('reference', sa.String(length=40), nullable=False),
    sa.Column('valid', sa.Boolean(), nullable=False),
    sa.Column('reason', sa.String(length=20), nullable=True),
    sa.Column('result_item_code', sa.String(length=40), nullable=True),
    sa.Column('result_name', sa.String(length=100), nullable=True),
    sa.Column('valid_from', sa.Date(), nullable=True),
    sa.Column('valid_until', sa.Date(), nullable=True),
    sa.Column('answered_by', sa.String(length=6), nullable=True),
    sa.Column('checked_on', sa.Date(), nullable=True),
    sa.Column('checked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('checked_by', sa.String(length=40), nullable=True),
    sa.Column('entered_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('entered_by', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_prerequisites_case_id_cases')),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'],
                            name=op.f('fk_case_prerequisites_department_id_departments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_prerequisites')),
    sa.UniqueConstraint('case_id', 'position', name=op.f('uq_case_prerequisites_case_id'))
    )


def downgrade() -> None:
    op.drop_table('case_prerequisites')
    with op.batch_alter_table('item_versions', schema=None) as batch_op:
        batch_op.drop_column('prerequisites')
    with op.batch_alter_table('departments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_departments_parent_unit_id'))
        batch_op.drop_constraint(batch_op.f('fk_departments_parent_unit_id_departments'), type_='foreignkey')
        batch_op.drop_column('parent_unit_id')
