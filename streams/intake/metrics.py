"""Intake metrics: every record read is counted once, by topic and outcome."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

RECORDS = Counter(
    "patrolflow_intake_records",
    "Input records read by intake, by topic and outcome (accepted or dead_lettered).",
    ["topic", "outcome"],
)
DEAD_LETTERS = Counter(
    "patrolflow_dead_letters",
    "Records sent to the dead-letter topic, by source topic and reason.",
    ["topic", "reason"],
)
DECODE_SECONDS = Histogram(
    "patrolflow_intake_decode_seconds",
    "Time to decode and validate one input record.",
    ["topic"],
    buckets=(0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05),
)
