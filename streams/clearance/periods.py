"""Calendar arithmetic on periods of local dates: comparison spans and rolling windows.

A :class:`Period` is a span of calendar days in the city's time zone with **both ends
inclusive**, as bulletins and ``GET /clearance?from=..&to=..`` speak of them: February-April
is ``Period(date(y, 2, 1), date(y, 4, 30))``. A single day is ``Period(d, d)``.

Year on year (同比) is the same calendar span one year earlier:

- A period of whole calendar months maps to the same months a year earlier, so February 2025
  (28 days) compares with February 2024 (29 days) and February 2024 with February 2023.
- Any other period moves each bound back one year; 29 February, which last year lacks, becomes
  28 February. A span ending 29 February therefore maps to one ending 28 February, and the two
  spans can differ by a day: that is what "the same calendar span" means, so counts are compared
  as they are, without scaling.

The previous period (环比) ends the day before the period starts:

- A period of whole calendar months compares with the same number of whole months before it
  (February-April with November-January, even though the day counts differ).
- Any other period compares with the span of the same number of days.

Rolling windows for an as-of day end on that day: the last 7, 30 and 90 days (as-of day
included), month to date and quarter to date (calendar quarters starting January, April, July
and October).
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Final

from schemas.clearance import ClearanceWindow

ONE_DAY: Final = timedelta(days=1)

#: The rolling windows the periodic snapshots publish, in a stable order.
ROLLING_WINDOWS: Final = (
    ClearanceWindow.DAYS_7,
    ClearanceWindow.DAYS_30,
    ClearanceWindow.DAYS_90,
    ClearanceWindow.MONTH_TO_DATE,
    ClearanceWindow.QUARTER_TO_DATE,
)

_TRAILING_DAYS: Final = {
    ClearanceWindow.DAYS_7: 7,
    ClearanceWindow.DAYS_30: 30,
    ClearanceWindow.DAYS_90: 90,
}


@dataclass(frozen=True, slots=True)
class Period:
    """Calendar days ``start`` to ``end``, both included."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.start > self.end:
            raise ValueError(f"period starts {self.start} after it ends {self.end}")

    @property
    def days(self) -> int:
        """Number of days in the period (a single day is 1)."""
        return (self.end - self.start).days + 1

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.start <= day <= self.end

    def each_day(self) -> Iterator[date]:
        for offset in range(self.days):
            yield self.start + timedelta(days=offset)

    def __str__(self) -> str:
        return f"{self.start.isoformat()}..{self.end.isoformat()}"


def last_day_of_month(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def first_of_month_shifted(day: date, months: int) -> date:
    """The first day of the month ``months`` calendar months after ``day``'s (negative: before)."""
    index = day.year * 12 + (day.month - 1) + months
    return date(index // 12, index % 12 + 1, 1)


def whole_months(first: date, count: int) -> Period:
    """``count`` whole calendar months starting with ``first``'s month."""
    if count < 1:
        raise ValueError(f"a span of whole months has at least one month, not {count}")
    start = first.replace(day=1)
    last = first_of_month_shifted(start, count - 1)
    return Period(start, last_day_of_month(last.year, last.month))


def is_whole_months(period: Period) -> bool:
    """True when the period starts on a month's first day and ends on a month's last day."""
    end = period.end
    return period.start.day == 1 and end == last_day_of_month(end.year, end.month)


def month_count(period: Period) -> int:
    """Number of calendar months a whole-month period covers."""
    if not is_whole_months(period):
        raise ValueError(f"{period} is not a span of whole months")
    start, end = period.start, period.end
    return (end.year - start.year) * 12 + (end.month - start.month) + 1


def one_year_earlier(day: date) -> date:
    """The same calendar day a year earlier; 29 February becomes 28 February."""
    if day.month == 2 and day.day == 29:
        return date(day.year - 1, 2, 28)
    return day.replace(year=day.year - 1)


def year_on_year(period: Period) -> Period:
    """同比: the same calendar span one year earlier (see the module docstring)."""
    if is_whole_months(period):
        return whole_months(one_year_earlier(period.start), month_count(period))
    # one_year_earlier never decreases order (28 and 29 February both map to 28 February),
    # so the shifted bounds still make a valid period.
    return Period(one_year_earlier(period.start), one_year_earlier(period.end))


def previous_period(period: Period) -> Period:
    """环比: the span just before; whole months compare with as many whole months."""
    if is_whole_months(period):
        count = month_count(period)
        return whole_months(first_of_month_shifted(period.start, -count), count)
    end = period.start - ONE_DAY
    return Period(end - timedelta(days=period.days - 1), end)


def rolling_window(window: ClearanceWindow, as_of: date) -> Period:
    """The period a rolling window covers on ``as_of`` (which it includes)."""
    if window in _TRAILING_DAYS:
        return Period(as_of - timedelta(days=_TRAILING_DAYS[window] - 1), as_of)
    if window is ClearanceWindow.MONTH_TO_DATE:
        return Period(as_of.replace(day=1), as_of)
    if window is ClearanceWindow.QUARTER_TO_DATE:
        first_month_of_quarter = 3 * ((as_of.month - 1) // 3) + 1
        return Period(date(as_of.year, first_month_of_quarter, 1), as_of)
    raise ValueError(f"{window.value!r} is not a rolling window")


def rolling_windows(as_of: date) -> dict[ClearanceWindow, Period]:
    return {window: rolling_window(window, as_of) for window in ROLLING_WINDOWS}


def local_date(moment: datetime, zone: tzinfo) -> date:
    """The calendar day an event time falls on in the city's time zone (e.g. a ZoneInfo).

    A naive datetime is refused: guessing its zone would shift events across midnight.
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("event time must carry a UTC offset")
    return moment.astimezone(zone).date()
