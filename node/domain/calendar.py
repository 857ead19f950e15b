"""Working-day calendar (工作日) with public holidays and make-up working days (调休).

Rule: a date is a working day if it is a make-up working day, or it is a weekday that is not
a holiday day off. Years without loaded data fall back to the weekday rule; ``known_years``
tells callers which years carry official data.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, timedelta
from importlib import resources
from typing import Any, Iterable

from .errors import InvalidInput


@dataclass(frozen=True)
class YearSchedule:
    year: int
    days_off: frozenset[date]
    make_up_workdays: frozenset[date]
    names: dict[date, str] = field(default_factory=dict, compare=False)


def parse_schedule(year: int, data: dict[str, Any]) -> YearSchedule:
    """Parse one year's block of the holiday data file; rejects dates outside the year."""
    days_off: set[date] = set()
    make_up: set[date] = set()
    names: dict[date, str] = {}
    holidays = data.get("holidays") if isinstance(data, dict) else None
    if not isinstance(holidays, list):
        raise InvalidInput(f"year {year}: 'holidays' must be a list", field=f"years.{year}.holidays")
    for i, h in enumerate(holidays):
        if not isinstance(h, dict):
            raise InvalidInput(f"year {year}: each holiday is an object with 'name', 'days_off' and "
                               "'make_up_workdays'", field=f"years.{year}.holidays[{i}]")
        for key, target in (("days_off", days_off), ("make_up_workdays", make_up)):
            dates = h.get(key, [])
            if not isinstance(dates, list):
                raise InvalidInput(f"year {year}: '{key}' must be a list of dates (YYYY-MM-DD)",
                                   field=f"years.{year}.holidays[{i}].{key}")
            for s in dates:
                try:
                    d = date.fromisoformat(s)
                except (TypeError, ValueError):
                    raise InvalidInput(
                        f"'{s}' is not a date (YYYY-MM-DD)", field=f"years.{year}.holidays[{i}].{key}"
                    ) from None
                if d.year != year and not (key == "make_up_workdays" and abs(d.year - year) == 1):
                    raise InvalidInput(
                        f"{s} does not belong to year {year}", field=f"years.{year}.holidays[{i}].{key}"
                    )
                target.add(d)
                if key == "days_off":
                    names[d] = str(h.get("name", ""))
    clash = days_off & make_up
    if clash:
        raise InvalidInput(
            f"{min(clash)} is both a day off and a make-up working day", field=f"years.{year}"
        )
    return YearSchedule(year, frozenset(days_off), frozenset(make_up), names)


def parse_calendar_file(data: dict[str, Any]) -> list[YearSchedule]:
    years = data.get("years")
    if not isinstance(years, dict) or not years:
        raise InvalidInput("the file must hold a non-empty 'years' object", field="years")
    out = []
    for y, block in sorted(years.items()):
        if not str(y).isdigit() or not 1949 < int(y) < 2200:
            raise InvalidInput(f"'{y}' is not a year", field="years")
        out.append(parse_schedule(int(y), block))
    return out


def shipped_schedules() -> list[YearSchedule]:
    """The mainland China schedules shipped with the node (2025, 2026)."""
    text = resources.files("node.domain.data").joinpath("cn-public-holidays.json").read_text("utf-8")
    return parse_calendar_file(json.loads(text))


class WorkingCalendar:
    def __init__(self, schedules: Iterable[YearSchedule]) -> None:
        self._years: dict[int, YearSchedule] = {s.year: s for s in schedules}
        self._off: set[date] = set()
        self._on: set[date] = set()
        for s in self._years.values():
            self._off |= s.days_off
            self._on |= s.make_up_workdays

    @property
    def known_years(self) -> list[int]:
        return sorted(self._years)

    def is_working_day(self, d: date) -> bool:
        if d in self._on:
            return True
        if d in self._off:
            return False
        return d.weekday() < 5

    def add_working_days(self, start: date, days: int) -> date:
        """The date ``days`` working days after ``start`` (start itself does not count).

        With ``days == 0`` the result is ``start`` (an immediate item is due the same day).
        """
        if days < 0:
            raise ValueError("days must be >= 0")
        d = start
        left = days
        while left > 0:
            if d == date.max:
                raise InvalidInput(f"{days} working days after {start.isoformat()} falls past {date.max.isoformat()}",
                                   field="days")
            d += timedelta(days=1)
            if self.is_working_day(d):
                left -= 1
        return d

    def working_days_between(self, start: date, end: date) -> int:
        """Working days in (start, end]: how far the clock moved between two dates."""
        if end <= start:
            return 0
        n = 0
        d = start
        while d < end:
            d += timedelta(days=1)
            if self.is_working_day(d):
                n += 1
        return n
