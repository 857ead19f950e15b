"""audit_link plans its statements for the queue as it is at each call

PL/pgSQL caches a function's statement plans per connection and, after five calls, may keep a
generic plan made while the queue was near empty: a sequential scan of ``audit_queue`` for the
``DELETE ... WHERE id = ANY(ids)`` and the ``ORDER BY id LIMIT`` read. Once a large unit of work
has queued tens of thousands of entries (the first escalation run over a backlog of open cases)
each batch then scans the whole queue and compares every row with every id of the batch: linking
57,000 entries took 22 s instead of 1.5 s. ``plan_cache_mode = force_custom_plan`` on the
function makes each call plan for the current queue (planning costs well under a millisecond).

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-07 01:40:00
"""
from alembic import op

revision = '0029'
down_revision = '0028'
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('ALTER FUNCTION audit_link(integer) SET plan_cache_mode = force_custom_plan')


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('ALTER FUNCTION audit_link(integer) RESET plan_cache_mode')
