"""Node administration: the working-day calendar and the audit chain."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from node.domain.calendar import parse_calendar_file
from node.domain.policy import Action, require
from node.persistence.audit import chain_queued, verify_chain
from node.persistence.audit_anchor import check_anchors, record_anchor
from node.persistence.audit_replay import RowDifference, replay_rows, snapshot
from node.persistence.models import AuditHead, CalendarYear
from node.persistence.uow import SYSTEM

from .alerts import raise_incident
from .context import NodeContext, Work


def import_calendar(uow: Work, data: dict[str, Any]) -> list[int]:
    """Load (or replace) years of the holiday schedule; validated in full before anything is
    written. The node's calendar is reloaded once the unit of work has committed."""
    require(uow.actor, Action.IMPORT_CALENDAR)
    schedules = parse_calendar_file(data)
    for sch in schedules:
        block = data["years"][str(sch.year)]
        row = uow.session.get(CalendarYear, sch.year)
        if row is None:
            uow.session.add(CalendarYear(year=sch.year, data=block, loaded_at=uow.now))
        else:
            row.data, row.loaded_at = block, uow.now
    uow.after_commit(uow.ctx.invalidate_calendar)
    return [s.year for s in schedules]


@dataclass
class AuditVerification:
    """What ``verify_audit`` found: the chain walk (``entries``, ``first_bad_seq``, ``problem``),
    the live rows replayed against it (``differences``, ``more_differences`` beyond those kept)
    and the anchors of earlier verifications the chain no longer holds."""

    entries: int
    chain_ok: bool
    first_bad_seq: int | None = None
    problem: str | None = None
    rows: int = 0
    differences: list[RowDifference] = field(default_factory=list)
    more_differences: int = 0
    anchor_problems: list[str] = field(default_factory=list)
    head_seq: int = 0
    head_hash: str = ""
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.chain_ok and not self.differences and not self.anchor_problems

    def lines(self) -> list[str]:
        """Every problem, one line each (what ``yiwang audit verify`` prints)."""
        out = [] if self.chain_ok else [f"chain broken at entry {self.first_bad_seq}: {self.problem}"]
        out += self.anchor_problems
        out += [d.describe() for d in self.differences]
        if self.more_differences:
            out.append(f"... and {self.more_differences} more differences")
        return out

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "entries": self.entries, "rows": self.rows, "first_bad_seq": self.first_bad_seq,
                "problem": self.problem, "anchor_problems": self.anchor_problems,
                "differences": [d.as_dict() for d in self.differences], "more_differences": self.more_differences,
                "seconds": round(self.seconds, 3)}


def verify_audit(ctx: NodeContext, limit: int = 1000) -> AuditVerification:
    """Link what is queued (PostgreSQL: entries of commits the linker has not linked yet, or a
    crash left), then, in one snapshot of the database: walk the whole chain, check the anchors
    earlier verifications left, and replay the chain against the live rows. An intact result is
    kept as the next anchor. Maintenance, not a use case: linking and the anchor run their own
    transactions (as after any commit) and the checks only read."""
    started = time.monotonic()
    chain_queued(ctx.factory)
    data_dir = ctx.settings.data_dir
    with snapshot(ctx.engine) as conn:
        with Session(bind=conn) as s:
            chain = verify_chain(s)
            head = s.get(AuditHead, 1)
        r = AuditVerification(chain.entries, chain.ok, chain.first_bad_seq, chain.problem,
                              head_seq=head.seq if head else 0, head_hash=head.hash if head else "")
        r.anchor_problems = check_anchors(conn, data_dir)
        rows = replay_rows(conn, limit)
    r.rows, r.differences, r.more_differences = rows.rows, rows.differences, rows.more
    if r.chain_ok and (r.differences or r.anchor_problems):
        r.problem = f"{len(r.differences) + r.more_differences} row differences, {len(r.anchor_problems)} anchor problems"
    if r.ok:
        with ctx.factory() as s:
            record_anchor(s, data_dir, r.head_seq, r.head_hash, ctx.clock())
            s.commit()
    r.seconds = time.monotonic() - started
    return r


def watch_audit(ctx: NodeContext) -> AuditVerification:
    """The periodic check (beat): verify, and raise an ``audit_mismatch`` alert for each broken
    thing -- one per row (``table:key``), one for the chain, one per anchor -- so a row seen again
    on the next round counts a sighting on its incident instead of opening another (and, opened,
    travels upward with this node's signed log like any incident: ``alerts.raise_incident``)."""
    r = verify_audit(ctx)
    if r.ok:
        return r
    node = ctx.node_id
    incidents: dict[str, tuple[list[str], list[dict[str, Any]]]] = {}
    if not r.chain_ok:
        incidents[f"audit_log:{r.first_bad_seq}"] = ([r.problem or ""], [{"first_bad_seq": r.first_bad_seq}])
    for p in r.anchor_problems:
        incidents.setdefault("audit_log:anchor", ([], []))[0].append(p)
    for d in r.differences:
        lines, proof = incidents.setdefault(d.subject, ([], []))
        lines.append(d.describe())
        proof.append(d.as_dict())
    with ctx.uow(SYSTEM) as uow:
        for subject, (lines, proof) in incidents.items():
            raise_incident(uow, kind="audit_mismatch", origin=node, detail="\n".join(lines)[:4000],
                           proof={"differences": proof[:50]}, subject=subject)
        uow.commit()
    return r
