"""Create patrolflow's topics on a cluster: idempotent, with the configured partition counts."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from mode.utils.times import want_seconds

from schemas import topics as names
from streams.security import client_kwargs
from streams.settings import Settings


@dataclass(frozen=True)
class TopicPlan:
    name: str
    partitions: int
    config: dict[str, str] = field(default_factory=dict)


def plan(settings: Settings) -> list[TopicPlan]:
    inputs = [TopicPlan(settings.topic(t), settings.topic_partitions) for t in names.INPUT_TOPICS]
    outputs = [
        TopicPlan(settings.topic(t), settings.output_partitions) for t in names.OUTPUT_TOPICS
    ]
    return inputs + outputs


async def create_topics(settings: Settings, timeout_s: float = 30.0) -> dict[str, str]:
    """Returns ``{topic: "created" | "exists"}``. Partition counts of existing topics are kept.

    Returns once every topic has a partition leader in the broker's metadata, so a worker or
    client started right after sees them (see ``declare_and_await``).
    """
    plans = plan(settings)
    created = set(await declare_and_await(settings, plans, timeout_s))
    return {
        p.name: "created" if p.name in created else "exists"
        for p in sorted(plans, key=lambda p: p.name)
    }


def create_topics_sync(settings: Settings) -> dict[str, str]:
    return asyncio.run(create_topics(settings))


def internal_plan(app: Any) -> list[TopicPlan]:
    """The topics Faust would declare itself at start: internal agent topics and changelogs.

    Read from the app's agents and tables (not from its topic conductor, which only learns
    of a channel when its agent starts), with the partitions and the cleanup policy Faust
    would give them (Faust's own ``Transport._topic_config``).
    """
    channels: list[Any] = [agent.channel for agent in app.agents.values()]
    channels = [c for c in channels if getattr(c, "internal", False)]
    channels += [table.changelog_topic for table in app.tables.values()]
    plans: dict[str, TopicPlan] = {}
    for channel in channels:
        retention_ms = int(want_seconds(channel.retention) * 1000) if channel.retention else None
        faust_config = app.transport._topic_config(
            retention_ms, channel.compacting, channel.deleting
        )
        faust_config.update(channel.config or {})
        config = {k: str(v) for k, v in faust_config.items()}
        partitions = channel.partitions or app.conf.topic_partitions
        for name in channel.topics:
            plans[name] = TopicPlan(name, partitions, config)
    return [plans[name] for name in sorted(plans)]


async def declare_and_await(
    settings: Settings, plans: Iterable[TopicPlan], timeout_s: float = 60.0
) -> list[str]:
    """Create missing topics, then wait until the broker's metadata has a leader for each.

    A worker that joins its group while a topic it subscribes to is not yet in the broker's
    metadata gets no partitions of it, and learns of it only at its next metadata refresh and
    rebalance (~10 s later). Faust creates its internal topics right before subscribing, so
    on a fresh cluster every first start hit that window: the worker said ready while its
    routing, region and case topics were unassigned. Declared and awaited here, before Faust
    starts, they are all in the first assignment. Returns the names created.
    """
    wanted = list(plans)
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.bootstrap,
        request_timeout_ms=int(timeout_s * 1000),
        **client_kwargs(settings),
    )
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [p for p in wanted if p.name not in existing]
        if missing:
            # Another process may create them in between: that is what we wanted anyway.
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(
                    [
                        NewTopic(
                            p.name,
                            p.partitions,
                            settings.topic_replication,
                            topic_configs=p.config,
                        )
                        for p in missing
                    ],
                    timeout_ms=int(timeout_s * 1000),
                )
        names_wanted = [p.name for p in wanted]
        deadline = time.monotonic() + timeout_s
        while True:
            not_ready = await _without_leaders(admin, names_wanted)
            if not not_ready:
                return [p.name for p in missing]
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"topics without a partition leader after {timeout_s} s: {not_ready}"
                )
            await asyncio.sleep(0.2)
    finally:
        await admin.close()


async def _without_leaders(admin: AIOKafkaAdminClient, topics: list[str]) -> list[str]:
    described = await admin.describe_topics(topics)
    not_ready = []
    for topic in described:
        partitions = topic.get("partitions") or []
        leaderless = any(p.get("leader", -1) < 0 for p in partitions)
        if topic.get("error_code") or not partitions or leaderless:
            not_ready.append(topic["topic"])
    return sorted(not_ready)


def prepare_worker_topics(app: Any, settings: Settings) -> list[str]:
    """Blocking, on its own event loop, before Faust's worker takes the main loop."""
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(declare_and_await(settings, internal_plan(app)))
    finally:
        loop.close()
