"""Exact clearance arithmetic and its bulletin presentation, checked against the bureau's page.

The bureau published (February-April, criminal cases): 137 filed, down 28.65% year on year
and 14.91% on the previous period; clearance 86.13%, up 17.38 points year on year and 15.94
points on the previous period (administrative: 375 accepted, down 23.31% on the previous
period). The page gives no base counts; the tests below *derive* them by searching every
integer candidate, and find each to be unique.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, localcontext
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas import clearance as wire
from streams.clearance.figures import (
    Change,
    ChangeUnit,
    ClearanceFigures,
    clearance_rate,
    compare,
    count_change,
    present,
    present_percent,
    rate_change,
)


def bases_giving(current: int, presented: str) -> list[int]:
    """Every base count whose relative change to ``current`` presents as ``presented``."""
    return [
        base
        for base in range(1, 20 * current)
        if count_change(current, base).presented == Decimal(presented)
    ]


def cleared_giving(filed: int, presented: str) -> list[int]:
    """Every cleared count whose rate over ``filed`` presents as ``presented`` percent."""
    return [
        cleared
        for cleared in range(filed + 1)
        if present_percent(Fraction(cleared, filed)) == Decimal(presented)
    ]


# -- the bureau's published figures ---------------------------------------------------------


def test_bureau_base_counts_are_the_only_ones_consistent_with_the_page() -> None:
    assert bases_giving(137, "-28.65") == [192]  # last year's February-April
    assert bases_giving(137, "-14.91") == [161]  # November-January
    assert bases_giving(375, "-23.31") == [489]  # administrative, November-January


def test_bureau_cleared_counts_are_the_only_ones_consistent_with_the_page() -> None:
    assert cleared_giving(137, "86.13") == [118]
    # 86.13 - 17.38 and 86.13 - 15.94: the base rates as the bureau must have printed them
    assert Decimal("86.13") - Decimal("17.38") == Decimal("68.75")
    assert Decimal("86.13") - Decimal("15.94") == Decimal("70.19")
    assert cleared_giving(192, "68.75") == [132]  # 132/192 = 0.6875 exactly
    assert cleared_giving(161, "70.19") == [113]  # 113/161 = 0.70186..


def test_bureau_count_changes() -> None:
    yoy = count_change(137, 192)
    # (137 - 192) / 192 = -55/192; in percent -5500/192 = -1375/48 = -28.6458..
    assert yoy == Change(ChangeUnit.PERCENT, Fraction(-1375, 48), Decimal("-28.65"))
    previous = count_change(137, 161)
    # (137 - 161) / 161 = -24/161 = -14.9068..%
    assert previous == Change(ChangeUnit.PERCENT, Fraction(-2400, 161), Decimal("-14.91"))


def test_bureau_rate_changes_are_differences_of_presented_rates() -> None:
    rate = Fraction(118, 137)
    yoy = rate_change(rate, Fraction(132, 192))
    # 118/137 - 11/16 = (118*16 - 11*137) / (137*16) = (1888 - 1507) / 2192 = 381/2192,
    # in points 38100/2192 = 9525/548 = 17.3813..; presented 86.13 - 68.75 = 17.38.
    assert yoy == Change(ChangeUnit.POINTS, Fraction(9525, 548), Decimal("17.38"))

    previous = rate_change(rate, Fraction(113, 161))
    # 118/137 - 113/161 = (118*161 - 113*137) / (137*161) = (18998 - 15481) / 22057
    # = 3517/22057, in points 351700/22057 = 15.9450..: the exact value would round to 15.95,
    # but the bulletin prints 86.13 - 70.19 = 15.94 so that readers' subtraction checks out.
    assert previous == Change(ChangeUnit.POINTS, Fraction(351700, 22057), Decimal("15.94"))
    assert previous.exact is not None
    assert present(previous.exact) == Decimal("15.95")


def test_bureau_example_through_compare() -> None:
    current = ClearanceFigures(filed=137, cleared=118, solved_in_period=121)
    last_year = ClearanceFigures(filed=192, cleared=132, solved_in_period=130)
    before = ClearanceFigures(filed=161, cleared=113, solved_in_period=100)
    assert current.rate_presented == Decimal("86.13")
    assert last_year.rate_presented == Decimal("68.75")
    assert before.rate_presented == Decimal("70.19")
    yoy, previous = compare(current, last_year), compare(current, before)
    assert (yoy.filed.presented, yoy.rate.presented) == (Decimal("-28.65"), Decimal("17.38"))
    assert (previous.filed.presented, previous.rate.presented) == (
        Decimal("-14.91"),
        Decimal("15.94"),
    )


def test_figures_match_the_published_schema_example() -> None:
    """The wire example in schemas/clearance.py carries the same exact fractions."""
    example = wire.ClearanceSnapshot.model_json_schema()["examples"][0]
    current = ClearanceFigures(example["filed"], example["cleared"], example["solved_in_period"])
    assert current.rate is not None
    assert Fraction(example["rate"]["exact"]) == 100 * current.rate
    for basis in ("year_on_year", "previous_period"):
        shown = example[basis]
        base = ClearanceFigures(shown["filed"], shown["cleared"], 0)
        change = compare(current, base)
        assert Fraction(shown["filed_change"]["figure"]["exact"]) == change.filed.exact
        assert shown["filed_change"]["figure"]["presented"] == str(change.filed.presented)
        assert Fraction(shown["rate_change"]["figure"]["exact"]) == change.rate.exact
        assert shown["rate_change"]["figure"]["presented"] == str(change.rate.presented)


# -- presentation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (Fraction(28645, 1000), "28.65"),  # a tie rounds up
        (Fraction(-28645, 1000), "-28.65"),  # ... and away from zero when negative
        (Fraction(1, 200), "0.01"),
        (Fraction(-1, 200), "-0.01"),
        (Fraction(1, 3), "0.33"),
        (Fraction(2, 3), "0.67"),
        (Fraction(-1, 1000), "0.00"),  # never "-0.00"
        (Fraction(0), "0.00"),
        (Fraction(100), "100.00"),
        (Fraction(-1375, 48), "-28.65"),
        (Fraction(123456789, 100), "1234567.89"),
    ],
)
def test_present_rounds_half_up_to_two_decimals(value: Fraction, shown: str) -> None:
    assert str(present(value)) == shown


def test_present_percent_scales_a_ratio() -> None:
    assert present_percent(Fraction(118, 137)) == Decimal("86.13")
    assert present_percent(Fraction(1)) == Decimal("100.00")


def decimal_reference(value: Fraction) -> Decimal:
    """Decimal's own ROUND_HALF_UP, with enough digits that its division cannot fake a tie."""
    with localcontext() as context:
        context.prec = 200
        quotient = Decimal(value.numerator) / Decimal(value.denominator)
        return quotient.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


fractions = st.fractions(max_denominator=10**6).filter(lambda f: abs(f) < 10**9)


@given(fractions)
def test_present_agrees_with_decimal_round_half_up(value: Fraction) -> None:
    assert present(value) == decimal_reference(value)


@given(fractions)
def test_present_is_symmetric_and_close(value: Fraction) -> None:
    assert present(-value) == -present(value)
    assert abs(Fraction(present(value)) - value) <= Fraction(1, 200)


@given(fractions)
def test_present_agrees_with_the_wire_schema(value: Fraction) -> None:
    assert str(present(value)) == wire.present(value)


# -- rates and changes ----------------------------------------------------------------------


@given(st.integers(0, 10**6).flatmap(lambda f: st.tuples(st.integers(0, f), st.just(f))))
def test_rate_is_always_between_zero_and_one(counts: tuple[int, int]) -> None:
    cleared, filed = counts
    rate = clearance_rate(cleared, filed)
    if filed == 0:
        assert rate is None
    else:
        assert rate is not None
        assert 0 <= rate <= 1


@pytest.mark.parametrize(("cleared", "filed"), [(2, 1), (-1, 3), (1, 0)])
def test_rate_refuses_impossible_counts(cleared: int, filed: int) -> None:
    with pytest.raises(ValueError, match="between 0 and filed"):
        clearance_rate(cleared, filed)


@pytest.mark.parametrize("current", [0, 5])
def test_count_change_from_zero_is_undefined(current: int) -> None:
    change = count_change(current, 0)
    assert change == Change.undefined(ChangeUnit.PERCENT)
    assert not change.defined
    assert (change.exact, change.presented) == (None, None)


def test_count_change_is_relative() -> None:
    assert count_change(150, 100) == Change(ChangeUnit.PERCENT, Fraction(50), Decimal("50.00"))
    assert count_change(0, 7) == Change(ChangeUnit.PERCENT, Fraction(-100), Decimal("-100.00"))
    assert count_change(7, 7).presented == Decimal("0.00")


def test_count_change_refuses_negative_counts() -> None:
    with pytest.raises(ValueError, match="never negative"):
        count_change(-1, 3)


def test_rate_change_with_an_undefined_rate_is_undefined() -> None:
    assert rate_change(None, Fraction(1, 2)) == Change.undefined(ChangeUnit.POINTS)
    assert rate_change(Fraction(1, 2), None) == Change.undefined(ChangeUnit.POINTS)


def test_rate_change_from_a_zero_rate_is_defined() -> None:
    """A zero *rate* is a real base (nothing solved); only a missing rate is undefined."""
    change = rate_change(Fraction(1, 2), Fraction(0))
    assert change == Change(ChangeUnit.POINTS, Fraction(50), Decimal("50.00"))
    assert change.defined


rates = st.integers(1, 10**4).flatmap(lambda f: st.integers(0, f).map(lambda c: Fraction(c, f)))


@given(rates, rates)
def test_rate_change_presents_the_difference_of_presented_rates(
    current: Fraction, base: Fraction
) -> None:
    change = rate_change(current, base)
    assert change.exact == 100 * (current - base)
    assert change.presented == present_percent(current) - present_percent(base)
    # each rate is off by at most half a hundredth, so the difference by at most one
    assert abs(Fraction(change.presented) - change.exact) <= Fraction(1, 100)


def test_change_must_be_consistent() -> None:
    with pytest.raises(ValueError, match="both set or both undefined"):
        Change(ChangeUnit.PERCENT, Fraction(1), None)
    with pytest.raises(ValueError, match="both set or both undefined"):
        Change(ChangeUnit.PERCENT, None, Decimal("1.00"))


def test_figures_refuse_more_cleared_than_filed() -> None:
    with pytest.raises(ValueError, match="inconsistent"):
        ClearanceFigures(filed=3, cleared=4, solved_in_period=0)
    with pytest.raises(ValueError, match="inconsistent"):
        ClearanceFigures(filed=3, cleared=1, solved_in_period=-1)


def test_solved_in_period_may_exceed_filed() -> None:
    """Old cases solved in the period count there whatever their filing date."""
    figures = ClearanceFigures(filed=2, cleared=1, solved_in_period=9)
    assert figures.rate == Fraction(1, 2)


def test_no_filings_means_no_rate_and_undefined_changes() -> None:
    empty = ClearanceFigures(filed=0, cleared=0, solved_in_period=3)
    assert empty.rate is None
    assert empty.rate_presented is None
    change = compare(ClearanceFigures(4, 2, 2), empty)
    assert not change.filed.defined
    assert not change.rate.defined
    assert compare(empty, ClearanceFigures(4, 2, 2)).filed.presented == Decimal("-100.00")
