"""Lights (红黄绿灯) of a case and of its current stage, from deadlines in working days.

- green: within the limit;
- yellow (预警): ``share`` of the limit used (default 0.8: a node setting) or one working day left;
- red: overdue (the day after the deadline has come);
- a concluded case: ``on_time`` or ``late`` against the deadline it ended under.

Supplement time (补正, the clock stopped) and approved extensions (延期) count as
``deadlines.py`` says: the deadlines a case carries are already moved by them, and the paused
working days are left out of the "used" share. While the clock is stopped the light does not
change (``changes_on`` is None until the case resumes). ``changes_on`` is the first date on
which the light will differ, so a periodic job only revisits rows whose date has come.

Pure: the calendar and the day are arguments.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta

from .calendar import WorkingCalendar

GREEN, YELLOW, RED, ON_TIME, LATE = "green", "yellow", "red", "on_time", "late"
LIGHTS = (GREEN, YELLOW, RED, ON_TIME, LATE)
SEVERITY = {RED: 0, YELLOW: 1, GREEN: 2, LATE: 3, ON_TIME: 4}
"""Queue order: the most urgent first (None, no deadline, after all)."""
DEFAULT_SHARE = 0.8


@dataclass(frozen=True)
class Light:
    color: str | None  # one of LIGHTS; None: no deadline (not accepted, or not at a stage)
    changes_on: date | None  # the first date the color will differ; None: not before another record


NONE = Light(None, None)


_CACHE: dict[tuple[int, date | None, date, float, int], date] = {}


def yellow_from(start: date | None, deadline: date, cal: WorkingCalendar, share: float = DEFAULT_SHARE,
                paused_days: int = 0) -> date:
    """The first date the light is yellow: ``share`` of the limit used, or one working day left.

    The limit is the working days from ``start`` to ``deadline`` less ``paused_days`` (supplement
    time moved the deadline but is not time used); without a start only the one-day rule holds.
    (Memoized per calendar object: the apply path asks the same few limits again and again.)"""
    if not 0 < share <= 1:
        raise ValueError("share must be in (0, 1]")
    key = (id(cal), start, deadline, share, paused_days)
    got = _CACHE.get(key)
    if got is None:
        if len(_CACHE) > 100_000:
            _CACHE.clear()
        got = _CACHE[key] = _yellow_from(start, deadline, cal, share, paused_days)
    return got


def _last_working_day_before(d: date, cal: WorkingCalendar, floor: date) -> date:
    d -= timedelta(days=1)
    while d > floor and not cal.is_working_day(d):
        d -= timedelta(days=1)
    return max(d, floor)


def _yellow_from(start: date | None, deadline: date, cal: WorkingCalendar, share: float, paused_days: int) -> date:
    floor = start if start is not None else deadline - timedelta(days=366)
    # one working day left: remaining(d) = working days in (d, deadline] <= 1 from the second-to-last
    # working day up to the deadline (w1: the last working day <= deadline, w2: the one before it)
    w1 = deadline if cal.is_working_day(deadline) else _last_working_day_before(deadline, cal, floor)
    one_left = _last_working_day_before(w1, cal, floor) if w1 > floor else floor
    if start is None:
        return one_left
    limit = max(cal.working_days_between(start, deadline) - paused_days, 0)
    need = math.ceil(share * limit - 1e-9) + paused_days  # working days after start at which share is used
    day = start
    n = 0
    while n < need and day < one_left:
        day += timedelta(days=1)
        if cal.is_working_day(day):
            n += 1
    return min(day, one_left)


def clock_light(start: date | None, deadline: date | None, today: date, cal: WorkingCalendar,
                share: float = DEFAULT_SHARE, *, paused_days: int = 0, stopped_on: date | None = None,
                done_on: date | None = None) -> Light:
    """The light of one limit (a case's or a stage's) on ``today``.

    ``stopped_on``: the clock stopped that day (supplement): the light is the one of that day and
    does not change. ``done_on``: the case ended that day: on time or late."""
    if deadline is None:
        return NONE
    if done_on is not None:
        return Light(ON_TIME if done_on <= deadline else LATE, None)
    asof = stopped_on if stopped_on is not None and stopped_on < today else today
    frozen = stopped_on is not None
    if asof > deadline:
        return Light(RED, None)
    red_on = deadline + timedelta(days=1)
    y = yellow_from(start, deadline, cal, share, paused_days)
    if asof >= y:
        return Light(YELLOW, None if frozen else red_on)
    return Light(GREEN, None if frozen else y)


def worst(*lights: str | None) -> str | None:
    known = [x for x in lights if x is not None]
    return min(known, key=SEVERITY.__getitem__) if known else None


def earliest(*days: date | None) -> date | None:
    known = [d for d in days if d is not None]
    return min(known) if known else None


@dataclass(frozen=True)
class CaseLights:
    light: str | None  # the case's (promised deadline, else legal)
    stage_light: str | None  # the current stage's
    changes_on: date | None  # the first date either changes


def case_lights(*, accepted_on: date | None, promised_deadline: date | None, legal_deadline: date | None,
                stage_started_on: date | None, stage_deadline: date | None, concluded_on: date | None,
                ended: bool, supplement_started_on: date | None, paused_days: int, today: date,
                cal: WorkingCalendar, share: float = DEFAULT_SHARE) -> CaseLights:
    """A case's light (against its promised deadline, the legal one when none was promised) and
    its current stage's. A case ended other than by conclusion (refused, withdrawn) has none."""
    deadline = promised_deadline or legal_deadline
    if ended and concluded_on is None:
        return CaseLights(None, None, None)
    c = clock_light(accepted_on, deadline, today, cal, share, paused_days=paused_days,
                    stopped_on=supplement_started_on, done_on=concluded_on)
    if concluded_on is not None or stage_deadline is None:
        s = NONE
    else:
        s = clock_light(stage_started_on, stage_deadline, today, cal, share, stopped_on=supplement_started_on)
    return CaseLights(c.color, s.color, earliest(c.changes_on, s.changes_on))


def overdue_working_days(deadline: date, today: date, cal: WorkingCalendar) -> int:
    """Working days past ``deadline`` by ``today`` (0 while not overdue)."""
    return cal.working_days_between(deadline, today)
