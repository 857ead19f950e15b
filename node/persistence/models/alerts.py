"""Alerts: an incident raised once (later sightings counted on it), with its evidence and a state."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, TZDateTime

ALERT_STATES = ("open", "acknowledged", "resolved")


class Alert(Base):
    """Evidence that something is wrong: a fork, an inconsistent checkpoint, a record about another
    node's case, rows edited behind the audit log ... One row per incident: ``fingerprint`` (a hash
    of kind, node and subject) is unique, so seeing the same thing again counts a sighting instead of
    writing a new row. ``origin`` is the node the alert is about, ``raised_by`` the node that saw it
    (alerts travel upward), ``peer`` the link it came over, ``subject`` what it names (a record
    ``origin#seq``, a case code, a table row)."""

    __tablename__ = "alerts"
    id: Mapped[int] = mapped_column(primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(30), index=True)
    origin: Mapped[str] = mapped_column(String(6), index=True)
    subject: Mapped[str] = mapped_column(String(120))
    detail: Mapped[str] = mapped_column(Text)
    proof: Mapped[dict[str, Any]] = mapped_column(JSON)
    peer: Mapped[str | None] = mapped_column(String(6))
    raised_by: Mapped[str] = mapped_column(String(6))
    state: Mapped[str] = mapped_column(String(12), index=True)
    sightings: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(TZDateTime())  # first seen
    last_seen: Mapped[datetime] = mapped_column(TZDateTime())
    updated_at: Mapped[datetime] = mapped_column(TZDateTime())  # last change of state
    state_by: Mapped[str | None] = mapped_column(String(60))
    note: Mapped[str | None] = mapped_column(Text)
