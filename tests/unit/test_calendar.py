from datetime import date

import pytest

from node.domain.calendar import WorkingCalendar, parse_calendar_file, shipped_schedules
from node.domain.errors import InvalidInput

pytestmark = pytest.mark.unit
CAL = WorkingCalendar(shipped_schedules())


def test_shipped_years():
    assert CAL.known_years == [2025, 2026]


@pytest.mark.parametrize("d,working", [
    ("2026-02-14", True),   # Saturday, make-up working day before Spring Festival
    ("2026-02-16", False),  # Spring Festival day off (a Monday)
    ("2026-10-10", True),   # Saturday make-up day after National Day
    ("2026-10-05", False),  # National Day holiday
    ("2026-03-07", False),  # an ordinary Saturday
    ("2026-03-09", True),   # an ordinary Monday
    ("2025-01-26", True),   # Sunday make-up day 2025
])
def test_working_days(d, working):
    assert CAL.is_working_day(date.fromisoformat(d)) is working


def test_deadline_skips_spring_festival_and_counts_make_up_days():
    # Friday 2026-02-13 + 2 working days: Sat 14 is a make-up working day (1), then the holiday
    # runs 15-23, so the second working day is Tue 24.
    assert CAL.add_working_days(date(2026, 2, 13), 2) == date(2026, 2, 24)


def test_national_day_block():
    # 2026-09-30 (Wed) + 1 -> Oct 1-7 off; Oct 8 (Thu) is the first working day.
    assert CAL.add_working_days(date(2026, 9, 30), 1) == date(2026, 10, 8)


def test_zero_days_is_same_day_and_between_is_inverse():
    d = date(2026, 3, 2)
    assert CAL.add_working_days(d, 0) == d
    for n in (1, 5, 20, 60):
        assert CAL.working_days_between(d, CAL.add_working_days(d, n)) == n


def test_unknown_year_uses_weekdays():
    assert CAL.add_working_days(date(2030, 1, 4), 1) == date(2030, 1, 7)  # Fri -> Mon


def test_bad_file_names_field():
    with pytest.raises(InvalidInput) as e:
        parse_calendar_file({"years": {"2027": {"holidays": [{"days_off": ["2027-13-01"]}]}}})
    assert e.value.field == "years.2027.holidays[0].days_off"
    with pytest.raises(InvalidInput) as e:
        parse_calendar_file({"years": {"2027": {"holidays": [{"days_off": ["2027-05-01"],
                                                               "make_up_workdays": ["2027-05-01"]}]}}})
    assert "both" in e.value.message
