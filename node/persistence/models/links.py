"""The state of this node's federation links, kept where another process can read it."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, TZDateTime


class FedLink(Base):
    """One row per link: the uplink to the parent (``direction`` 'parent', written by the uplink
    each round) and each child that called in ('child', written by the server when it is
    contacted). ``yiwang federation status`` reads them from another process than the one that
    serves the links. ``cursors`` is the parent's position per origin as last acknowledged.

    A child's row also says when its own log's head last advanced here (``head_seq``,
    ``head_advanced_at``: written with the batch that moved it) and when it last called in
    (``last_seen_at``: any call, at most every few seconds) -- the integrity rule
    ``stopped_syncing`` compares them (migration 0025)."""

    __tablename__ = "fed_links"
    peer: Mapped[str] = mapped_column(String(6), primary_key=True)
    direction: Mapped[str] = mapped_column(String(6))
    address: Mapped[str | None] = mapped_column(String(200))
    last_attempt: Mapped[datetime | None] = mapped_column(TZDateTime())
    last_success: Mapped[datetime | None] = mapped_column(TZDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    blocking: Mapped[str | None] = mapped_column(Text)
    cursors: Mapped[dict[str, Any]] = mapped_column(JSON)
    sent: Mapped[int] = mapped_column(BigInteger)
    failures: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(TZDateTime())
    head_seq: Mapped[int | None] = mapped_column(BigInteger)
    head_advanced_at: Mapped[datetime | None] = mapped_column(TZDateTime())
    last_seen_at: Mapped[datetime | None] = mapped_column(TZDateTime())
