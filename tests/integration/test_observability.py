"""The worker's health metrics against the real broker: consumer lag, event-loop delay, zeros.

One deployment for the module. The lag test stops the worker, produces a backlog the broker
can count exactly, restarts the worker and watches ``/metrics`` from the moment it serves: the
backlog shows as lag (the worker refreshes the gauge when its rebalance completes, before it
fetches), then drains to 0. A second worker in the group splits the partitions: each exports
only the partitions it owns, the series of revoked ones are gone.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import orjson
import pytest
from aiokafka import AIOKafkaProducer
from prometheus_client.parser import text_string_to_metric_families

from schemas import topics
from streams.city.model import load_city
from streams.observability.lag import deployment_topics, fetch_group_lags
from streams.security import client_kwargs
from streams.settings import Settings
from tests.support.deployments import make_deployment, start_worker, worker_env
from tests.support.waiting import eventually
from tests.support.worker_process import WorkerProcess, free_port

pytestmark = pytest.mark.integration

CITY = load_city(None)
PARTITIONS = 2  # make_deployment: input and internal topics
BACKLOG = 1_000  # telemetry records produced while no worker runs
#: The leader's clock ticks reach the region stream every second per region and Faust commits
#: every 2.8 s: a live region stream always has a few records in flight, never a steady 0.
TICKS_IN_FLIGHT = 30
LAG = "patrolflow_consumer_lag_records"

Series = dict[tuple[str, ...], float]


@dataclass
class World:
    settings: Settings
    logs: Path
    producer: AIOKafkaProducer

    def source_partitions(self) -> set[tuple[str, str]]:
        """``(topic label, partition)`` of every partition an agent reads."""
        app = self.settings.app_id
        inputs = {(t, str(p)) for t in topics.INPUT_TOPICS for p in range(PARTITIONS)}
        internal = {(f"{app}-{t}", str(p)) for t in ("routing", "region-events") for p in range(2)}
        return inputs | internal | {(f"{app}-cases", "0")}


@pytest.fixture(scope="module")
async def world(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[World]:
    settings = await make_deployment(kafka_bootstrap, tmp_path_factory)
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap, acks="all", linger_ms=5, **client_kwargs(settings)
    )
    await producer.start()
    try:
        yield World(settings, tmp_path_factory.mktemp("observability"), producer)
    finally:
        await producer.stop()


async def scrape(worker: WorkerProcess, name: str, *labels: str) -> Series | None:
    """Samples of ``name`` by the values of ``labels``; None while /metrics does not answer."""
    try:
        status, text = await worker.get("/metrics")
    except (aiohttp.ClientError, TimeoutError):
        return None
    if status != 200:
        return None
    found: Series = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                found[tuple(sample.labels.get(label, "") for label in labels)] = sample.value
    return found


async def lag_of(worker: WorkerProcess) -> Series | None:
    return await scrape(worker, LAG, "topic", "partition")


async def publish_backlog(world: World, run: str) -> None:
    lat, lon = CITY.zones["z02"].interior_point
    now = datetime.now(UTC).isoformat()
    for n in range(BACKLOG):
        unit_id = f"OBS-{run}-{n}"  # many keys: both partitions of units.telemetry get some
        body = {
            "unit_id": unit_id,
            "at": now,
            "status": "available",
            "force": "community",
            "location": {"lat": lat, "lon": lon + (n % 50) / 72_800},
        }
        await world.producer.send(
            world.settings.topic(topics.UNITS_TELEMETRY),
            key=unit_id.encode(),
            value=orjson.dumps(body),
        )
    await world.producer.flush()


def total(series: Series, topic: str) -> float:
    return sum(value for (t, _), value in series.items() if t == topic)


async def wait_drained(world: World, worker: WorkerProcess, timeout_s: float) -> Series:
    """Every source partition exported, at 0 (the region stream: only ticks in flight)."""
    region_events = f"{world.settings.app_id}-region-events"
    last: Series | None = None

    async def drained() -> Series | None:
        nonlocal last
        last = await lag_of(worker)
        if last is None or set(last) != world.source_partitions():
            return None
        rest = sum(v for (t, _), v in last.items() if t != region_events)
        return last if rest == 0 and total(last, region_events) < TICKS_IN_FLIGHT else None

    try:
        return await eventually(drained, timeout_s=timeout_s, interval_s=0.5, what="lag 0")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; last lags: {last}\n{worker.log_tail(20)}") from None


async def test_idle_worker_exports_zero_lag_loop_delay_and_zero_counters(world: World) -> None:
    worker = await start_worker(world.settings, world.logs / "idle.log")
    try:
        lags = await wait_drained(world, worker, timeout_s=60)
        # input topics under their canonical names, no changelog among them
        assert {t for t, _ in lags} >= set(topics.INPUT_TOPICS)
        assert not any("changelog" in t for t, _ in lags)

        async def probed() -> float | None:
            counts = await scrape(worker, "patrolflow_event_loop_delay_seconds_count")
            return counts.get((), 0.0) if counts else None

        assert await eventually(probed, timeout_s=10, what="event-loop delay measured")
        delays = await scrape(worker, "patrolflow_event_loop_delay_seconds_sum")
        counts = await scrape(worker, "patrolflow_event_loop_delay_seconds_count")
        assert delays is not None
        assert counts is not None
        assert 0 <= delays[()] / counts[()] < 0.5  # an idle worker's loop is not blocked

        # nothing was dead-lettered, yet every (topic, reason) series is there, at 0
        dead = await scrape(worker, "patrolflow_dead_letters_total", "topic", "reason")
        assert dead is not None
        assert len(dead) == 15
        assert set(dead.values()) == {0.0}
    finally:
        worker.stop()


async def test_a_backlog_shows_as_lag_and_drains_to_zero(world: World) -> None:
    # Nothing runs now. The on-call command's view from the broker: the whole backlog waits
    # (the group never committed on units.telemetry, so it is listed because we ask for it).
    await publish_backlog(world, run=f"{time.monotonic_ns()}")
    telemetry = world.settings.topic(topics.UNITS_TELEMETRY)
    broker_view = await fetch_group_lags(
        world.settings.bootstrap,
        world.settings.app_id,
        client_kwargs(world.settings),
        deployment_topics(world.settings),
    )
    waiting = [x for x in broker_view if x.topic == telemetry]
    assert [x.partition for x in waiting] == list(range(PARTITIONS))
    assert sum(x.lag for x in waiting) == BACKLOG
    assert all(x.lag for x in waiting), "both partitions have records"

    worker = WorkerProcess(
        env=worker_env(world.settings),
        log_path=world.logs / "backlog.log",
        web_port=world.settings.web_port,
    )
    worker.start()
    try:
        highest = 0.0

        async def backlog_seen() -> bool:
            nonlocal highest
            lags = await lag_of(worker)
            if lags:
                highest = max(highest, total(lags, topics.UNITS_TELEMETRY))
            return highest > 0

        await eventually(backlog_seen, timeout_s=90, interval_s=0.05, what="lag > 0")
        assert highest <= BACKLOG

        await wait_drained(world, worker, timeout_s=120)
        accepted = await scrape(worker, "patrolflow_intake_records_total", "topic", "outcome")
        assert accepted is not None
        assert accepted[(topics.UNITS_TELEMETRY, "accepted")] >= BACKLOG
    finally:
        worker.stop()


async def test_two_workers_export_disjoint_partitions_that_cover_the_sources(world: World) -> None:
    first = await start_worker(world.settings, world.logs / "first.log")
    try:
        await eventually(lambda: lag_of(first), timeout_s=60, what="the first worker's lag")
        settings = world.settings.model_copy(update={"web_port": free_port()})
        second = await start_worker(settings, world.logs / "second.log")
        try:

            async def split() -> tuple[Series, Series] | None:
                # After the rebalance the first worker no longer exports what it gave away.
                a, b = await lag_of(first), await lag_of(second)
                if not a or not b or set(a) & set(b):
                    return None
                return (a, b) if set(a) | set(b) == world.source_partitions() else None

            await eventually(split, timeout_s=90, interval_s=0.5, what="partitions split")
        finally:
            second.stop()
    finally:
        first.stop()
