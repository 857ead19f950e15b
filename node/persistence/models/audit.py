"""The per-node hash-chained audit log: its head, its entries and the queue awaiting linking."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, TZDateTime


class AuditHead(Base):
    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))


class AuditEntry(Base):
    """One link of the per-node audit chain: ``hash = sha256(prev_hash_hex || payload)``.

    The payload is stored as the exact bytes hashed, so verification never re-serializes.
    """

    __tablename__ = "audit_log"
    # One row's entries in order: replaying them against the live rows (``audit_replay``) reads
    # the chain table by table, row by row, without sorting it.
    __table_args__ = (Index("ix_audit_log_row", "table_name", "row_key", "seq"),)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(TZDateTime())
    actor: Mapped[str] = mapped_column(String(40))
    table_name: Mapped[str] = mapped_column(String(40))
    row_key: Mapped[str] = mapped_column(String(64))
    op: Mapped[str] = mapped_column(String(10))
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditQueued(Base):
    """An audit entry committed with its change but not yet linked into the chain (PostgreSQL).

    Its payload is ``prefix || seq || suffix`` once the chainer gives it its sequence number
    (``audit.chain_queued``): entries are linked in the order of ``id``, moved to ``audit_log``
    and deleted from here in one transaction."""

    __tablename__ = "audit_queue"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(TZDateTime())
    actor: Mapped[str] = mapped_column(String(40))
    table_name: Mapped[str] = mapped_column(String(40))
    row_key: Mapped[str] = mapped_column(String(64))
    op: Mapped[str] = mapped_column(String(10))
    prefix: Mapped[bytes] = mapped_column(LargeBinary)
    suffix: Mapped[bytes] = mapped_column(LargeBinary)


class AuditAnchor(Base):
    """A chain head a verification found intact (``audit_anchor``): the chain must still hold
    entry ``seq`` with this ``hash`` later, so cutting the chain's last entries off (and setting
    ``audit_head`` back to match) does not pass as intact. A copy of the newest is kept outside
    the database, in the node's data directory."""

    __tablename__ = "audit_heads"
    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))
    verified_at: Mapped[datetime] = mapped_column(TZDateTime())
