"""Time-limit rules (``node.domain.deadlines``), asked directly on the shipped 2026 calendar."""
from __future__ import annotations

from datetime import date

import pytest

from node.domain import deadlines
from node.domain.calendar import WorkingCalendar, shipped_schedules
from node.domain.items import StageDef, StageKind
from node.domain.lifecycle import CaseState, Decision, Event, Status
from node.domain.roles import Role

pytestmark = pytest.mark.unit
CAL = WorkingCalendar(shipped_schedules())
STAGES = [StageDef(StageKind.ACCEPT, "受理", 1, Role.CLERK), StageDef(StageKind.UNDERTAKE, "承办", 2, Role.HANDLER),
          StageDef(StageKind.REVIEW, "审核", 1, Role.REVIEWER), StageDef(StageKind.CONCLUDE, "办结", 1, Role.CLERK)]


def decision(event: Event, before: CaseState, after: CaseState) -> Decision:
    entered = STAGES[after.stage_index] if after.status == Status.IN_PROGRESS and after.stage_index is not None else None
    return Decision(before, after, event, entered, None, after.status == Status.SUPPLEMENTING,
                    before.status == Status.SUPPLEMENTING)


def test_acceptance_starts_the_legal_promised_and_stage_limits_in_working_days():
    c = deadlines.Clock()
    mon = date(2026, 3, 2)
    deadlines.after_decision(c, decision(Event.ACCEPT, CaseState(Status.SUBMITTED), CaseState(Status.IN_PROGRESS, 1)),
                             mon, CAL, legal_days=20, promised_days=5)
    assert c.accepted_on == mon
    assert c.promised_deadline == date(2026, 3, 9)  # 5 working days: the weekend does not count
    assert c.legal_deadline == CAL.add_working_days(mon, 20)
    assert c.stage_started_on == mon and c.stage_deadline == date(2026, 3, 4)  # undertake: 2 working days


def test_a_supplement_stops_every_running_clock_and_resuming_moves_them_by_the_days_stopped():
    c = deadlines.Clock(accepted_on=date(2026, 3, 2), legal_deadline=date(2026, 3, 30),
                        promised_deadline=date(2026, 3, 9), stage_started_on=date(2026, 3, 2),
                        stage_deadline=date(2026, 3, 4))
    in_stage = CaseState(Status.IN_PROGRESS, 1)
    waiting = CaseState(Status.SUPPLEMENTING, None, Status.IN_PROGRESS, 1)
    deadlines.after_decision(c, decision(Event.REQUEST_SUPPLEMENT, in_stage, waiting), date(2026, 3, 3), CAL, 20, 5)
    assert c.supplement_started_on == date(2026, 3, 3)
    deadlines.after_decision(c, decision(Event.SUPPLY, waiting, in_stage), date(2026, 3, 6), CAL, 20, 5)
    assert c.paused_days == 3 and c.supplement_started_on is None
    assert c.promised_deadline == date(2026, 3, 12) and c.stage_deadline == date(2026, 3, 9)
    assert c.stage_started_on == date(2026, 3, 2)  # resuming returns to the same stage: its limit is not restarted


def test_an_extension_moves_running_deadlines_and_an_ended_case_has_no_stage_deadline():
    c = deadlines.Clock(promised_deadline=date(2026, 3, 9), stage_deadline=date(2026, 3, 4))
    deadlines.extended(c, 2, CAL)
    assert (c.promised_deadline, c.stage_deadline, c.legal_deadline, c.extended_days) == \
        (date(2026, 3, 11), date(2026, 3, 6), None, 2)
    deadlines.after_decision(c, decision(Event.WITHDRAW, CaseState(Status.IN_PROGRESS, 1),
                                         CaseState(Status.WITHDRAWN)), date(2026, 3, 5), CAL, 20, 5)
    assert c.stage_deadline is None and c.promised_deadline == date(2026, 3, 11)


def test_a_joint_case_takes_as_long_as_its_longest_part_not_the_sum():
    parts = [date(2026, 3, 9), date(2026, 3, 20), None, date(2026, 3, 12)]
    assert deadlines.joint_deadline(parts) == date(2026, 3, 20)
    assert deadlines.joint_deadline([None, None]) is None and deadlines.joint_deadline([]) is None
