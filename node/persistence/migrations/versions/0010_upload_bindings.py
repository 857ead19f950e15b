"""uploads: who sent each one (quota), upload_bindings (one upload, one application)

Existing uploads referenced by a case are bound to the first case that used them (rows written
before the rule keep their materials; no later case may take them).

Revision ID: 0010
Revises: 0008
Create Date: 2026-12-02 04:30:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('uploads', schema=None) as batch_op:
        batch_op.add_column(sa.Column('uploaded_by', sa.String(length=80), nullable=True))
        batch_op.create_index(batch_op.f('ix_uploads_created_at'), ['created_at'], unique=False)
        batch_op.create_index('ix_uploads_uploaded_by_created_at', ['uploaded_by', 'created_at'], unique=False)
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
        SELECT m.upload_id, min(m.case_id), min(m.added_at) FROM case_materials m GROUP BY m.upload_id
    """)


def downgrade() -> None:
    with op.batch_alter_table('upload_bindings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_upload_bindings_case_id'))
    op.drop_table('upload_bindings')
    with op.batch_alter_table('uploads', schema=None) as batch_op:
        batch_op.drop_index('ix_uploads_uploaded_by_created_at')
        batch_op.drop_index(batch_op.f('ix_uploads_created_at'))
        batch_op.drop_column('uploaded_by')
