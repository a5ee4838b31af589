"""Calendar arithmetic of clearance periods: month ends, leap years, spans crossing a year."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.clearance import ClearanceWindow
from streams.clearance.periods import (
    ROLLING_WINDOWS,
    Period,
    first_of_month_shifted,
    is_whole_months,
    last_day_of_month,
    local_date,
    month_count,
    one_year_earlier,
    previous_period,
    rolling_window,
    rolling_windows,
    whole_months,
    year_on_year,
)

HAILAR = ZoneInfo("Asia/Shanghai")  # Inner Mongolia keeps Beijing time


def span(start: str, end: str) -> Period:
    return Period(date.fromisoformat(start), date.fromisoformat(end))


# -- Period ---------------------------------------------------------------------------------


def test_period_bounds_are_inclusive() -> None:
    february_to_april = span("2025-02-01", "2025-04-30")
    assert february_to_april.days == 28 + 31 + 30
    assert date(2025, 2, 1) in february_to_april
    assert date(2025, 4, 30) in february_to_april
    assert date(2025, 5, 1) not in february_to_april
    assert date(2025, 1, 31) not in february_to_april
    assert "2025-02-01" not in february_to_april  # only dates are days


def test_single_day_period() -> None:
    day = span("2024-02-29", "2024-02-29")
    assert day.days == 1
    assert list(day.each_day()) == [date(2024, 2, 29)]


def test_each_day_crosses_month_and_year_ends() -> None:
    days = list(span("2024-12-30", "2025-01-02").each_day())
    assert days == [date(2024, 12, 30), date(2024, 12, 31), date(2025, 1, 1), date(2025, 1, 2)]


def test_period_must_not_end_before_it_starts() -> None:
    with pytest.raises(ValueError, match="after it ends"):
        span("2025-03-02", "2025-03-01")


def test_period_prints_as_iso_span() -> None:
    assert str(span("2025-02-01", "2025-04-30")) == "2025-02-01..2025-04-30"


# -- months ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("year", "month", "last"),
    [(2024, 2, 29), (2025, 2, 28), (1900, 2, 28), (2000, 2, 29), (2025, 4, 30), (2025, 12, 31)],
)
def test_last_day_of_month(year: int, month: int, last: int) -> None:
    assert last_day_of_month(year, month) == date(year, month, last)


def test_first_of_month_shifted_crosses_years() -> None:
    assert first_of_month_shifted(date(2025, 2, 14), -3) == date(2024, 11, 1)
    assert first_of_month_shifted(date(2024, 11, 30), 3) == date(2025, 2, 1)
    assert first_of_month_shifted(date(2025, 5, 14), -25) == date(2023, 4, 1)
    assert first_of_month_shifted(date(2025, 1, 1), 0) == date(2025, 1, 1)


def test_whole_months_builds_month_spans() -> None:
    assert whole_months(date(2024, 11, 17), 3) == span("2024-11-01", "2025-01-31")
    assert whole_months(date(2024, 2, 1), 1) == span("2024-02-01", "2024-02-29")
    with pytest.raises(ValueError, match="at least one month"):
        whole_months(date(2024, 2, 1), 0)


@pytest.mark.parametrize(
    ("start", "end", "whole"),
    [
        ("2025-02-01", "2025-04-30", True),
        ("2024-02-01", "2024-02-29", True),
        ("2024-02-01", "2024-02-28", False),  # leap February ends on the 29th
        ("2025-02-01", "2025-02-28", True),
        ("2024-12-01", "2025-01-31", True),  # crossing a year
        ("2025-01-02", "2025-03-31", False),
        ("2025-01-01", "2025-03-30", False),
        ("2025-01-31", "2025-01-31", False),
        ("2025-01-01", "2025-01-01", False),
    ],
)
def test_is_whole_months(start: str, end: str, whole: bool) -> None:
    assert is_whole_months(span(start, end)) is whole


def test_month_count() -> None:
    assert month_count(span("2024-11-01", "2025-01-31")) == 3
    assert month_count(span("2024-01-01", "2024-12-31")) == 12
    with pytest.raises(ValueError, match="not a span of whole months"):
        month_count(span("2024-11-02", "2025-01-31"))


# -- year on year (同比) --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "year_before"),
    [
        ("2024-02-29", "2023-02-28"),  # last year has no 29 February
        ("2025-02-28", "2024-02-28"),
        ("2025-03-01", "2024-03-01"),
        ("2025-01-01", "2024-01-01"),
        ("2024-12-31", "2023-12-31"),
    ],
)
def test_one_year_earlier(day: str, year_before: str) -> None:
    assert one_year_earlier(date.fromisoformat(day)) == date.fromisoformat(year_before)


@pytest.mark.parametrize(
    ("start", "end", "yoy_start", "yoy_end"),
    [
        # the bureau's February-April
        ("2025-02-01", "2025-04-30", "2024-02-01", "2024-04-30"),
        # whole months map to whole months, whatever February's length
        ("2025-02-01", "2025-02-28", "2024-02-01", "2024-02-29"),
        ("2024-02-01", "2024-02-29", "2023-02-01", "2023-02-28"),
        ("2024-12-01", "2025-02-28", "2023-12-01", "2024-02-29"),
        # other spans move each bound; 29 February becomes 28 February
        ("2024-02-10", "2024-02-29", "2023-02-10", "2023-02-28"),
        ("2024-02-29", "2024-02-29", "2023-02-28", "2023-02-28"),
        ("2024-02-29", "2024-03-06", "2023-02-28", "2023-03-06"),
        ("2025-02-10", "2025-02-28", "2024-02-10", "2024-02-28"),
        # crossing a year
        ("2024-12-15", "2025-01-14", "2023-12-15", "2024-01-14"),
    ],
)
def test_year_on_year(start: str, end: str, yoy_start: str, yoy_end: str) -> None:
    assert year_on_year(span(start, end)) == span(yoy_start, yoy_end)


# -- previous period (环比) -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "prev_start", "prev_end"),
    [
        # whole months: as many whole months before (the bureau's Feb-Apr against Nov-Jan)
        ("2025-02-01", "2025-04-30", "2024-11-01", "2025-01-31"),
        ("2025-01-01", "2025-03-31", "2024-10-01", "2024-12-31"),
        ("2024-03-01", "2024-03-31", "2024-02-01", "2024-02-29"),
        ("2025-03-01", "2025-03-31", "2025-02-01", "2025-02-28"),
        ("2024-01-01", "2024-12-31", "2023-01-01", "2023-12-31"),
        # other spans: the same number of days just before
        ("2024-03-01", "2024-03-07", "2024-02-23", "2024-02-29"),
        ("2025-03-01", "2025-03-15", "2025-02-14", "2025-02-28"),
        ("2025-01-01", "2025-01-01", "2024-12-31", "2024-12-31"),
        ("2025-01-10", "2025-02-08", "2024-12-11", "2025-01-09"),
    ],
)
def test_previous_period(start: str, end: str, prev_start: str, prev_end: str) -> None:
    assert previous_period(span(start, end)) == span(prev_start, prev_end)


# -- rolling windows ------------------------------------------------------------------------


def test_rolling_windows_publish_the_schema_windows() -> None:
    assert set(ROLLING_WINDOWS) == set(ClearanceWindow) - {ClearanceWindow.CUSTOM}


@pytest.mark.parametrize(
    ("as_of", "window", "start"),
    [
        ("2024-03-01", ClearanceWindow.DAYS_7, "2024-02-24"),  # Feb 24..29 and Mar 1
        ("2025-03-01", ClearanceWindow.DAYS_7, "2025-02-23"),
        ("2025-04-30", ClearanceWindow.DAYS_30, "2025-04-01"),
        ("2025-01-15", ClearanceWindow.DAYS_90, "2024-10-18"),
        ("2025-05-14", ClearanceWindow.MONTH_TO_DATE, "2025-05-01"),
        ("2025-05-01", ClearanceWindow.MONTH_TO_DATE, "2025-05-01"),
        ("2025-05-14", ClearanceWindow.QUARTER_TO_DATE, "2025-04-01"),
        ("2025-03-31", ClearanceWindow.QUARTER_TO_DATE, "2025-01-01"),
        ("2025-12-31", ClearanceWindow.QUARTER_TO_DATE, "2025-10-01"),
        ("2025-07-01", ClearanceWindow.QUARTER_TO_DATE, "2025-07-01"),
    ],
)
def test_rolling_window(as_of: str, window: ClearanceWindow, start: str) -> None:
    assert rolling_window(window, date.fromisoformat(as_of)) == span(start, as_of)


def test_trailing_windows_count_the_as_of_day() -> None:
    windows = rolling_windows(date(2025, 4, 30))
    assert windows[ClearanceWindow.DAYS_7].days == 7
    assert windows[ClearanceWindow.DAYS_30].days == 30
    assert windows[ClearanceWindow.DAYS_90].days == 90
    assert list(windows) == list(ROLLING_WINDOWS)


def test_a_full_quarter_to_date_compares_as_whole_months() -> None:
    quarter = rolling_window(ClearanceWindow.QUARTER_TO_DATE, date(2025, 3, 31))
    assert is_whole_months(quarter)
    assert previous_period(quarter) == span("2024-10-01", "2024-12-31")
    assert year_on_year(quarter) == span("2024-01-01", "2024-03-31")


def test_custom_is_not_a_rolling_window() -> None:
    with pytest.raises(ValueError, match="not a rolling window"):
        rolling_window(ClearanceWindow.CUSTOM, date(2025, 1, 1))


# -- event time to local day ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "day"),
    [
        (datetime(2025, 3, 31, 15, 59, 59, tzinfo=UTC), "2025-03-31"),
        (datetime(2025, 3, 31, 16, 0, tzinfo=UTC), "2025-04-01"),  # 00:00 at UTC+8
        (datetime(2024, 12, 31, 16, 30, tzinfo=UTC), "2025-01-01"),  # crossing a year
        (datetime(2024, 2, 28, 23, 0, tzinfo=timezone(timedelta(hours=-1))), "2024-02-29"),
    ],
)
def test_local_date_is_the_city_day(moment: datetime, day: str) -> None:
    assert local_date(moment, HAILAR) == date.fromisoformat(day)


def test_local_date_refuses_naive_times() -> None:
    with pytest.raises(ValueError, match="UTC offset"):
        local_date(datetime(2025, 3, 31, 16, 0), HAILAR)


# -- properties -----------------------------------------------------------------------------

days = st.dates(min_value=date(1901, 3, 1), max_value=date(2199, 12, 31))


@st.composite
def periods(draw: st.DrawFn) -> Period:
    start = draw(days)
    return Period(start, start + timedelta(days=draw(st.integers(0, 800))))


@st.composite
def whole_month_periods(draw: st.DrawFn) -> Period:
    return whole_months(draw(days), draw(st.integers(1, 36)))


@given(days)
def test_one_year_earlier_is_the_same_day_or_feb_28(day: date) -> None:
    before = one_year_earlier(day)
    assert before.year == day.year - 1
    if (day.month, day.day) == (2, 29):
        assert (before.month, before.day) == (2, 28)
    else:
        assert (before.month, before.day) == (day.month, day.day)


@given(whole_month_periods())
def test_year_on_year_of_whole_months_is_whole_months(period: Period) -> None:
    yoy = year_on_year(period)
    assert is_whole_months(yoy)
    assert month_count(yoy) == month_count(period)
    assert (yoy.start.year, yoy.start.month) == (period.start.year - 1, period.start.month)


@given(periods())
def test_year_on_year_moves_each_bound_back_a_year(period: Period) -> None:
    yoy = year_on_year(period)
    if not is_whole_months(period):
        assert yoy == Period(one_year_earlier(period.start), one_year_earlier(period.end))
    # Either rule loses or gains at most the one 29 February.
    assert abs(yoy.days - period.days) <= 1


@given(whole_month_periods())
def test_previous_of_whole_months_is_as_many_months_just_before(period: Period) -> None:
    previous = previous_period(period)
    assert is_whole_months(previous)
    assert month_count(previous) == month_count(period)
    assert previous.end == period.start - timedelta(days=1)


@given(periods())
def test_previous_of_other_spans_has_equal_length_just_before(period: Period) -> None:
    previous = previous_period(period)
    assert previous.end == period.start - timedelta(days=1)
    if not is_whole_months(period):
        assert previous.days == period.days


@given(days, st.sampled_from(ROLLING_WINDOWS))
def test_rolling_windows_end_on_the_as_of_day(as_of: date, window: ClearanceWindow) -> None:
    period = rolling_window(window, as_of)
    assert period.end == as_of
    assert 1 <= period.days <= 92  # 90 days, or a quarter's 92 at most
    if window is ClearanceWindow.MONTH_TO_DATE:
        assert period.start == as_of.replace(day=1)
    if window is ClearanceWindow.QUARTER_TO_DATE:
        assert period.start.day == 1
        assert period.start.month in (1, 4, 7, 10)
        assert 0 <= as_of.month - period.start.month <= 2
