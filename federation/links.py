"""What a parent notes about each child link as it happens (``fed_links``): when the child last
called in, and when its own log's head last advanced here. ``yiwang federation status`` shows
them; the integrity rule ``stopped_syncing`` compares them (``federation.integrity``)."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from node.persistence.models import FedLink


def _upsert_child(session: Session, peer: str, now: datetime, **values: Any) -> None:
    """Set ``values`` on a child's row, creating it if need be, in one statement (the server's
    contact notes and the apply path may both write it; neither reads it first)."""
    ins = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    stmt = ins(FedLink).values(peer=peer, direction="child", cursors={}, sent=0, failures=0, updated_at=now, **values)
    session.execute(stmt.on_conflict_do_update(index_elements=["peer"], set_={**values, "updated_at": now}))


def note_seen(session: Session, peer: str, now: datetime) -> None:
    """A child called in (any call): ``last_seen_at`` (in the caller's transaction)."""
    _upsert_child(session, peer, now, last_seen_at=now)


def note_head_advanced(session: Session, peer: str, seq: int, now: datetime) -> None:
    """The child's own log advanced here to ``seq``, in the transaction that stores those records."""
    _upsert_child(session, peer, now, head_seq=seq, head_advanced_at=now)
