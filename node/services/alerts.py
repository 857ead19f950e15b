"""Alerts people can see: the incidents this node holds, listed, acknowledged and resolved.

An incident is raised once (``node.persistence.alerts.raise_alert``: later sightings are counted
on it). Its opening, a reopening and every change of its state go to the ``AlertLog`` port (the
federation signs them into this node's log), so the levels above hold the same incident in the
same state; a mere sighting does not travel, or a mismatch seen every round would flood the log.
Who sees what is ``policy.alert_visible``: the alerts about this node or a node below it.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import select

from node.domain.divisions import subtree_prefix
from node.domain.errors import Conflict, InvalidInput, NotFound
from node.domain.policy import Action, alert_visible, require
from node.persistence.alerts import raise_alert
from node.persistence.models import ALERT_STATES, Alert

from .context import Work

MAX_PAGE = 200


def raise_incident(uow: Work, *, kind: str, origin: str, detail: str, proof: dict[str, Any], subject: str = "",
                   peer: str | None = None) -> Alert:
    """Raise the incident (or count a sighting of it) in ``uow``; when this opened it, or opened it
    again, it is published upward with the change."""
    alert_id = raise_alert(uow.session, uow.now, kind=kind, origin=origin, detail=detail, proof=proof,
                           raised_by=uow.ctx.node_id, subject=subject, peer=peer)
    alert = uow.session.scalars(select(Alert).where(Alert.id == alert_id)
                                .execution_options(populate_existing=True)).one()
    opened = alert.state == "open" and alert.updated_at == uow.now
    if opened and uow.ctx.alert_log is not None:
        uow.ctx.alert_log.publish_alert(uow, alert)
    return alert


def list_alerts(uow: Work, *, kind: str | None = None, state: str | None = None, origin: str | None = None,
                before: int | None = None, limit: int = 50) -> tuple[list[Alert], int | None]:
    """Newest first, ``limit`` at a time; ``before`` is the ``next`` of the previous page (keyset
    paging: stable while new alerts arrive). Returns the page and the next page's ``before``."""
    require(uow.actor, Action.READ_ALERTS)
    if state is not None and state not in ALERT_STATES:
        raise InvalidInput(f"state is one of {', '.join(ALERT_STATES)}", field="state")
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit is 1-{MAX_PAGE}", field="limit")
    q = select(Alert).where(Alert.origin.startswith(subtree_prefix(uow.ctx.node_id)))
    if kind:
        q = q.where(Alert.kind == kind)
    if state:
        q = q.where(Alert.state == state)
    if origin:
        q = q.where(Alert.origin == origin)
    if before is not None:
        q = q.where(Alert.id < before)
    rows = list(uow.session.scalars(q.order_by(Alert.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1].id if more else None)


def _visible(uow: Work, alert_id: int, *, lock: bool = False) -> Alert:
    q = select(Alert).where(Alert.id == alert_id)
    alert = uow.session.scalars(q.with_for_update() if lock else q).one_or_none()
    if alert is None or not alert_visible(uow.ctx.node_id, alert.origin):
        raise NotFound(f"no alert {alert_id} here", field="id")
    return alert


def get_alert(uow: Work, alert_id: int) -> Alert:
    require(uow.actor, Action.READ_ALERTS)
    return _visible(uow, alert_id)


def _change(uow: Work, alert: Alert, state: str, note: str | None) -> Alert:
    alert.state, alert.state_by, alert.updated_at = state, uow.actor.label, uow.now
    if note:
        alert.note = note
    uow.session.flush()
    if uow.ctx.alert_log is not None:
        uow.ctx.alert_log.publish_alert(uow, alert)
    return alert


def acknowledge(uow: Work, alert_id: int, note: str | None = None) -> Alert:
    """Someone is on it: open → acknowledged (a resolved incident is not acknowledged again)."""
    require(uow.actor, Action.HANDLE_ALERT)
    alert = _visible(uow, alert_id, lock=True)
    if alert.state != "open":
        raise Conflict(f"alert {alert_id} is {alert.state}; only an open alert is acknowledged", field="state")
    return _change(uow, alert, "acknowledged", note)


def resolve(uow: Work, alert_id: int, note: str) -> Alert:
    """Dealt with: open or acknowledged → resolved, saying how (the note is required). Seen again,
    it opens again (``raise_alert``)."""
    require(uow.actor, Action.HANDLE_ALERT)
    if not note or not note.strip():
        raise InvalidInput("say how the alert was resolved", field="note")
    alert = _visible(uow, alert_id, lock=True)
    if alert.state == "resolved":
        raise Conflict(f"alert {alert_id} is resolved already", field="state")
    return _change(uow, alert, "resolved", note.strip())


def open_alerts(uow: Work, kind: str, raised_by: str) -> list[Alert]:
    """Open or acknowledged alerts of ``kind`` that ``raised_by`` raised (the health check's signal;
    no policy: the node asks about itself)."""
    return list(uow.session.scalars(select(Alert).where(Alert.kind == kind, Alert.raised_by == raised_by,
                                                        Alert.state != "resolved").order_by(Alert.id)))
