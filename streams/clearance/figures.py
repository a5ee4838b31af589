"""Exact clearance figures and their changes, presented as statistical bulletins print them.

Everything is computed with ints and :class:`~fractions.Fraction`; nothing passes through a
float. The rules (decisions.md, "Clearance figures"):

- clearance rate = cleared / filed, cohort method: of the cases filed in the period, how many
  are solved as of a date, so it lies in [0, 1]; undefined (``None``) when nothing was filed;
- a count change is relative, in percent: 100 * (current - base) / base;
- a rate change is a difference in percentage points: 100 * (current rate - base rate);
- a zero base (or an undefined rate) makes the change undefined: an explicit state, never
  infinity, zero or a bare ``None`` that could mean something else;
- presentation rounds to two decimals half-up, ties away from zero (``ROUND_HALF_UP``), so
  -28.645 presents as -28.65, like 28.645 as 28.65;
- a rate change is *presented* as the difference of the two presented rates, so a reader's
  subtraction checks out (86.13 - 70.19 = 15.94 although the exact 15.9450... would round to
  15.95); the exact difference travels beside it.

``Change.exact`` is in the unit it is presented in (percent or points), so ``presented`` is
always ``exact`` rounded, except for the points rule above.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from schemas.clearance import ChangeUnit

__all__ = [
    "Change",
    "ChangeUnit",
    "ClearanceFigures",
    "FiguresChange",
    "clearance_rate",
    "compare",
    "count_change",
    "present",
    "present_percent",
    "rate_change",
]


def present(value: Fraction) -> Decimal:
    """``value`` to two decimals, half-up with ties away from zero: -28.6458.. -> -28.65.

    Rounded in integer arithmetic on the exact fraction: a Decimal division of a repeating
    fraction would itself round first, and a value just below a tie could then look like one.
    """
    hundredths, remainder = divmod(abs(value.numerator) * 100, value.denominator)
    if 2 * remainder >= value.denominator:
        hundredths += 1
    signed = -hundredths if value < 0 else hundredths
    return Decimal(f"{signed}E-2")  # exact: a string constructor never rounds


def present_percent(ratio: Fraction) -> Decimal:
    """A ratio (0.8613..) as a presented percentage (86.13)."""
    return present(ratio * 100)


def clearance_rate(cleared: int, filed: int) -> Fraction | None:
    """cleared / filed in [0, 1]; ``None`` when nothing was filed (no rate exists)."""
    if not 0 <= cleared <= filed:
        raise ValueError(f"cohort cleared {cleared} must lie between 0 and filed {filed}")
    return Fraction(cleared, filed) if filed else None


@dataclass(frozen=True, slots=True)
class Change:
    """A change against a comparison span: ``exact`` and ``presented`` are set exactly when
    the change is defined."""

    unit: ChangeUnit
    exact: Fraction | None
    presented: Decimal | None

    def __post_init__(self) -> None:
        if (self.exact is None) != (self.presented is None):
            raise ValueError("exact and presented are both set or both undefined")

    @property
    def defined(self) -> bool:
        return self.exact is not None

    @classmethod
    def undefined(cls, unit: ChangeUnit) -> Change:
        return cls(unit=unit, exact=None, presented=None)


def count_change(current: int, base: int) -> Change:
    """Relative change of a count in percent; undefined when the base is zero."""
    if current < 0 or base < 0:
        raise ValueError(f"counts are never negative (current {current}, base {base})")
    if base == 0:
        return Change.undefined(ChangeUnit.PERCENT)
    exact = Fraction(100 * (current - base), base)
    return Change(unit=ChangeUnit.PERCENT, exact=exact, presented=present(exact))


def rate_change(current: Fraction | None, base: Fraction | None) -> Change:
    """Difference of two rates in points; undefined when either rate is."""
    if current is None or base is None:
        return Change.undefined(ChangeUnit.POINTS)
    shown = present_percent(current) - present_percent(base)  # exact: both have two decimals
    return Change(unit=ChangeUnit.POINTS, exact=100 * (current - base), presented=shown)


@dataclass(frozen=True, slots=True)
class ClearanceFigures:
    """One period's case figures.

    ``filed``: cases filed in the period; ``cleared``: how many of those are solved as of the
    query's date (cohort); ``solved_in_period``: cases solved in the period, whatever their
    filing date (so it may exceed ``filed``).
    """

    filed: int
    cleared: int
    solved_in_period: int

    def __post_init__(self) -> None:
        if not 0 <= self.cleared <= self.filed or self.solved_in_period < 0:
            raise ValueError(f"inconsistent clearance figures {self}")

    @property
    def rate(self) -> Fraction | None:
        return clearance_rate(self.cleared, self.filed)

    @property
    def rate_presented(self) -> Decimal | None:
        rate = self.rate
        return None if rate is None else present_percent(rate)


@dataclass(frozen=True, slots=True)
class FiguresChange:
    """How a period's figures changed from a comparison span's."""

    filed: Change
    rate: Change


def compare(current: ClearanceFigures, base: ClearanceFigures) -> FiguresChange:
    return FiguresChange(
        filed=count_change(current.filed, base.filed),
        rate=rate_change(current.rate, base.rate),
    )
