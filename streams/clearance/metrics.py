"""Clearance metrics: the published figures as gauges (city and regions), and case events.

Zones are left to ``metrics.clearance`` and ``/clearance``: 17 zones x 5 windows x 2 case types
would multiply series for little use on a dashboard.
"""

from __future__ import annotations

import contextlib

from prometheus_client import Counter, Gauge

from schemas.clearance import ClearanceScope, ClearanceSnapshot

CASE_EVENTS = Counter(
    "patrolflow_clearance_case_events",
    "Case events applied to the ledger, by kind and outcome (duplicates and unknown cases too).",
    ["kind", "outcome"],
)
SNAPSHOT_FAILURES = Counter(
    "patrolflow_clearance_snapshot_failures", "Periodic clearance snapshots that failed."
)
CASES_FILED = Gauge(
    "patrolflow_clearance_cases_filed",
    "Cases filed in the rolling window, by window, case type and region (all = whole city).",
    ["window", "case_type", "region"],
)
CLEARANCE_RATE = Gauge(
    "patrolflow_clearance_rate_ratio",
    "Cohort clearance rate (cleared / filed, 0..1) of the window; absent when nothing filed.",
    ["window", "case_type", "region"],
)
RATE_CHANGE = Gauge(
    "patrolflow_clearance_rate_change_points",
    "Change of the clearance rate against the comparison span, in percentage points.",
    ["window", "case_type", "region", "basis"],
)
FILED_CHANGE = Gauge(
    "patrolflow_clearance_filed_change_percent",
    "Relative change of cases filed against the comparison span, in percent.",
    ["window", "case_type", "region", "basis"],
)


def export(record: ClearanceSnapshot) -> None:
    """Set the gauges from one snapshot of the whole city or of a region."""
    if record.scope is ClearanceScope.ZONE:
        return
    region = record.region_id or "all"
    labels = (record.window.value, record.case_type.value, region)
    CASES_FILED.labels(*labels).set(record.filed)
    if record.rate is not None:
        CLEARANCE_RATE.labels(*labels).set(record.rate.value / 100)
    else:
        _remove(CLEARANCE_RATE, labels)
    for comparison in (record.year_on_year, record.previous_period):
        basis = comparison.basis.value
        for gauge, change in (
            (RATE_CHANGE, comparison.rate_change),
            (FILED_CHANGE, comparison.filed_change),
        ):
            if change.figure is not None:
                gauge.labels(*labels, basis).set(change.figure.value)
            else:
                _remove(gauge, (*labels, basis))


def _remove(gauge: Gauge, labels: tuple[str, ...]) -> None:
    with contextlib.suppress(KeyError):  # never set: nothing to remove
        gauge.remove(*labels)
