"""Rectification records (整改) opened by low ratings; the department closes them with a note."""
from __future__ import annotations

from sqlalchemy import select

from node.domain.errors import Conflict, InvalidInput, NotFound
from node.domain.policy import Action, require
from node.persistence.models import Case, Rectification

from .context import Work


def list_rectifications(uow: Work, status: str | None = None) -> list[Rectification]:
    """The rectifications the actor's read scope covers (``policy.read_scope``): department staff
    their department's (the tenancy filter on ``Rectification``), an agent only those about its
    service point's cases — the join on ``Case`` brings the case's scope into the query, because
    a rectification row carries the department, not the service point."""
    q = (select(Rectification).join(Case, Case.id == Rectification.case_id)
         .order_by(Rectification.id.desc()))
    if status:
        q = q.where(Rectification.status == status)
    return list(uow.session.scalars(q))


def close_rectification(uow: Work, rect_id: int, note: str) -> Rectification:
    """The row is locked: of two closes at once, one wins and the other gets 409."""
    require(uow.actor, Action.CLOSE_RECTIFICATION)
    if not note.strip():
        raise InvalidInput("say what was done", field="note")
    r = uow.session.scalar(select(Rectification).where(Rectification.id == rect_id).with_for_update()
                           .execution_options(populate_existing=True))
    if r is None:
        raise NotFound(f"no rectification {rect_id} in your department", field="id")
    if r.status != "open":
        raise Conflict("the rectification is closed already", field="id")
    r.status, r.note, r.closed_at = "closed", note, uow.now
    case = uow.session.get(Case, r.case_id)
    if case is not None:  # signed and synced upward: the levels above see the bad rating's rectification
        uow.case_event(case, "rectification_closed", reason=note[:500])
    return r
