"""Node administration: the working-day calendar and the audit chain."""
from __future__ import annotations

from typing import Any

from node.domain.calendar import parse_calendar_file
from node.domain.lifecycle import Actor
from node.persistence.audit import VerifyReport, verify_chain
from node.persistence.models import CalendarYear

from .context import NodeContext


def import_calendar(ctx: NodeContext, actor: Actor, data: dict[str, Any]) -> list[int]:
    """Load (or replace) years of the holiday schedule; validated in full before anything is written."""
    schedules = parse_calendar_file(data)
    with ctx.uow(actor) as uow:
        for sch in schedules:
            block = data["years"][str(sch.year)]
            row = uow.session.get(CalendarYear, sch.year)
            if row is None:
                uow.session.add(CalendarYear(year=sch.year, data=block, loaded_at=uow.now))
            else:
                row.data, row.loaded_at = block, uow.now
        uow.commit()
    ctx.invalidate_calendar()
    return [s.year for s in schedules]


def verify_audit(ctx: NodeContext) -> VerifyReport:
    with ctx.factory() as s:
        return verify_chain(s)
