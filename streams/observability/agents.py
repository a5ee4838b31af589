"""Worker wiring of the health metrics: consumer lag, event-loop delay, counters from 0.

Importing this module (``streams.worker.AGENT_MODULES``) registers on the app:

- a timer (every ``LAG_INTERVAL_S``) that sets ``patrolflow_consumer_lag_records`` for the
  partitions this worker owns of the topics its agents read (input, routing, region and case
  topics; never changelogs), from the broker's end offsets and the group's committed offsets.
  The same refresh runs when a rebalance completes, *before* Faust resumes fetching, so a new
  owner reports the backlog it takes over at once; revoked partitions' series are removed (their
  new owner exports them);
- a task that measures the event loop's delay into ``patrolflow_event_loop_delay_seconds``;
- the labelled counters of ``streams.observability.series``, at 0.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Collection, Iterable, Mapping
from typing import Any, cast

from streams.app import app, settings
from streams.observability import loop, metrics, series
from streams.observability.lag import PartitionLag, partition_lags, sync_gauge

log = logging.getLogger(__name__)

#: Two small broker requests per worker per interval; Prometheus scrapes every 15 s or so.
LAG_INTERVAL_S = 5.0
#: A refresh inside the rebalance must never hold the worker up for long.
REBALANCE_REFRESH_TIMEOUT_S = 5.0

series.initialise()


def source_topics() -> frozenset[str]:
    """Deployed names of the topics the agents read (a table's changelog is no agent's source)."""
    names: set[str] = set()
    for agent in app.agents.values():
        names.update(getattr(agent.channel, "topics", ()))
    return frozenset(names)


def topic_label(deployed: str) -> str:
    """Without ``PATROLFLOW_TOPIC_PREFIX``: canonical names, and ``<app_id>-routing`` etc."""
    return deployed.removeprefix(settings.topic_prefix)


async def _fetch_committed(consumer: Any, partitions: list[Any]) -> dict[Any, int | None]:
    """Runs on the consumer thread's loop, where Faust's aiokafka consumer lives."""
    offsets = await asyncio.gather(*(consumer.committed(tp) for tp in partitions))
    return dict(zip(partitions, offsets, strict=True))


async def committed_offsets(partitions: list[Any]) -> Mapping[Any, int | None]:
    """The group's committed offsets as the broker holds them (None: never committed).

    Not Faust's in-memory ``_committed_offset``: that is empty from an assignment until Faust
    seeks (just when the backlog a worker takes over is largest). Faust exposes no call for
    this, so we ask its aiokafka consumer (public ``committed()``) on the consumer's thread.
    """
    thread = cast(Any, app.consumer)._thread  # Faust's ConsumerThread: owns aiokafka's
    kafka_consumer = thread._ensure_consumer()
    return cast(
        Mapping[Any, int | None],
        await thread.call_thread(_fetch_committed, kafka_consumer, partitions),
    )


class LagExporter:
    """Keeps ``patrolflow_consumer_lag_records`` equal to the lag of the owned partitions."""

    def __init__(self) -> None:
        self.exported: set[tuple[str, str]] = set()
        self._lock = asyncio.Lock()  # the timer and a rebalance may refresh at the same time

    async def refresh(self) -> list[PartitionLag]:
        async with self._lock:
            consumer = app.consumer
            sources = source_topics()
            owned = sorted(tp for tp in consumer.assignment() if tp.topic in sources)
            lags: list[PartitionLag] = []
            if owned:
                ends = await consumer.highwaters(*owned)
                committed = await committed_offsets(owned)
                never = [tp for tp in owned if committed.get(tp) is None]
                earliest = await consumer.earliest_offsets(*never) if never else {}
                # A rebalance may have moved partitions while we waited on the broker.
                still = consumer.assignment()
                known = {tp: end for tp, end in ends.items() if end is not None and tp in still}
                lags = [
                    dataclasses.replace(x, topic=topic_label(x.topic))
                    for x in partition_lags(known, committed, earliest)
                ]
            self.exported = sync_gauge(metrics.CONSUMER_LAG, lags, self.exported)
            return lags

    def forget(self, revoked: Iterable[Any] | None) -> None:
        """Remove the series of revoked partitions (all of them when not told which)."""
        gone = (
            set(self.exported)
            if revoked is None
            else {(topic_label(tp.topic), str(tp.partition)) for tp in revoked}
        )
        for labels in sorted(gone & self.exported):
            metrics.CONSUMER_LAG.remove(*labels)
        self.exported -= gone


exporter = LagExporter()


@app.timer(interval=LAG_INTERVAL_S, name="observability.lag")  # type: ignore[untyped-decorator]
async def export_consumer_lag() -> None:
    try:
        await exporter.refresh()
    except Exception as exc:  # broker away or a rebalance under way: the next tick tries again
        log.info("consumer lag not refreshed: %s", type(exc).__name__)


async def _on_rebalance_complete(sender: Any, *args: Any, **kwargs: Any) -> None:
    # Faust awaits this before it resumes fetching: what we read is the backlog taken over.
    try:
        await asyncio.wait_for(exporter.refresh(), timeout=REBALANCE_REFRESH_TIMEOUT_S)
    except Exception as exc:
        log.info("consumer lag not refreshed after the rebalance: %s", type(exc).__name__)


def _on_partitions_revoked(
    sender: Any, revoked: Collection[Any] | None = None, *args: Any, **kwargs: Any
) -> None:
    exporter.forget(revoked)


# mode's signal types do not accept plain functions under mypy; the runtime does.
app.on_rebalance_complete.connect(cast(Any, _on_rebalance_complete))
app.on_partitions_revoked.connect(cast(Any, _on_partitions_revoked))


@app.task  # type: ignore[untyped-decorator]
async def probe_event_loop() -> None:
    await loop.probe_forever(metrics.LOOP_DELAY.observe)
