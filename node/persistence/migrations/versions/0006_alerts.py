"""alerts: one row per incident (fingerprint unique, sightings counted, a state) in place of fed_alerts

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 04:20:00
"""
import hashlib

import sqlalchemy as sa
from alembic import op


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('alerts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('origin', sa.String(length=6), nullable=False),
    sa.Column('subject', sa.String(length=120), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('proof', sa.JSON(), nullable=False),
    sa.Column('peer', sa.String(length=6), nullable=True),
    sa.Column('raised_by', sa.String(length=6), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('sightings', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('state_by', sa.String(length=60), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alerts')),
    sa.UniqueConstraint('fingerprint', name=op.f('uq_alerts_fingerprint'))
    )
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alerts_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_alerts_origin'), ['origin'], unique=False)
        batch_op.create_index(batch_op.f('ix_alerts_state'), ['state'], unique=False)

    # The old table wrote one row per sighting: keep each as an open alert of its own (they cannot
    # be told apart after the fact), raised by whoever holds this database.
    bind = op.get_bind()
    old = sa.table('fed_alerts', sa.column('id'), sa.column('origin'), sa.column('kind'), sa.column('detail'),
                   sa.column('proof', sa.JSON()), sa.column('peer'), sa.column('created_at'))
    new = sa.table('alerts', *(sa.column(c) for c in (
        'fingerprint', 'kind', 'origin', 'subject', 'detail', 'peer', 'raised_by', 'state', 'sightings',
        'created_at', 'last_seen', 'updated_at')), sa.column('proof', sa.JSON()))
    rows = bind.execute(sa.select(old)).mappings().all()
    if rows:
        bind.execute(new.insert(), [dict(
            fingerprint=hashlib.sha256(f"legacy\0{r['id']}".encode()).hexdigest(), kind=r['kind'],
            origin=r['origin'], subject='', detail=r['detail'], proof=r['proof'], peer=r['peer'],
            raised_by=r['peer'] or r['origin'], state='open', sightings=1, created_at=r['created_at'],
            last_seen=r['created_at'], updated_at=r['created_at']) for r in rows])
    with op.batch_alter_table('fed_alerts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_fed_alerts_origin'))
    op.drop_table('fed_alerts')


def downgrade() -> None:
    op.create_table('fed_alerts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('origin', sa.String(length=6), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('proof', sa.JSON(), nullable=False),
    sa.Column('peer', sa.String(length=6), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fed_alerts'))
    )
    with op.batch_alter_table('fed_alerts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_fed_alerts_origin'), ['origin'], unique=False)
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alerts_state'))
        batch_op.drop_index(batch_op.f('ix_alerts_origin'))
        batch_op.drop_index(batch_op.f('ix_alerts_kind'))
    op.drop_table('alerts')
