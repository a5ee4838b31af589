"""What feeds the demo's view: the simulator publishing into the input topics, a consumer of
``incidents.reported`` and the output topics, and a poller of the worker's ``/metrics``.

Each is a coroutine that runs until done or cancelled and folds what it sees into a
:class:`~streams.demo.state.DemoState` (or a :class:`Progress`); none of them prints.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Final

import aiohttp

from schemas import topics
from streams.city.model import City
from streams.demo.deployment import Deployment
from streams.demo.options import DemoOptions
from streams.demo.process import WorkerProcess
from streams.demo.state import DemoState
from streams.sim import SimConfig, SimEvent, SimStats, default_start
from streams.sim.sinks import Recorded

__all__ = [
    "METRICS_EVERY_S",
    "OPEN_ENDED_SPAN_S",
    "VIEW_TOPICS",
    "Progress",
    "consume",
    "poll_metrics",
    "sim_config",
    "simulate",
]

#: Simulated span when no ``--duration`` is given (the run then lasts span / speed at most).
OPEN_ENDED_SPAN_S: Final = 24 * 3600.0
#: How often the worker's /metrics is read.
METRICS_EVERY_S: Final = 1.0
#: The view's topics: incidents coming in and what the worker writes.
VIEW_TOPICS: Final = (
    topics.INCIDENTS_REPORTED,
    topics.DISPATCH_ASSIGNMENTS,
    topics.ALERTS_RESPONSE,
    topics.METRICS_CLEARANCE,
)


@dataclass
class Progress:
    """What the simulator has sent so far (updated from its progress callback)."""

    sent: int = 0
    event_time: datetime | None = None
    done: bool = False
    errors: int = 0
    first_error: str | None = None


def sim_config(options: DemoOptions, *, now: datetime | None = None) -> SimConfig:
    """The simulator's configuration for a run starting ``now``: ``duration x speed`` of city
    time (or :data:`OPEN_ENDED_SPAN_S`), starting early enough that event time never overtakes
    wall time (Kafka 4 rejects records more than an hour ahead; the worker's clock would run
    ahead of the wall clock)."""
    span = OPEN_ENDED_SPAN_S if options.duration_s is None else options.duration_s * options.speed
    return SimConfig(
        seed=options.seed,
        start=default_start(span, options.speed, now=now),
        duration_s=span,
        calls_per_hour=options.calls_per_hour,
        case_time_scale=options.case_time_scale,
    )


async def simulate(
    config: SimConfig,
    options: DemoOptions,
    deployment: Deployment,
    city: City,
    progress: Progress,
    stats: SimStats,
) -> None:
    from streams.sim import generate, publish

    def sink(count: int, event: SimEvent | Recorded) -> None:
        progress.sent = count
        progress.event_time = event.event_time
        stats.add(event)

    summary = await publish(
        generate(config, city=city, policy=stats.policy),
        deployment.settings,
        options.speed,
        max_seconds=options.duration_s,
        progress=sink,
    )
    progress.errors, progress.first_error = summary.errors, summary.first_error


async def consume(deployment: Deployment, state: DemoState) -> None:
    from aiokafka import AIOKafkaConsumer

    names = {deployment.settings.topic(t): t for t in VIEW_TOPICS}
    consumer = AIOKafkaConsumer(
        *names,
        bootstrap_servers=deployment.settings.bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        isolation_level="read_committed",
        client_id="patrolflow-demo-view",
    )
    await consumer.start()
    try:
        while True:
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    if record.value is not None:
                        state.apply(names[record.topic], record.value)
    finally:
        await consumer.stop()


async def poll_metrics(
    worker: WorkerProcess, http: aiohttp.ClientSession, state: DemoState
) -> None:
    while True:
        text = await worker.metrics(http)
        if text is not None:
            state.apply_metrics(text)
        await asyncio.sleep(METRICS_EVERY_S)
