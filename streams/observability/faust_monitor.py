"""Faust's Prometheus sensor with its per-record work made cheap; the same series, same values.

Faust calls its monitor several times for every record on every hop (received, handed to a
stream, done, acknowledged, each table read and write, each send). ``PrometheusMonitor``
looks up a labelled child (``labels()``: label checks, a lock, a dict) on every call and
rebuilds a stream's label with a regular expression for every event. Making those hooks
no-ops saved ~13 % of a worker's CPU per event (docs/benchmarks.md) but blanks the dashboards'
Faust panels; here each labelled child and stream label is looked up once and kept. The
plain ``Monitor`` bookkeeping underneath is kept too: Faust's consumer reads part of it
(when a stream last took an event) to warn about stuck streams.
"""

from __future__ import annotations

from typing import Any

from faust.sensors.monitor import Monitor
from faust.sensors.prometheus import PrometheusMonitor


class LeanPrometheusMonitor(PrometheusMonitor):
    """``PrometheusMonitor`` with cached label children on the per-record hooks."""

    def __init__(self, metrics: Any, **kwargs: Any) -> None:
        super().__init__(metrics=metrics, **kwargs)
        self._label_children: dict[tuple[str, tuple[str, ...]], Any] = {}
        self._stream_children: dict[Any, Any] = {}

    def _child(self, metric: Any, *values: str) -> Any:
        key = (metric._name, values)
        child = self._label_children.get(key)
        if child is None:
            child = self._label_children[key] = metric.labels(*values)
        return child

    def on_message_in(self, tp: Any, offset: int, message: Any) -> None:
        Monitor.on_message_in(self, tp, offset, message)
        m = self._metrics
        m.messages_received.inc()
        m.active_messages.inc()
        self._child(m.messages_received_per_topics, tp.topic).inc()
        self._child(m.messages_received_per_topics_partition, tp.topic, str(tp.partition)).set(
            offset
        )

    def on_stream_event_in(self, tp: Any, offset: int, stream: Any, event: Any) -> Any:
        state = Monitor.on_stream_event_in(self, tp, offset, stream, event)
        m = self._metrics
        m.total_events.inc()
        m.total_active_events.inc()
        child = self._stream_children.get(stream)
        if child is None:
            label = f"stream.{self._stream_label(stream)}.events"
            child = self._stream_children[stream] = m.total_events_per_stream.labels(label)
        child.inc()
        return state

    def on_table_get(self, table: Any, key: Any) -> None:
        Monitor.on_table_get(self, table, key)
        operations = self._metrics.table_operations
        self._child(operations, f"table.{table.name}", self.KEYS_RETRIEVED).inc()

    def on_table_set(self, table: Any, key: Any, value: Any) -> None:
        Monitor.on_table_set(self, table, key, value)
        operations = self._metrics.table_operations
        self._child(operations, f"table.{table.name}", self.KEYS_UPDATED).inc()

    def on_table_del(self, table: Any, key: Any) -> None:
        Monitor.on_table_del(self, table, key)
        operations = self._metrics.table_operations
        self._child(operations, f"table.{table.name}", self.KEYS_DELETED).inc()

    def on_send_initiated(
        self, producer: Any, topic: str, message: Any, keysize: int, valsize: int
    ) -> Any:
        self._child(self._metrics.topic_messages_sent, f"topic.{topic}").inc()
        return Monitor.on_send_initiated(self, producer, topic, message, keysize, valsize)


def install(app: Any) -> None:
    """Replace the monitor ``setup_prometheus_sensors`` installed (same metric objects)."""
    current = app.monitor
    assert isinstance(current, PrometheusMonitor)
    app.monitor = LeanPrometheusMonitor(metrics=current._metrics)
