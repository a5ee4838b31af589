"""Clearance metrics: the published rolling-window figures as gauges, and case events.

Labels are bounded by the city file: ``scope`` is all, region or zone and ``area`` the region
or zone id (``all`` for the city; zone ``unknown`` for cases with no known zone).
"""

from __future__ import annotations

import contextlib

from prometheus_client import Counter, Gauge

from schemas.clearance import ClearanceSnapshot

CASE_EVENTS = Counter(
    "patrolflow_clearance_case_events",
    "Case events applied to the ledger, by kind and outcome (duplicates and unknown cases too).",
    ["kind", "outcome"],
)
INCIDENT_FACTS = Counter(
    "patrolflow_clearance_incident_facts",
    "Incident facts applied to the ledger (incident_reported, first_arrival), by kind and "
    "outcome (counted, corrected, duplicate: a replay).",
    ["kind", "outcome"],
)
SNAPSHOT_FAILURES = Counter(
    "patrolflow_clearance_snapshot_failures", "Periodic clearance snapshots that failed."
)
CASES_FILED = Gauge(
    "patrolflow_clearance_cases_filed",
    "Cases filed in the rolling window, by window, case type, scope and area.",
    ["window", "case_type", "scope", "area"],
)
CLEARANCE_RATE = Gauge(
    "patrolflow_clearance_rate_ratio",
    "Cohort clearance rate (cleared / filed, 0..1) of the window; absent when nothing filed.",
    ["window", "case_type", "scope", "area"],
)
RATE_CHANGE = Gauge(
    "patrolflow_clearance_rate_change_points",
    "Change of the clearance rate against the comparison span, in percentage points.",
    ["window", "case_type", "scope", "area", "basis"],
)
FILED_CHANGE = Gauge(
    "patrolflow_clearance_filed_change_percent",
    "Relative change of cases filed against the comparison span, in percent.",
    ["window", "case_type", "scope", "area", "basis"],
)


def export(record: ClearanceSnapshot) -> None:
    """Set the gauges from one snapshot."""
    area = record.zone_id or record.region_id or "all"
    labels = (record.window.value, record.case_type.value, record.scope.value, area)
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
