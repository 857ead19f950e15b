"""Rectification records (整改) opened by low ratings; the department closes them with a note."""
from __future__ import annotations

from sqlalchemy import select

from node.domain.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from node.domain.lifecycle import Actor
from node.domain.roles import Role
from node.persistence.models import Rectification

from .context import NodeContext


def list_rectifications(ctx: NodeContext, actor: Actor, status: str | None = None) -> list[Rectification]:
    with ctx.uow(actor) as uow:
        q = select(Rectification).order_by(Rectification.id.desc())
        if status:
            q = q.where(Rectification.status == status)
        return list(uow.session.scalars(q))


def close_rectification(ctx: NodeContext, actor: Actor, rect_id: int, note: str) -> Rectification:
    if actor.role not in (Role.CHIEF, Role.ADMIN):
        raise PermissionDenied("the chief representative closes rectifications", field="role")
    if not note.strip():
        raise InvalidInput("say what was done", field="note")
    with ctx.uow(actor) as uow:
        r = uow.session.scalar(select(Rectification).where(Rectification.id == rect_id))
        if r is None:
            raise NotFound(f"no rectification {rect_id} in your department", field="id")
        if r.status != "open":
            raise Conflict("the rectification is closed already", field="id")
        r.status, r.note, r.closed_at = "closed", note, uow.now
        uow.commit()
        return r
