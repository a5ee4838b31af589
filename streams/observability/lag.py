"""Consumer lag per topic/partition, from end offsets and committed offsets (pure).

Faust's sensors give a lag only indirectly (``docs/metrics.md``, "Derived in PromQL"): their end
offset is refreshed only when a record of the partition is fetched, and both gauges are cleared
on every rebalance, so a worker that stopped fetching shows a stale lag. A periodic gauge fed by
broker end offsets has no such blind spot. This module is the arithmetic; the wiring belongs to
the worker, for example::

    CONSUMER_LAG = Gauge(
        "patrolflow_consumer_lag_records",
        "Records not yet committed, by topic and partition (owned partitions only).",
        ["topic", "partition"],
    )
    _exported: set[tuple[str, str]] = set()

    @app.timer(interval=10.0, name="observability.lag")
    async def export_consumer_lag() -> None:
        global _exported
        if app.rebalancing:
            return
        owned = [tp for tp in app.consumer.assignment() if tp.topic in SOURCE_TOPICS]
        ends = await app.consumer.highwaters(*owned)        # broker end offsets
        starts = await app.consumer.earliest_offsets(*owned)
        committed = {tp: app.consumer._committed_offset.get(tp) for tp in owned}
        _exported = sync_gauge(CONSUMER_LAG, partition_lags(ends, committed, starts), _exported)

and on partitions revoked: ``sync_gauge(CONSUMER_LAG, [], _exported)`` (another worker owns
them now and exports them). ``SOURCE_TOPICS``: the topics agents read (input, routing and region
topics), not changelogs.

On call, the same arithmetic from the broker's side (the group's committed offsets), without a
worker: ``python -m streams.observability.lag --group patrolflow`` (``PATROLFLOW_KAFKA_BOOTSTRAP``
or ``--bootstrap``). Only that command does I/O; the functions above are pure.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Iterable, Mapping, Sequence, Set
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from streams.settings import Settings

TopicPartition = TypeVar("TopicPartition", bound=tuple[str, int])
"""``(topic, partition)``; Faust's ``TP`` and aiokafka's ``TopicPartition`` are such tuples."""


@dataclass(frozen=True, slots=True, order=True)
class PartitionLag:
    """One partition's end offset and the position its consumer group will resume from."""

    topic: str
    partition: int
    end_offset: int
    position: int

    @property
    def lag(self) -> int:
        """Records between the position and the end; never negative (end offsets can be stale)."""
        return max(0, self.end_offset - self.position)

    @property
    def labels(self) -> tuple[str, str]:
        return self.topic, str(self.partition)


def partition_lags(
    end_offsets: Mapping[TopicPartition, int],
    committed: Mapping[TopicPartition, int | None],
    earliest: Mapping[TopicPartition, int] | None = None,
) -> list[PartitionLag]:
    """Lag of every partition in ``end_offsets``, sorted by topic and partition.

    ``committed`` holds the next offset to read (Kafka's convention, and Faust's). A partition
    with nothing committed resumes from its earliest offset (``auto_offset_reset=earliest``), or
    from 0 when ``earliest`` does not know it.
    """
    lags = []
    for tp, end in end_offsets.items():
        position = committed.get(tp)
        if position is None:
            position = (earliest or {}).get(tp, 0)
        topic, partition = tp
        lags.append(PartitionLag(topic, partition, end, position))
    return sorted(lags)


def total_by_topic(lags: Iterable[PartitionLag]) -> dict[str, int]:
    """Sum of the lags of each topic's partitions."""
    totals: dict[str, int] = {}
    for lag in lags:
        totals[lag.topic] = totals.get(lag.topic, 0) + lag.lag
    return totals


class _Settable(Protocol):
    def set(self, value: float) -> None: ...


class LabelledGauge(Protocol):
    """What ``sync_gauge`` needs of a prometheus_client ``Gauge`` with labels (topic, partition)."""

    def labels(self, *values: str) -> _Settable: ...

    def remove(self, *values: str) -> None: ...


def sync_gauge(
    gauge: LabelledGauge, lags: Iterable[PartitionLag], previously: Set[tuple[str, str]]
) -> set[tuple[str, str]]:
    """Set one sample per partition and remove partitions no longer owned; returns the new set."""
    current: set[tuple[str, str]] = set()
    for lag in lags:
        gauge.labels(*lag.labels).set(lag.lag)
        current.add(lag.labels)
    for gone in sorted(previously - current):
        gauge.remove(*gone)
    return current


# --- On call: the group's lag as the broker sees it ----------------------------------------------


async def fetch_group_lags(
    bootstrap: str,
    group: str,
    security: Mapping[str, Any] | None = None,
    topics: Iterable[str] = (),
) -> list[PartitionLag]:
    """Committed offsets of ``group`` against the partitions' end offsets, from the broker.

    ``security``: aiokafka client kwargs from ``streams.security.client_kwargs(settings)``.
    ``topics``: also every partition of these (those that exist), committed or not: the group
    lists only partitions it has committed, and a partition its worker never got to (a stuck
    start) is exactly the one to see. Never committed: the lag counts from the earliest offset.
    """
    from aiokafka import AIOKafkaConsumer, TopicPartition
    from aiokafka.admin import AIOKafkaAdminClient

    security = security or {}
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **security)
    await admin.start()
    wanted = list(topics)
    try:
        offsets = await admin.list_consumer_group_offsets(group)
        # Only topics that exist: a metadata request naming a missing topic would create it
        # on a broker with auto.create.topics.enable (Kafka's default).
        existing = sorted(set(wanted) & set(await admin.list_topics())) if wanted else []
        described = await admin.describe_topics(existing) if existing else []
    finally:
        await admin.close()
    partitions = set(offsets)
    for topic in described:
        if topic.get("error_code", 0) == 0:
            name = topic.get("topic", topic.get("name"))
            for partition in topic.get("partitions", ()):
                number = partition.get("partition", partition.get("partition_index"))
                partitions.add(TopicPartition(name, number))
    if not partitions:
        return []
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, **security)
    await consumer.start()
    try:
        ends = await consumer.end_offsets(sorted(partitions))
        never = sorted(partitions - set(offsets))
        starts = await consumer.beginning_offsets(never) if never else {}
    finally:
        await consumer.stop()
    committed = {(tp.topic, tp.partition): meta.offset for tp, meta in offsets.items()}
    return partition_lags(
        {(tp.topic, tp.partition): end for tp, end in ends.items()},
        committed,
        {(tp.topic, tp.partition): start for tp, start in starts.items()},
    )


def format_lags(lags: Sequence[PartitionLag]) -> str:
    rows = [("topic", "partition", "end", "committed", "lag")]
    rows += [
        (x.topic, str(x.partition), str(x.end_offset), str(x.position), str(x.lag)) for x in lags
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    totals = total_by_topic(lags)
    lines += ["", *(f"total {topic}: {lag}" for topic, lag in sorted(totals.items()))]
    return "\n".join(line.rstrip() for line in lines)


def deployment_topics(settings: Settings) -> list[str]:
    """Deployed names of the topics the workers' agents read (as ``streams.region.agents``)."""
    from schemas.topics import INPUT_TOPICS

    internal = [settings.internal_topic(name) for name in ("routing", "region-events", "cases")]
    return [settings.topic(name) for name in INPUT_TOPICS] + internal


def main(argv: Sequence[str] | None = None) -> int:
    from streams.security import client_kwargs
    from streams.settings import Settings

    parser = argparse.ArgumentParser(description="Consumer lag of a group, per topic/partition.")
    parser.add_argument("--group", default=None, help="consumer group (default: PATROLFLOW_APP_ID)")
    parser.add_argument("--bootstrap", default=None, help="default: the configured cluster")
    parser.add_argument(
        "--topic",
        action="append",
        default=None,
        help="also list every partition of this topic (repeatable; default: the configured "
        "deployment's input, routing, region and case topics)",
    )
    args = parser.parse_args(argv)
    settings = Settings()
    group = args.group or settings.app_id
    security = client_kwargs(settings)
    topics = args.topic if args.topic is not None else deployment_topics(settings)
    bootstrap = args.bootstrap or settings.bootstrap
    lags = asyncio.run(fetch_group_lags(bootstrap, group, security, topics))
    if not lags:
        print(f"group {group!r} has no committed offsets (unknown group or nothing consumed yet)")
        return 1
    print(format_lags(lags))
    return 0


if __name__ == "__main__":
    sys.exit(main())
