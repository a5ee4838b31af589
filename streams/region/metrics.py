"""Region core metrics: events by kind and outcome, parked updates, clock delay."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

EVENTS = Counter(
    "patrolflow_region_events",
    "Events processed by the region core, by kind and outcome (applied, failed, or why ignored).",
    ["kind", "outcome"],
)
PARKED = Counter(
    "patrolflow_routing_parked_updates",
    "Updates that arrived before their incident and wait for it (never dropped).",
)
HANDOFFS = Counter(
    "patrolflow_routing_unit_handoffs", "Units whose home region changed (explicit handoff)."
)
WATERMARK_DELAY = Gauge(
    "patrolflow_region_watermark_delay_seconds",
    "Wall clock minus the region's event-time watermark (owned regions only).",
    ["region"],
)
TICKS_FAILED = Counter(
    "patrolflow_region_ticks_failed", "Clock ticks that could not be sent (broker unavailable)."
)
INCIDENTS = Counter(
    "patrolflow_incidents_reported",
    "Incidents taken in by the region core (first report only), by category.",
    ["category"],
)
CLEARANCE_SECONDS = Histogram(
    "patrolflow_incident_clearance_seconds",
    "Incident clearance time: report to cleared (traffic: road clear), by category.",
    ["category"],
    buckets=(60, 300, 600, 1200, 1800, 3600, 7200, 10800, 21600, 43200, 86400),
)
