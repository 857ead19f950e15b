"""case_materials.binds replaces upload_bindings (one upload, one application)

The binding of an upload to the one case that uses it becomes a flag on that case's first
material row naming the upload, held by a partial unique index (one binding row per upload):
a new case no longer writes (and audits) a second row per material. The bindings kept so far
carry over exactly: each binding's case marks its first row naming the upload; rows written
before the rule that named an upload another case had used first (migration 0010 kept them)
stay, without binding it. The downgrade rebuilds upload_bindings from the flags.

Revision ID: 0016
Revises: 0012
Create Date: 2026-12-02 16:40:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('case_materials', schema=None) as batch_op:
        batch_op.add_column(sa.Column('binds', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.execute("""
        UPDATE case_materials SET binds = true WHERE id IN (
            SELECT min(m.id) FROM case_materials m
            JOIN upload_bindings b ON b.upload_id = m.upload_id AND b.case_id = m.case_id
            GROUP BY m.upload_id)
    """)
    op.create_index('uq_case_materials_bound_upload', 'case_materials', ['upload_id'], unique=True,
                    sqlite_where=sa.text('binds'), postgresql_where=sa.text('binds'))
    with op.batch_alter_table('upload_bindings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_upload_bindings_case_id'))
    op.drop_table('upload_bindings')


def downgrade() -> None:
    op.create_table('upload_bindings',
    sa.Column('upload_id', sa.String(length=32), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('bound_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_upload_bindings_case_id_cases')),
    sa.ForeignKeyConstraint(['upload_id'], ['uploads.id'], name=op.f('fk_upload_bindings_upload_id_uploads')),
    sa.PrimaryKeyConstraint('upload_id', name=op.f('pk_upload_bindings'))
    )
    with op.batch_alter_table('upload_bindings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_upload_bindings_case_id'), ['case_id'], unique=False)
    op.execute("""
        INSERT INTO upload_bindings (upload_id, case_id, bound_at)
        SELECT m.upload_id, m.case_id, m.added_at FROM case_materials m WHERE m.binds
    """)
    op.drop_index('uq_case_materials_bound_upload', table_name='case_materials')
    with op.batch_alter_table('case_materials', schema=None) as batch_op:
        batch_op.drop_column('binds')
