"""Create patrolflow's topics on a cluster: idempotent, with the configured partition counts."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from schemas import topics as names
from streams.security import client_kwargs
from streams.settings import Settings


@dataclass(frozen=True)
class TopicPlan:
    name: str
    partitions: int


def plan(settings: Settings) -> list[TopicPlan]:
    inputs = [TopicPlan(settings.topic(t), settings.topic_partitions) for t in names.INPUT_TOPICS]
    outputs = [
        TopicPlan(settings.topic(t), settings.output_partitions) for t in names.OUTPUT_TOPICS
    ]
    return inputs + outputs


async def create_topics(settings: Settings, timeout_s: float = 30.0) -> dict[str, str]:
    """Returns ``{topic: "created" | "exists"}``. Partition counts of existing topics are kept."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.bootstrap,
        request_timeout_ms=int(timeout_s * 1000),
        **client_kwargs(settings),
    )
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [p for p in plan(settings) if p.name not in existing]
        result = {p.name: "exists" for p in plan(settings) if p.name in existing}
        if wanted:
            # Another process may create them in between: that is what we wanted anyway.
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(
                    [NewTopic(p.name, p.partitions, settings.topic_replication) for p in wanted],
                    timeout_ms=int(timeout_s * 1000),
                )
            result.update({p.name: "created" for p in wanted})
        return dict(sorted(result.items()))
    finally:
        await admin.close()


def create_topics_sync(settings: Settings) -> dict[str, str]:
    return asyncio.run(create_topics(settings))
