"""The lean Faust monitor writes exactly the series Faust's own Prometheus monitor writes."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from faust.sensors.prometheus import FaustMetrics, PrometheusMonitor
from faust.types import TP
from prometheus_client import CollectorRegistry

from streams.observability.faust_monitor import LeanPrometheusMonitor


class Owner:
    """A stream's task (the monitor keeps a weak reference to it)."""


class Stream:
    """What the monitor reads of a stream: its label and owner."""

    def __init__(self, label: str) -> None:
        self.shortlabel = f"Stream: {label}"
        self.task_owner = Owner()

    def __str__(self) -> str:
        return self.shortlabel


def drive(monitor: PrometheusMonitor) -> None:
    """A few records through two hops: received, handed to streams, table use, sends."""
    routing, region = Stream("region.routing"), Stream("region.process")
    units = SimpleNamespace(name="region-units")
    for offset in range(5):
        for tp, stream in ((TP("routing", 1), routing), (TP("region-events", 0), region)):
            message = SimpleNamespace(time_in=None)
            monitor.on_message_in(tp, offset, message)  # type: ignore[arg-type]
            state = monitor.on_stream_event_in(tp, offset, stream, None)  # type: ignore[arg-type]
            monitor.on_table_get(units, "hailar/u1")  # type: ignore[arg-type]
            monitor.on_table_set(units, "hailar/u1", b"{}")  # type: ignore[arg-type]
            sent = monitor.on_send_initiated(None, "region-events", None, 3, 10)  # type: ignore[arg-type]
            monitor.on_send_completed(None, sent, None)  # type: ignore[arg-type]
            monitor.on_stream_event_out(tp, offset, stream, None, state)  # type: ignore[arg-type]
            monitor.on_message_out(tp, offset, message)  # type: ignore[arg-type]
    monitor.on_table_del(units, "hailar/u1")  # type: ignore[arg-type]


def counts(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample except latencies (histogram sums and buckets depend on the clock)."""
    out: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in registry.collect():
        for sample in family.samples:
            timed = "latency" in sample.name or "runtime" in sample.name
            if (timed and not sample.name.endswith("_count")) or sample.name.endswith("_created"):
                continue
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def test_the_lean_monitor_writes_the_same_series_as_faust() -> None:
    figures: list[Any] = []
    for monitor_class in (PrometheusMonitor, LeanPrometheusMonitor):
        registry = CollectorRegistry()
        drive(monitor_class(metrics=FaustMetrics.create(registry, "patrolflow_faust")))
        figures.append(counts(registry))
    faust, lean = figures
    assert lean == faust
    assert faust[("patrolflow_faust_messages_received_total", ())] == 10
    table = (("operation", "keys_updated"), ("table", "table.region-units"))
    assert faust[("patrolflow_faust_table_operations_total", table)] == 10
