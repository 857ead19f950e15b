"""Addressed records (``docs/linked-approval.md`` section 1): the arrival index a parent serves its
children from, what this node sent and received, and where its pull from the parent stands."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, TZDateTime


class FedDown(Base):
    """An addressed record stored here (``fed_records``) whose destination is strictly below this
    node and that the child towards it does not hold already: what that child pulls
    (``PullAddressed``), in ``id`` order."""

    __tablename__ = "fed_down"
    __table_args__ = (UniqueConstraint("origin", "seq"),)
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    dest: Mapped[str] = mapped_column(String(6), index=True)
    origin: Mapped[str] = mapped_column(String(6))
    seq: Mapped[int] = mapped_column(BigInteger)
    stored_at: Mapped[datetime] = mapped_column(TZDateTime())


class FedAddressed(Base):
    """One addressed record this node sent (``direction`` 'out': state sent -> acked | refused, from
    the destination's ack) or that was addressed to it ('in': applied | refused, written once by
    (origin, seq) in the unit of work that applied it)."""

    __tablename__ = "fed_addressed"
    origin: Mapped[str] = mapped_column(String(6), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    direction: Mapped[str] = mapped_column(String(3))
    dest: Mapped[str] = mapped_column(String(6), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(String(64))
    reply_to_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    state: Mapped[str] = mapped_column(String(10), index=True)
    code: Mapped[str | None] = mapped_column(String(40))
    detail: Mapped[str | None] = mapped_column(Text)
    ack_seq: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(TZDateTime())
    settled_at: Mapped[datetime | None] = mapped_column(TZDateTime())


class FedDownCursor(Base):
    """Where this node's pull of addressed records from its parent stands (the parent's last
    arrival id applied here), advanced in the unit of work that applied them."""

    __tablename__ = "fed_down_cursors"
    peer: Mapped[str] = mapped_column(String(6), primary_key=True)
    after_id: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(20), default="ok")  # ok | parent_too_old (no PullAddressed)
    updated_at: Mapped[datetime] = mapped_column(TZDateTime())
