"""the shared library's case rows carry the village service point a case was submitted through
(lib_cases.service_point, the unit code from the signed CaseEvent's field 32); rows applied before,
and records from a node one version behind, stay NULL

Revision ID: 0020
Revises: 0018
Create Date: 2026-12-02 19:45:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0020'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('lib_cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('service_point', sa.String(length=32), nullable=True))
        batch_op.create_index(batch_op.f('ix_lib_cases_service_point'), ['service_point'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('lib_cases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lib_cases_service_point'))
        batch_op.drop_column('service_point')
