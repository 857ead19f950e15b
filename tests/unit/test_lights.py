"""Lights (node/domain/lights.py): pure, against the shipped 2026 calendar."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from node.domain import lights
from node.domain.calendar import WorkingCalendar, shipped_schedules

CAL = WorkingCalendar(shipped_schedules())
MON = date(2026, 3, 2)  # a Monday without holidays around it


def test_ten_day_limit_green_then_yellow_at_80_percent_then_red() -> None:
    deadline = CAL.add_working_days(MON, 10)  # Monday 16 March
    assert deadline == date(2026, 3, 16)
    at = lambda d: lights.clock_light(MON, deadline, d, CAL)
    assert at(MON) == lights.Light("green", date(2026, 3, 12))  # 8 of 10 working days used on Thu 12th
    assert at(date(2026, 3, 11)).color == "green"
    assert at(date(2026, 3, 12)) == lights.Light("yellow", date(2026, 3, 17))
    assert at(deadline).color == "yellow"  # the deadline day itself is not overdue
    assert at(date(2026, 3, 17)) == lights.Light("red", None)


def test_one_working_day_left_is_yellow_even_below_the_share() -> None:
    deadline = CAL.add_working_days(MON, 2)  # Wednesday
    got = lights.clock_light(MON, deadline, MON, CAL, share=1.0)
    assert got == lights.Light("green", MON + timedelta(days=1))
    assert lights.clock_light(MON, deadline, MON + timedelta(days=1), CAL, share=1.0).color == "yellow"


def test_one_day_left_counts_working_days_over_a_weekend() -> None:
    deadline = date(2026, 3, 16)  # Monday: from Friday 13th only Monday is left
    assert lights.yellow_from(None, deadline, CAL) == date(2026, 3, 13)
    assert lights.clock_light(None, deadline, date(2026, 3, 12), CAL).color == "green"


def test_share_is_a_setting() -> None:
    deadline = CAL.add_working_days(MON, 10)
    assert lights.clock_light(MON, deadline, date(2026, 3, 9), CAL, share=0.5).color == "yellow"
    assert lights.clock_light(MON, deadline, date(2026, 3, 9), CAL, share=0.8).color == "green"
    with pytest.raises(ValueError):
        lights.clock_light(MON, deadline, MON, CAL, share=0)


def test_supplement_stops_the_clock_and_paused_days_are_not_used_time() -> None:
    deadline = CAL.add_working_days(MON, 10)
    # stopped on Wednesday 4th: frozen green long after the deadline, no change date
    assert lights.clock_light(MON, deadline, date(2026, 4, 30), CAL, stopped_on=date(2026, 3, 4)) == \
        lights.Light("green", None)
    # resumed after 5 paused working days: the deadline moved by 5; 8 of the 10 own days used on the 19th
    moved = CAL.add_working_days(deadline, 5)
    got = lights.clock_light(MON, moved, date(2026, 3, 18), CAL, paused_days=5)
    assert got == lights.Light("green", date(2026, 3, 19))


def test_extension_moves_the_deadline_and_the_light_follows() -> None:
    deadline = CAL.add_working_days(MON, 10)
    today = date(2026, 3, 17)
    assert lights.clock_light(MON, deadline, today, CAL).color == "red"
    assert lights.clock_light(MON, CAL.add_working_days(deadline, 5), today, CAL).color == "green"


def test_holidays_are_not_working_days() -> None:
    # Spring Festival 2026: a 3-day limit from 13 Feb runs past the days off
    deadline = CAL.add_working_days(date(2026, 2, 13), 3)
    assert deadline > date(2026, 2, 23)
    assert lights.clock_light(date(2026, 2, 13), deadline, date(2026, 2, 18), CAL).color != "red"


def test_concluded_on_time_or_late_and_refused_has_no_light() -> None:
    kw = dict(accepted_on=MON, promised_deadline=date(2026, 3, 16), legal_deadline=date(2026, 3, 30),
              stage_started_on=None, stage_deadline=None, supplement_started_on=None, paused_days=0,
              today=date(2026, 4, 1), cal=CAL)
    on_time = lights.case_lights(concluded_on=date(2026, 3, 16), ended=True, **kw)  # type: ignore[arg-type]
    late = lights.case_lights(concluded_on=date(2026, 3, 17), ended=True, **kw)  # type: ignore[arg-type]
    refused = lights.case_lights(concluded_on=None, ended=True, **kw)  # type: ignore[arg-type]
    assert (on_time.light, late.light, refused.light) == ("on_time", "late", None)
    assert on_time.changes_on is None


def test_case_and_stage_lights_and_the_earliest_change() -> None:
    got = lights.case_lights(accepted_on=MON, promised_deadline=date(2026, 3, 30), legal_deadline=None,
                             stage_started_on=MON, stage_deadline=date(2026, 3, 4), concluded_on=None, ended=False,
                             supplement_started_on=None, paused_days=0, today=MON, cal=CAL)
    assert got.light == "green" and got.stage_light == "green"
    assert got.changes_on == lights.yellow_from(MON, date(2026, 3, 4), CAL)
    assert lights.worst("green", "red", None) == "red" and lights.worst(None) is None


def test_no_deadline_no_light() -> None:
    assert lights.clock_light(None, None, MON, CAL) == lights.NONE


def test_immediate_item_is_yellow_on_its_day() -> None:
    assert lights.clock_light(MON, MON, MON, CAL).color == "yellow"
    assert lights.clock_light(MON, MON, MON + timedelta(days=1), CAL).color == "red"
