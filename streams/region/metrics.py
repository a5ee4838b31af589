"""Region core metrics: events by kind and outcome, parked updates, clock delay."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

EVENTS = Counter(
    "patrolflow_region_events",
    "Events processed by the region core, by kind and outcome (applied or why ignored).",
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
