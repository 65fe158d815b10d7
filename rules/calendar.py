"""China's official calendar of rest days and adjusted working days, from the maintained
``chinese-calendar`` library (the State Council's yearly holiday notice).

A day is a rest day when the calendar says so: a weekend that is not a make-up working
day, and every day of a holiday block. 除夕 is a working day unless the year's notice
makes it a holiday. The library knows only the years whose notices it carries; a date
outside them is an error that says so, never a guess.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

import chinese_calendar

from rules.errors import CalendarNotCovered

__all__ = ["covered_years", "days", "is_workday"]


def covered_years() -> tuple[int, int]:
    """The first and last year the installed calendar knows."""
    years = sorted({d.year for d in chinese_calendar.holidays} | {d.year for d in chinese_calendar.workdays})
    return years[0], years[-1]


def is_workday(day: date) -> bool:
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError as exc:
        first, last = covered_years()
        raise CalendarNotCovered(
            f"the official holiday calendar (chinese-calendar {chinese_calendar.__version__}) covers "
            f"{first}-{last}; {day.isoformat()} is outside it. Upgrade the chinese-calendar package once "
            "the State Council has published that year's holiday notice, or judge an earlier window "
            "(HUB_RULES_WINDOW_START)") from exc


def days(start: date, end: date) -> Iterator[tuple[date, bool]]:
    """Every day from ``start`` to ``end`` (inclusive) with whether it is a working day."""
    d = start
    while d <= end:
        yield d, is_workday(d)
        d += timedelta(days=1)
