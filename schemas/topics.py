"""Canonical topic names: part of the wire contract, shared by the app and the AsyncAPI document.

A deployment may prepend ``PATROLFLOW_TOPIC_PREFIX`` to every name; these are the names without it.
"""

from __future__ import annotations

from typing import Final

INCIDENTS_REPORTED: Final = "incidents.reported"
INCIDENTS_UPDATES: Final = "incidents.updates"
UNITS_TELEMETRY: Final = "units.telemetry"
DISPATCH_ASSIGNMENTS: Final = "dispatch.assignments"
ALERTS_RESPONSE: Final = "alerts.response"
METRICS_CLEARANCE: Final = "metrics.clearance"
DEAD_LETTERS: Final = "patrolflow.deadletter"

INPUT_TOPICS: Final = (INCIDENTS_REPORTED, INCIDENTS_UPDATES, UNITS_TELEMETRY)
OUTPUT_TOPICS: Final = (DISPATCH_ASSIGNMENTS, ALERTS_RESPONSE, METRICS_CLEARANCE, DEAD_LETTERS)
ALL_TOPICS: Final = INPUT_TOPICS + OUTPUT_TOPICS
