"""notification_settings: the hall admin's choice, per message kind, of which applicant SMS the
node sends (``node.services.notifications``); no row: sent.

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-03 14:45:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0028'
down_revision = '0027'
branch_labels = None
depends_on = None

def upgrade() -> None:
    op.create_table(
        'notification_settings',
        sa.Column('template', sa.String(length=40), nullable=False),
        sa.Column('enabled', sa.Boolean(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_by', sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint('template', name=op.f('pk_notification_settings')),
    )

def downgrade() -> None:
    op.drop_table('notification_settings')
