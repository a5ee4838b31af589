"""Contract of ``metrics.clearance``: case clearance snapshots (an output; also ``/clearance``).

Figures are exact internally (integers and fractions). Every percentage or points figure is
published three ways (:class:`Figure`): ``exact`` (a reduced fraction ``"p/q"`` that Python's
``fractions.Fraction`` parses), ``value`` (the same as a float, for plotting) and
``presented`` (two decimals, rounded half away from zero, as bulletins print it). A rate
change in points is presented as the difference of the two *presented* rates, so a reader's
subtraction checks out (86.13 - 70.19 = 15.94); its ``exact`` is the true difference.

Dates are calendar dates in the city's time zone; spans are inclusive.
Key: :meth:`ClearanceSnapshot.kafka_key` (window/case type/scope), so a compacted topic keeps
the latest snapshot of each series.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from fractions import Fraction
from typing import Annotated, Final

from pydantic import ConfigDict, Field, Strict, model_validator

from schemas.common import Identifier, OutputModel, Timestamp
from schemas.incidents import CaseType, IncidentCategory

__all__ = [
    "UNKNOWN_ZONE",
    "Change",
    "ChangeStatus",
    "ChangeUnit",
    "ClearanceScope",
    "ClearanceSnapshot",
    "ClearanceWindow",
    "Comparison",
    "ComparisonBasis",
    "Figure",
    "IncidentsReported",
    "TierResponse",
    "hundredths",
    "present",
]

#: Zone id under which cases with no known zone are counted (they are in the totals too).
UNKNOWN_ZONE: Final = "unknown"

_EXACT_PATTERN: Final = r"^-?[0-9]{1,30}(/[0-9]{1,30})?$"
_PRESENTED_PATTERN: Final = r"^-?[0-9]{1,30}\.[0-9]{2}$"

Count = Annotated[int, Strict(), Field(ge=0)]


def hundredths(value: Fraction) -> int:
    """``value`` in hundredths, rounded half away from zero (bulletin rounding)."""
    scaled = abs(value) * 100
    rounded = int(scaled + Fraction(1, 2))  # floor(x + 1/2) for x >= 0
    return -rounded if value < 0 else rounded


def _format_hundredths(units: int) -> str:
    sign = "-" if units < 0 else ""
    whole, frac = divmod(abs(units), 100)
    return f"{sign}{whole}.{frac:02d}"


def present(value: Fraction) -> str:
    """Two-decimal presentation, rounded half away from zero: ``-28.6458...`` -> ``"-28.65"``."""
    return _format_hundredths(hundredths(value))


def _exact(value: Fraction) -> str:
    return str(value)  # "p/q" or "p", reduced; Fraction(str) round-trips


class Figure(OutputModel):
    """A percentage or a difference in percentage points, exact and presented."""

    exact: str = Field(
        max_length=64, pattern=_EXACT_PATTERN, description='Exact value, reduced fraction "p/q".'
    )
    value: Annotated[float, Strict()] = Field(
        allow_inf_nan=False, description="The exact value as a float (for plotting)."
    )
    presented: str = Field(
        max_length=64,
        pattern=_PRESENTED_PATTERN,
        description="Two decimals as published (half away from zero).",
    )

    @classmethod
    def of(cls, value: Fraction, presented: str | None = None) -> Figure:
        return cls(exact=_exact(value), value=float(value), presented=presented or present(value))

    @classmethod
    def rate(cls, cleared: int, filed: int) -> Figure | None:
        """Clearance rate in percent, ``None`` (undefined) when nothing was filed."""
        return cls.of(Fraction(100 * cleared, filed)) if filed else None

    @property
    def fraction(self) -> Fraction:
        return Fraction(self.exact)


class ChangeUnit(StrEnum):
    """``percent``: relative change of a count. ``points``: difference of two rates."""

    PERCENT = "percent"
    POINTS = "points"


class ChangeStatus(StrEnum):
    """``undefined`` when the comparison base is zero (or a rate is undefined)."""

    DEFINED = "defined"
    UNDEFINED = "undefined"


class Change(OutputModel):
    """A change against a comparison span; ``figure`` is null exactly when undefined."""

    unit: ChangeUnit = Field(description="percent (counts) or points (rates).")
    status: ChangeStatus = Field(description="undefined when the base is zero.")
    figure: Figure | None = Field(description="The change; null when undefined.")

    @model_validator(mode="after")
    def _consistent(self) -> Change:
        if (self.status is ChangeStatus.DEFINED) != (self.figure is not None):
            raise ValueError("figure is set exactly when status is defined")
        return self

    @classmethod
    def relative(cls, current: int, base: int) -> Change:
        """Relative change of a count in percent; undefined for a zero base."""
        if base == 0:
            return cls(unit=ChangeUnit.PERCENT, status=ChangeStatus.UNDEFINED, figure=None)
        figure = Figure.of(Fraction(100 * (current - base), base))
        return cls(unit=ChangeUnit.PERCENT, status=ChangeStatus.DEFINED, figure=figure)

    @classmethod
    def points(cls, current: Figure | None, base: Figure | None) -> Change:
        """Difference of two rates in points; presented as the difference of presented rates."""
        if current is None or base is None:
            return cls(unit=ChangeUnit.POINTS, status=ChangeStatus.UNDEFINED, figure=None)
        shown = _format_hundredths(hundredths(current.fraction) - hundredths(base.fraction))
        figure = Figure.of(current.fraction - base.fraction, presented=shown)
        return cls(unit=ChangeUnit.POINTS, status=ChangeStatus.DEFINED, figure=figure)


class ComparisonBasis(StrEnum):
    """``year_on_year`` (同比): same calendar span a year earlier. ``previous_period`` (环比):
    the span of equal length just before (whole months: the same number of months before)."""

    YEAR_ON_YEAR = "year_on_year"
    PREVIOUS_PERIOD = "previous_period"


class Comparison(OutputModel):
    """The comparison span's figures and the changes from it to the period."""

    basis: ComparisonBasis = Field(description="Which comparison.")
    start: date = Field(description="First day of the comparison span (inclusive).")
    end: date = Field(description="Last day of the comparison span (inclusive).")
    filed: Count = Field(description="Cases filed in the comparison span.")
    cleared: Count = Field(description="Of those, cases solved by as_of (cohort).")
    rate: Figure | None = Field(description="Clearance rate in percent; null when filed is 0.")
    filed_change: Change = Field(description="Relative change of filed, in percent.")
    rate_change: Change = Field(description="Change of the clearance rate, in points.")

    @model_validator(mode="after")
    def _consistent(self) -> Comparison:
        _check_span_and_counts(self.start, self.end, self.filed, self.cleared, self.rate)
        if self.filed_change.unit is not ChangeUnit.PERCENT:
            raise ValueError("filed_change is in percent")
        if self.rate_change.unit is not ChangeUnit.POINTS:
            raise ValueError("rate_change is in points")
        return self


class TierResponse(OutputModel):
    """First arrivals of one circle tier in the period, and the share within target.

    Incidents are counted on the day they were reported; each once, with its first arrival
    (of any unit, reported or inferred from GPS) as last known (a late event may correct it).
    """

    tier: Identifier = Field(
        description="Circle tier of the incidents (1min, 3min, 5min, zone_default, ...)."
    )
    first_arrivals: Count = Field(description="Incidents of the tier with a first arrival.")
    within_target: Count = Field(description="Of those, first arrival within the target.")
    share: Figure = Field(description="within_target / first_arrivals, in percent.")

    @model_validator(mode="after")
    def _consistent(self) -> TierResponse:
        if self.first_arrivals <= 0 or self.within_target > self.first_arrivals:
            raise ValueError("0 <= within_target <= first_arrivals and first_arrivals > 0")
        return self

    @classmethod
    def of(cls, tier: str, first_arrivals: int, within_target: int) -> TierResponse:
        share = Figure.rate(within_target, first_arrivals)
        assert share is not None, "a tier is listed only with at least one first arrival"
        return cls(
            tier=tier, first_arrivals=first_arrivals, within_target=within_target, share=share
        )


class IncidentsReported(OutputModel):
    """Incidents of one category reported in the period (each once, by its first report)."""

    category: IncidentCategory = Field(description="Incident category.")
    reported: Count = Field(description="Incidents reported in the period.")


class ClearanceWindow(StrEnum):
    """Rolling windows of the periodic snapshots; ``custom`` for an arbitrary span."""

    DAYS_7 = "7d"
    DAYS_30 = "30d"
    DAYS_90 = "90d"
    MONTH_TO_DATE = "mtd"
    QUARTER_TO_DATE = "qtd"
    CUSTOM = "custom"


class ClearanceScope(StrEnum):
    """What the figures cover: the whole city, one dispatch region, or one zone."""

    ALL = "all"
    REGION = "region"
    ZONE = "zone"


def _check_span_and_counts(
    start: date, end: date, filed: int, cleared: int, rate: Figure | None
) -> None:
    if start > end:
        raise ValueError("start is after end")
    if cleared > filed:
        raise ValueError("cleared exceeds filed")
    if (rate is None) != (filed == 0):
        raise ValueError("rate is null exactly when filed is 0")


class ClearanceSnapshot(OutputModel):
    """Case clearance for one window, case type and scope, as of a date (cohort method).

    ``filed``: cases filed in [start, end]. ``cleared``: how many of those were solved by
    ``as_of`` (so a late solve restates its filing period). ``solved_in_period``: cases solved
    in [start, end], whatever their filing date.
    """

    model_config = ConfigDict(
        title="ClearanceSnapshot",
        json_schema_extra={
            "examples": [
                {
                    "window": "custom",
                    "start": "2025-02-01",
                    "end": "2025-04-30",
                    "as_of": "2025-05-01",
                    "computed_at": "2025-05-01T00:00:00+08:00",
                    "case_type": "criminal",
                    "scope": "all",
                    "region_id": None,
                    "zone_id": None,
                    "filed": 137,
                    "cleared": 118,
                    "solved_in_period": 121,
                    "rate": {
                        "exact": "11800/137",
                        "value": 86.13138686131387,
                        "presented": "86.13",
                    },
                    "year_on_year": {
                        "basis": "year_on_year",
                        "start": "2024-02-01",
                        "end": "2024-04-30",
                        "filed": 192,
                        "cleared": 132,
                        "rate": {"exact": "275/4", "value": 68.75, "presented": "68.75"},
                        "filed_change": {
                            "unit": "percent",
                            "status": "defined",
                            "figure": {
                                "exact": "-1375/48",
                                "value": -28.645833333333332,
                                "presented": "-28.65",
                            },
                        },
                        "rate_change": {
                            "unit": "points",
                            "status": "defined",
                            "figure": {
                                "exact": "9525/548",
                                "value": 17.381386861313867,
                                "presented": "17.38",
                            },
                        },
                    },
                    "previous_period": {
                        "basis": "previous_period",
                        "start": "2024-11-01",
                        "end": "2025-01-31",
                        "filed": 161,
                        "cleared": 113,
                        "rate": {
                            "exact": "11300/161",
                            "value": 70.1863354037267,
                            "presented": "70.19",
                        },
                        "filed_change": {
                            "unit": "percent",
                            "status": "defined",
                            "figure": {
                                "exact": "-2400/161",
                                "value": -14.906832298136646,
                                "presented": "-14.91",
                            },
                        },
                        "rate_change": {
                            "unit": "points",
                            "status": "defined",
                            "figure": {
                                "exact": "351700/22057",
                                "value": 15.94505145758716,
                                "presented": "15.94",
                            },
                        },
                    },
                    "complete": True,
                    "response": [
                        {
                            "tier": "3min",
                            "first_arrivals": 412,
                            "within_target": 371,
                            "share": {
                                "exact": "9275/103",
                                "value": 90.04854368932038,
                                "presented": "90.05",
                            },
                        }
                    ],
                    "incidents": [
                        {"category": "criminal", "reported": 152},
                        {"category": "traffic", "reported": 260},
                    ],
                }
            ]
        },
    )

    window: ClearanceWindow = Field(description="Rolling window name (custom for a free span).")
    start: date = Field(description="First day of the period (inclusive, city time zone).")
    end: date = Field(description="Last day of the period (inclusive, city time zone).")
    as_of: date = Field(description="Solves up to and including this day count as cleared.")
    computed_at: Timestamp = Field(description="Event-time clock when the snapshot was made.")
    case_type: CaseType = Field(description="Criminal (filed/solved) or administrative.")
    scope: ClearanceScope = Field(description="all, one region, or one zone.")
    region_id: Identifier | None = Field(description="The region when scope is region.")
    zone_id: Identifier | None = Field(
        description=f'The zone when scope is zone ("{UNKNOWN_ZONE}": cases with no known zone).'
    )
    filed: Count = Field(description="Cases filed in the period.")
    cleared: Count = Field(description="Of those, cases solved by as_of (cohort).")
    solved_in_period: Count = Field(description="Cases solved in the period, any filing date.")
    rate: Figure | None = Field(description="Clearance rate in percent; null when filed is 0.")
    year_on_year: Comparison = Field(description="同比: the same calendar span a year earlier.")
    previous_period: Comparison = Field(description="环比: the span of equal length before.")
    complete: bool = Field(
        default=True,
        description="False when part of the period or of a comparison span lies before the "
        "retained history (about 25 months): those figures then miss the dropped days.",
    )
    response: list[TierResponse] | None = Field(
        default=None,
        description="Response compliance in the period and scope, per circle tier with at "
        "least one first arrival (whatever case_type). Absent or null when not requested "
        "(/clearance without include=response).",
    )
    incidents: list[IncidentsReported] | None = Field(
        default=None,
        description="Incidents reported in the period and scope, per category with at least "
        "one (whatever case_type). Absent or null when not requested.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> ClearanceSnapshot:
        _check_span_and_counts(self.start, self.end, self.filed, self.cleared, self.rate)
        if self.year_on_year.basis is not ComparisonBasis.YEAR_ON_YEAR:
            raise ValueError("year_on_year has basis year_on_year")
        if self.previous_period.basis is not ComparisonBasis.PREVIOUS_PERIOD:
            raise ValueError("previous_period has basis previous_period")
        wants_region = self.scope is ClearanceScope.REGION
        wants_zone = self.scope is ClearanceScope.ZONE
        if (self.region_id is not None) != wants_region or (self.zone_id is not None) != wants_zone:
            raise ValueError("scope all: no ids; region: region_id only; zone: zone_id only")
        return self

    def kafka_key(self) -> str:
        """``<window>/<case_type>/all``, ``.../region/<region_id>`` or ``.../zone/<zone_id>``."""
        scope_id = self.region_id or self.zone_id
        tail = f"/{scope_id}" if scope_id else ""
        return f"{self.window.value}/{self.case_type.value}/{self.scope.value}{tail}"
