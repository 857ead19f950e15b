"""linked parts (市区两级联动): cases.linked_from (a case worked here for another node's joint case:
origin:joint_code:part, unique) and, on case_parts, the remote part's dispatch record (dispatch_seq in this
node's log), the last progress record applied (remote_seq) and what the owner reported (remote_info)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02 17:20:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('linked_from', sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f('ix_cases_linked_from'), ['linked_from'], unique=True)
    with op.batch_alter_table('case_parts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('dispatch_seq', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('remote_seq', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('remote_info', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('case_parts', schema=None) as batch_op:
        batch_op.drop_column('remote_info')
        batch_op.drop_column('remote_seq')
        batch_op.drop_column('dispatch_seq')
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cases_linked_from'))
        batch_op.drop_column('linked_from')
