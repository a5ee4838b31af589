"""Ledger reports as wire records (``ClearanceSnapshot``): pure, shared by the topic and /clearance.

The ledger computes exact figures; the wire's ``Figure``/``Change`` constructors present them
(two decimals, half away from zero; a rate change presented as the difference of presented
rates). Both sides work from the same integers, so the two can never disagree.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime

from schemas.clearance import (
    UNKNOWN_ZONE,
    Change,
    ClearanceScope,
    ClearanceSnapshot,
    ClearanceWindow,
    Comparison,
    ComparisonBasis,
    Figure,
    IncidentsReported,
    TierResponse,
)
from schemas.incidents import CaseType, IncidentCategory
from streams.clearance.ledger import CaseLedger
from streams.clearance.periods import Period, rolling_windows


def snapshot(
    ledger: CaseLedger,
    period: Period,
    as_of: date,
    case_type: CaseType,
    *,
    window: ClearanceWindow = ClearanceWindow.CUSTOM,
    region: str | None = None,
    zone: str | None = None,
    computed_at: datetime,
    include_response: bool = False,
) -> ClearanceSnapshot:
    """The clearance of ``case_type`` in ``period`` as of ``as_of``, for one scope; with
    ``include_response``, also response compliance per tier and incidents per category."""
    report = ledger.report(period, as_of, case_type.value, zone=zone, region=region)
    current = report.figures
    rate = Figure.rate(current.cleared, current.filed)

    def comparison(basis: ComparisonBasis, span: Period, filed: int, cleared: int) -> Comparison:
        base_rate = Figure.rate(cleared, filed)
        return Comparison(
            basis=basis,
            start=span.start,
            end=span.end,
            filed=filed,
            cleared=cleared,
            rate=base_rate,
            filed_change=Change.relative(current.filed, filed),
            rate_change=Change.points(rate, base_rate),
        )

    yoy, pop = report.year_on_year, report.previous_period
    scope = (
        ClearanceScope.ZONE
        if zone is not None
        else ClearanceScope.REGION
        if region is not None
        else ClearanceScope.ALL
    )
    return ClearanceSnapshot(
        window=window,
        start=period.start,
        end=period.end,
        as_of=as_of,
        computed_at=computed_at,
        case_type=case_type,
        scope=scope,
        region_id=region if scope is ClearanceScope.REGION else None,
        zone_id=zone if scope is ClearanceScope.ZONE else None,
        filed=current.filed,
        cleared=current.cleared,
        solved_in_period=current.solved_in_period,
        rate=rate,
        year_on_year=comparison(
            ComparisonBasis.YEAR_ON_YEAR, yoy.period, yoy.figures.filed, yoy.figures.cleared
        ),
        previous_period=comparison(
            ComparisonBasis.PREVIOUS_PERIOD, pop.period, pop.figures.filed, pop.figures.cleared
        ),
        complete=report.complete,
        response=[
            TierResponse.of(tier, f.first_arrivals, f.within_target)
            for tier, f in ledger.incidents.response(period, as_of, zone, region).items()
        ]
        if include_response
        else None,
        incidents=[
            IncidentsReported(category=IncidentCategory(category), reported=count)
            for category, count in ledger.incidents.reported_by_category(
                period, as_of, zone, region
            ).items()
        ]
        if include_response
        else None,
    )


def scopes(regions: dict[str, tuple[str, ...]]) -> Iterator[tuple[str | None, str | None]]:
    """``(region, zone)`` of every published scope: the city, each region and its zones, and
    the ``unknown`` zone (cases whose incident had no known zone)."""
    yield None, None
    for region_id, zones in sorted(regions.items()):
        yield region_id, None
        for zone_id in zones:
            yield None, zone_id
    yield None, UNKNOWN_ZONE


def rolling_snapshots(
    ledger: CaseLedger,
    as_of: date,
    *,
    regions: dict[str, tuple[str, ...]],
    computed_at: datetime,
) -> Iterator[ClearanceSnapshot]:
    """Every rolling window x case type x scope."""
    for window, period in rolling_windows(as_of).items():
        for case_type in CaseType:
            for region, zone in scopes(regions):
                yield snapshot(
                    ledger,
                    period,
                    as_of,
                    case_type,
                    window=window,
                    region=region,
                    zone=zone,
                    computed_at=computed_at,
                    include_response=True,
                )
