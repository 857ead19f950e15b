"""the shared library's case rows carry the channel (online, window, agent) and the joint case a part
belongs to (joint_code, part_no), from the signed CaseEvent; rows applied before stay NULL until their
case's next record

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02 18:30:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('lib_cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('channel', sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column('joint_code', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('part_no', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_lib_cases_joint_code'), ['joint_code'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('lib_cases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lib_cases_joint_code'))
        batch_op.drop_column('part_no')
        batch_op.drop_column('joint_code')
        batch_op.drop_column('channel')
