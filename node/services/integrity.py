"""Integrity findings (环节完整性监察) for the inspectors of this node: about its subtree only;
and the periodic whole-log rules, run through the federation's port (``node.ports.IntegrityScanner``)."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from node.domain.divisions import subtree_prefix
from node.domain.errors import InvalidInput, NotFound
from node.domain.integrity import ALL_KINDS
from node.domain.policy import Action, require
from node.persistence.models import IntegrityFinding

from .context import SYSTEM, NodeContext, Work

MAX_PAGE = 200


def list_findings(uow: Work, *, kind: str | None = None, origin: str | None = None, before: int | None = None,
                  limit: int = 50) -> tuple[list[IntegrityFinding], int | None]:
    """Newest first, keyset-paged (``before`` is the previous page's ``next``)."""
    require(uow.actor, Action.READ_INTEGRITY)
    if kind is not None and kind not in ALL_KINDS:
        raise InvalidInput(f"kind is one of {', '.join(sorted(ALL_KINDS))}", field="kind")
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit is 1-{MAX_PAGE}", field="limit")
    q = select(IntegrityFinding).where(IntegrityFinding.origin.startswith(subtree_prefix(uow.ctx.node_id)))
    if kind:
        q = q.where(IntegrityFinding.kind == kind)
    if origin:
        q = q.where(IntegrityFinding.origin == origin)
    if before is not None:
        q = q.where(IntegrityFinding.id < before)
    rows = list(uow.session.scalars(q.order_by(IntegrityFinding.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1].id if more else None)


def review_finding(uow: Work, finding_id: int, note: str) -> IntegrityFinding:
    require(uow.actor, Action.READ_INTEGRITY)
    if not (note or "").strip():
        raise InvalidInput("a note is required", field="note")
    row = uow.session.get(IntegrityFinding, finding_id)
    if row is None or not row.origin.startswith(subtree_prefix(uow.ctx.node_id)):
        raise NotFound(f"no finding {finding_id}")
    row.reviewed_by = uow.actor.label
    row.reviewed_at = uow.now
    row.review_note = note.strip()
    return row


def scan_integrity(uow: Work) -> int:
    """The whole-log rules (log gaps, cases that never moved, children that stopped syncing) in
    this unit of work, with the node's working calendar and settings; returns how many findings
    were new (0 on a node without the federation: it holds no signed records)."""
    port = uow.ctx.integrity
    if port is None:
        return 0
    s = uow.ctx.settings
    return port.scan_logs(uow, uow.calendar(), s.integrity_idle_days, timedelta(seconds=s.integrity_stall_seconds))


def run_integrity_scan(ctx: NodeContext) -> int:
    """The beat task's body: one transaction (a crash writes nothing; findings are raised once,
    so a rerun or a second worker adds nothing)."""
    with ctx.uow(SYSTEM) as uow:
        n = scan_integrity(uow)
        uow.commit()
    return n
