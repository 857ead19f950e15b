"""Node administration: the working-day calendar and the audit chain."""
from __future__ import annotations

from typing import Any

from node.domain.calendar import parse_calendar_file
from node.domain.policy import Action, require
from node.persistence.audit import VerifyReport, chain_queued, verify_chain
from node.persistence.models import CalendarYear

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


def verify_audit(ctx: NodeContext) -> VerifyReport:
    """Link what is queued (PostgreSQL: entries of commits the linker has not linked yet, or a
    crash left), then walk the whole chain. Maintenance, not a use case: linking runs its own
    transactions (as after any commit) and the walk only reads."""
    chain_queued(ctx.factory)
    with ctx.factory() as s:
        return verify_chain(s)
