"""Dispatch metrics. Bounded labels only: force, outcome and region come from fixed sets."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

ASSIGNMENTS = Counter(
    "patrolflow_dispatch_assignments",
    "Dispatch decision records written, by force (none when no unit) and outcome.",
    ["force", "outcome"],
)
DECISION_SECONDS = Histogram(
    "patrolflow_dispatch_decision_seconds",
    "Time to decide an incident's assignments in the region core.",
    buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1),
)
REDISPATCHES = Counter(
    "patrolflow_dispatch_redispatches",
    "Slots re-dispatched after a decline or an acknowledgement timeout.",
)
UNITS_AVAILABLE = Gauge(
    "patrolflow_dispatch_units_available",
    "Units free, available and reporting fresh telemetry, by region and force.",
    ["region", "force"],
)
UNASSIGNED = Gauge(
    "patrolflow_dispatch_unassigned_incidents",
    "Open incidents with at least one slot waiting for a unit, by region.",
    ["region"],
)
OPEN_INCIDENTS = Gauge(
    "patrolflow_dispatch_open_incidents", "Open incidents, by region.", ["region"]
)


def clear_region_gauges() -> None:
    """Partitions revoked: another worker owns these regions now and exports them."""
    for gauge in (UNITS_AVAILABLE, UNASSIGNED, OPEN_INCIDENTS):
        gauge.clear()
