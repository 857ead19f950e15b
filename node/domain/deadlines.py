"""Time limits (时限): every deadline rule of a case, in working days.

- Acceptance starts the legal (法定) and promised (承诺) limits of the item's version.
- Entering a stage starts that stage's own limit; an ended case has no stage deadline.
- A supplement request (补正) stops the clock; when the applicant supplies, every running deadline
  moves by the working days it was stopped (counted from the day it stopped to the day it resumed).
- An approved extension (延期) moves every running deadline by its working days.
- A joint case (联办件) whose parts run at several departments takes as long as its longest part
  (Xi'an: "办理时限最长的单个审批环节时限作为整个事项最终办理时限"), not the sum of them.

Pure: the calendar and the day are arguments.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date
from typing import Iterable

from .calendar import WorkingCalendar
from .lifecycle import Decision, TERMINAL

RUNNING = ("legal_deadline", "promised_deadline", "stage_deadline")


@dataclass
class Clock:
    """A case's time-limit state (the columns of the same names on the case)."""

    accepted_on: date | None = None
    legal_deadline: date | None = None
    promised_deadline: date | None = None
    stage_started_on: date | None = None
    stage_deadline: date | None = None
    supplement_started_on: date | None = None
    paused_days: int = 0
    extended_days: int = 0

    @classmethod
    def of(cls, row: object) -> "Clock":
        return cls(**{f.name: getattr(row, f.name) for f in fields(cls)})

    def write_to(self, row: object) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if getattr(row, f.name) != value:  # unchanged columns stay out of the update and the audit entry
                setattr(row, f.name, value)

    def _shift(self, days: int, cal: WorkingCalendar) -> None:
        for attr in RUNNING:
            old = getattr(self, attr)
            if old is not None and days:
                setattr(self, attr, cal.add_working_days(old, days))


def after_decision(clock: Clock, d: Decision, on: date, cal: WorkingCalendar, legal_days: int,
                   promised_days: int) -> Clock:
    """The clock after the state machine's decision ``d`` taken on ``on``."""
    if d.event == "accept":
        clock.accepted_on = on
        clock.legal_deadline = cal.add_working_days(on, legal_days)
        clock.promised_deadline = cal.add_working_days(on, promised_days)
    if d.clock_resumes and clock.supplement_started_on is not None:
        paused = cal.working_days_between(clock.supplement_started_on, on)
        clock.paused_days += paused
        clock._shift(paused, cal)
        clock.supplement_started_on = None
    if d.clock_stops:
        clock.supplement_started_on = on
    if d.entered_stage is not None and not d.clock_resumes and d.before.stage_index != d.after.stage_index:
        clock.stage_started_on = on
        clock.stage_deadline = cal.add_working_days(on, d.entered_stage.time_limit_days)
    if d.after.status in TERMINAL:
        clock.stage_deadline = None
    return clock


def extended(clock: Clock, days: int, cal: WorkingCalendar) -> Clock:
    """The clock after an approved extension of ``days`` working days."""
    clock.extended_days += days
    clock._shift(days, cal)
    return clock


def joint_deadline(parts: Iterable[date | None]) -> date | None:
    """A joint case's deadline: its longest part's (the latest of the parts' deadlines), not the
    sum; a part without a deadline yet (not accepted) does not shorten it, and no part: None."""
    known = [d for d in parts if d is not None]
    return max(known) if known else None
