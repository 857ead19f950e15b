"""audit_queue: audit entries committed with their change, linked into the chain after the commit

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 05:20:00
"""
import sqlalchemy as sa
from alembic import op


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_queue',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=40), nullable=False),
    sa.Column('table_name', sa.String(length=40), nullable=False),
    sa.Column('row_key', sa.String(length=64), nullable=False),
    sa.Column('op', sa.String(length=10), nullable=False),
    sa.Column('prefix', sa.LargeBinary(), nullable=False),
    sa.Column('suffix', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_queue'))
    )
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(AUDIT_LINK)


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP FUNCTION audit_link(integer)')
    op.drop_table('audit_queue')


# Links up to ``batch`` queued entries into the chain, oldest first, in the caller's transaction:
# the head locked (chainers take turns), each payload completed with its sequence number and
# hashed as sha256(prev_hash_hex || payload) -- exactly as node.persistence.audit does in Python
# for SQLite and as verification recomputes -- then the entries inserted into audit_log and
# deleted from the queue by one statement each, and the head moved. Returns how many it linked.
AUDIT_LINK = """
CREATE FUNCTION audit_link(batch integer) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    h_seq bigint;
    h_hash text;
    q record;
    p bytea;
    ids bigint[] := '{}';
    seqs bigint[] := '{}';
    payloads bytea[] := '{}';
    prevs text[] := '{}';
    hashes text[] := '{}';
BEGIN
    SELECT seq, hash INTO h_seq, h_hash FROM audit_head WHERE id = 1 FOR UPDATE;
    FOR q IN SELECT id, prefix, suffix FROM audit_queue ORDER BY id LIMIT batch LOOP
        h_seq := h_seq + 1;
        p := q.prefix || convert_to(h_seq::text, 'UTF8') || q.suffix;
        ids := ids || q.id;
        seqs := seqs || h_seq;
        payloads := payloads || p;
        prevs := prevs || h_hash;
        h_hash := encode(sha256(convert_to(h_hash, 'UTF8') || p), 'hex');
        hashes := hashes || h_hash;
    END LOOP;
    IF cardinality(ids) = 0 THEN
        RETURN 0;
    END IF;
    WITH taken AS (DELETE FROM audit_queue WHERE id = ANY(ids) RETURNING id, at, actor, table_name, row_key, op)
    INSERT INTO audit_log (seq, at, actor, table_name, row_key, op, payload, prev_hash, hash)
    SELECT x.seq, t.at, t.actor, t.table_name, t.row_key, t.op, x.payload, x.prev, x.hash
    FROM unnest(ids, seqs, payloads, prevs, hashes) AS x(id, seq, payload, prev, hash)
    JOIN taken t ON t.id = x.id;
    UPDATE audit_head SET seq = h_seq, hash = h_hash WHERE id = 1;
    RETURN cardinality(ids);
END
$$
"""
