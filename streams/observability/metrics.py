"""The worker's own health metrics: consumer lag from broker end offsets, event-loop delay.

Defined here (prometheus_client only, no Faust) so that the catalogue can list them without
starting anything; ``streams.observability.agents`` feeds them inside a worker.
"""

from __future__ import annotations

from prometheus_client import Gauge, Histogram

CONSUMER_LAG = Gauge(
    "patrolflow_consumer_lag_records",
    "Records of a partition an agent reads that are not committed yet (broker end offset minus "
    "committed offset), by topic and partition; owned partitions only, changelogs excluded.",
    ["topic", "partition"],
)
#: From a timer's wake-up being 1 ms late to the loop blocked for seconds (a CPU-bound agent,
#: a synchronous call): /livez and the session timeout (10 s) notice only the far end.
LOOP_DELAY = Histogram(
    "patrolflow_event_loop_delay_seconds",
    "How much later than asked a periodic sleep on the worker's event loop wakes up.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
