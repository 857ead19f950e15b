"""Merkle tree of each origin's log in place of the linear accumulator

fed_records.acc -> fed_records.leaf (sha256(0x00 || body)); fed_heads.acc -> fed_heads.frontier
(the perfect subtrees at the head, largest first); fed_tree holds every perfect subtree of level
>= 1; fed_checkpoints.scheme tells the old accumulator checkpoints ('linear') from tree roots.

The tree of every log already stored is built here, in one pass over its bodies (the only walk
of the log there will ever be): leaves are hashed from the bodies as stored at upgrade time.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 04:40:00
"""
import hashlib

import sqlalchemy as sa
from alembic import op


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

BATCH = 5000


def _leaf(body: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + body).digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _build_trees(bind) -> None:  # type: ignore[no-untyped-def]
    records = sa.table('fed_records', sa.column('origin'), sa.column('seq'), sa.column('body', sa.LargeBinary()),
                       sa.column('leaf'))
    heads = sa.table('fed_heads', sa.column('origin'), sa.column('seq'), sa.column('frontier'))
    tree = sa.table('fed_tree', sa.column('origin'), sa.column('level'), sa.column('idx'), sa.column('hash'))
    for origin, head_seq in bind.execute(sa.select(heads.c.origin, heads.c.seq)).all():
        frontier: list[bytes] = []
        size, last = 0, 0
        while True:
            rows = bind.execute(sa.select(records.c.seq, records.c.body).where(
                records.c.origin == origin, records.c.seq > last).order_by(records.c.seq).limit(BATCH)).all()
            if not rows:
                break
            nodes, leaves = [], []
            for seq, body in rows:
                if seq != size + 1:
                    raise RuntimeError(f"fed_records of {origin} have a hole before #{seq}: restore the log first")
                h = _leaf(bytes(body))
                leaves.append({"o": origin, "s": seq, "l": h.hex()})
                level, index = 0, size
                while size >> level & 1:
                    h = _node(frontier.pop(), h)
                    level += 1
                    index >>= 1
                    nodes.append({"origin": origin, "level": level, "idx": index, "hash": h.hex()})
                frontier.append(h)
                size += 1
            bind.execute(records.update().where(records.c.origin == sa.bindparam("o"), records.c.seq == sa.bindparam("s"))
                         .values(leaf=sa.bindparam("l")), leaves)
            if nodes:
                bind.execute(tree.insert(), nodes)
            last = rows[-1][0]
        if size != head_seq:
            raise RuntimeError(f"fed_heads says {origin} is at #{head_seq}, its records end at #{size}")
        bind.execute(heads.update().where(heads.c.origin == origin).values(frontier=b"".join(frontier).hex()))


def upgrade() -> None:
    op.create_table('fed_tree',
    sa.Column('origin', sa.String(length=6), nullable=False),
    sa.Column('level', sa.SmallInteger(), autoincrement=False, nullable=False),
    sa.Column('idx', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('origin', 'level', 'idx', name=op.f('pk_fed_tree'))
    )
    with op.batch_alter_table('fed_records', schema=None) as batch_op:
        batch_op.add_column(sa.Column('leaf', sa.String(length=64), nullable=True))
    with op.batch_alter_table('fed_heads', schema=None) as batch_op:
        batch_op.add_column(sa.Column('frontier', sa.Text(), nullable=True))
    with op.batch_alter_table('fed_checkpoints', schema=None) as batch_op:
        batch_op.add_column(sa.Column('scheme', sa.String(length=10), nullable=True))
    bind = op.get_bind()
    _build_trees(bind)
    bind.execute(sa.text("UPDATE fed_checkpoints SET scheme = 'linear'"))
    with op.batch_alter_table('fed_records', schema=None) as batch_op:
        batch_op.alter_column('leaf', existing_type=sa.String(length=64), nullable=False)
        batch_op.drop_column('acc')
    with op.batch_alter_table('fed_heads', schema=None) as batch_op:
        batch_op.alter_column('frontier', existing_type=sa.Text(), nullable=False)
        batch_op.drop_column('acc')
    with op.batch_alter_table('fed_checkpoints', schema=None) as batch_op:
        batch_op.alter_column('scheme', existing_type=sa.String(length=10), nullable=False)


def _accumulate(bind) -> None:  # type: ignore[no-untyped-def]
    """The old linear accumulator, recomputed from the bodies (downgrade only)."""
    records = sa.table('fed_records', sa.column('origin'), sa.column('seq'), sa.column('body', sa.LargeBinary()),
                       sa.column('acc'))
    heads = sa.table('fed_heads', sa.column('origin'), sa.column('acc'))
    for (origin,) in bind.execute(sa.select(heads.c.origin)).all():
        acc, last = b"\x00" * 32, 0
        while True:
            rows = bind.execute(sa.select(records.c.seq, records.c.body).where(
                records.c.origin == origin, records.c.seq > last).order_by(records.c.seq).limit(BATCH)).all()
            if not rows:
                break
            params = []
            for seq, body in rows:
                acc = hashlib.sha256(acc + hashlib.sha256(bytes(body)).digest()).digest()
                params.append({"o": origin, "s": seq, "a": acc.hex()})
            bind.execute(records.update().where(records.c.origin == sa.bindparam("o"), records.c.seq == sa.bindparam("s"))
                         .values(acc=sa.bindparam("a")), params)
            last = rows[-1][0]
        bind.execute(heads.update().where(heads.c.origin == origin).values(acc=acc.hex()))


def downgrade() -> None:
    with op.batch_alter_table('fed_records', schema=None) as batch_op:
        batch_op.add_column(sa.Column('acc', sa.String(length=64), nullable=True))
    with op.batch_alter_table('fed_heads', schema=None) as batch_op:
        batch_op.add_column(sa.Column('acc', sa.String(length=64), nullable=True))
    bind = op.get_bind()
    _accumulate(bind)
    bind.execute(sa.text("DELETE FROM fed_checkpoints WHERE scheme <> 'linear'"))
    with op.batch_alter_table('fed_checkpoints', schema=None) as batch_op:
        batch_op.drop_column('scheme')
    with op.batch_alter_table('fed_heads', schema=None) as batch_op:
        batch_op.alter_column('acc', existing_type=sa.String(length=64), nullable=False)
        batch_op.drop_column('frontier')
    with op.batch_alter_table('fed_records', schema=None) as batch_op:
        batch_op.alter_column('acc', existing_type=sa.String(length=64), nullable=False)
        batch_op.drop_column('leaf')
    op.drop_table('fed_tree')
