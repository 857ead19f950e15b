"""Raising an alert: one row per incident, later sightings counted on it.

The fingerprint (kind, the node it is about, its subject) is the row's unique key, so a mismatch seen
again every round of a sync loop, by two server processes at once, or after a restart adds a
sighting to the incident already raised — one ``INSERT … ON CONFLICT`` on either backend, race-free.
A sighting of a resolved incident opens it again: it has come back.
"""
from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from sqlalchemy import case
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from .models import Alert


def fingerprint(kind: str, origin: str, subject: str) -> str:
    return hashlib.sha256(f"{kind}\0{origin}\0{subject}".encode()).hexdigest()


def raise_alert(session: Session, now: datetime, *, kind: str, origin: str, detail: str, proof: dict[str, Any],
                raised_by: str, subject: str = "", peer: str | None = None) -> int:
    """Raise (or count another sighting of) an alert; returns its id. Runs in the caller's transaction."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    stmt = insert(Alert).values(
        fingerprint=fingerprint(kind, origin, subject), kind=kind, origin=origin, subject=subject[:120],
        detail=detail, proof=proof, peer=peer, raised_by=raised_by, state="open", sightings=1,
        created_at=now, last_seen=now, updated_at=now)
    reopen = Alert.state == "resolved"
    upsert = stmt.on_conflict_do_update(index_elements=[Alert.fingerprint], set_=dict(
        sightings=Alert.sightings + 1, last_seen=now,
        state=case((reopen, "open"), else_=Alert.state),
        updated_at=case((reopen, now), else_=Alert.updated_at),
        state_by=case((reopen, None), else_=Alert.state_by),
    )).returning(Alert.id)
    return int(session.execute(upsert).scalar_one())
