"""Latency: an incident published -> its first assignment record received, under telemetry.

One fresh deployment and worker per processing guarantee. Units report first (a dispatcher
looks at the map before the calls come), and the bench waits until the region core holds them
all; then a steady background of telemetry (round-robin over the units) runs while incidents
arrive at a fixed rate. The clock of an incident starts just before its send (a producer of its
own, no linger) and stops when the bench's consumer (read_committed, as every consumer of an
exactly-once deployment must) receives its first ``dispatch.assignments`` record; the incident
is then closed, so its units free up. Incidents of the first ``warm_up_s`` are not counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from schemas import topics
from streams.bench import load
from streams.bench.deploy import create
from streams.bench.stats import summary_ms
from streams.bench.worker import BenchWorker, start_ready, wait_until
from streams.city.model import City
from streams.observability.lag import fetch_group_lags
from streams.settings import Settings


async def _background(
    producer: AIOKafkaProducer,
    settings: Settings,
    units: list[load.Unit],
    rate: float,
    stop: asyncio.Event,
) -> int:
    """Telemetry at ``rate`` per second until ``stop``; returns how many were sent."""
    started, sent, pending = time.perf_counter(), 0, []
    topic = settings.topic(topics.UNITS_TELEMETRY)
    while not stop.is_set():
        due = int((time.perf_counter() - started) * rate) - sent
        now = datetime.now(UTC)
        for _ in range(max(0, due)):
            record = load.telemetry(units[sent % len(units)], now)
            pending.append(await producer.send(topic, key=record.key, value=record.value))
            sent += 1
        if len(pending) > 2000:
            await asyncio.gather(*pending)
            pending.clear()
        await asyncio.sleep(0.01)
    await asyncio.gather(*pending)
    return sent


async def run(
    settings: Settings,
    *,
    city: City,
    log_dir: Path,
    units: int,
    telemetry_per_s: float,
    incidents_per_s: float,
    duration_s: float,
    warm_up_s: float = 3.0,
    drain_s: float = 15.0,
    seed: int = 7,
    extra_env: dict[str, str] | None = None,
) -> dict[str, Any]:
    await create(settings)
    rng = random.Random(seed)
    fleet = load.fleet(units, city, rng, tag="lat")
    sampler = load.CitySampler(city, rng)
    worker = BenchWorker(settings, log_dir / f"{settings.app_id}.log", extra_env)
    background = load.producer(settings)
    calls = AIOKafkaProducer(bootstrap_servers=settings.bootstrap, linger_ms=0)
    consumer = AIOKafkaConsumer(
        settings.topic(topics.DISPATCH_ASSIGNMENTS),
        bootstrap_servers=settings.bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
    )
    sent_at: dict[bytes, float] = {}
    latency: dict[bytes, float] = {}
    outcomes: dict[bytes, str] = {}
    stop = asyncio.Event()
    await asyncio.gather(background.start(), calls.start())
    try:
        await start_ready([worker])
        # Subscribed once the worker is up: the fresh topic has its leaders by then.
        await consumer.start()
        now = datetime.now(UTC)
        await load.publish(settings, (load.telemetry(u, now) for u in fleet), client=background)
        await wait_until(
            lambda: _applied_at_least(worker, units), timeout_s=120, what="units in place"
        )

        async def receive() -> None:
            while True:
                batch = await consumer.getmany(timeout_ms=50)
                received = time.perf_counter()
                for records in batch.values():
                    for r in records:
                        if r.key in sent_at and r.key not in latency:
                            latency[r.key] = received - sent_at[r.key]
                            outcomes[r.key] = _outcome(r.value)
                            closed = load.update(r.key.decode(), datetime.now(UTC), "closed")
                            await calls.send(
                                settings.topic(closed.topic), key=closed.key, value=closed.value
                            )

        receiver = asyncio.create_task(receive())
        feeder = asyncio.create_task(
            _background(background, settings, fleet, telemetry_per_s, stop)
        )
        counted: list[bytes] = []
        started = time.perf_counter()
        n = 0
        while (elapsed := time.perf_counter() - started) < warm_up_s + duration_s:
            record = load.incident(f"lat-{seed}-{n:06d}", datetime.now(UTC), sampler, rng)
            sent_at[record.key] = time.perf_counter()
            await calls.send(settings.topic(record.topic), key=record.key, value=record.value)
            if elapsed >= warm_up_s:
                counted.append(record.key)
            n += 1
            await asyncio.sleep(max(0.0, n / incidents_per_s - (time.perf_counter() - started)))
        stop.set()
        background_sent = await feeder
        background_s = time.perf_counter() - started

        async def all_in() -> bool:
            return all(k in latency for k in counted)

        with contextlib.suppress(TimeoutError):
            await wait_until(all_in, timeout_s=drain_s, what="assignments")
        receiver.cancel()
        lags = await fetch_group_lags(settings.bootstrap, settings.app_id)
        inputs = {settings.topic(t) for t in topics.INPUT_TOPICS}
        backlog = sum(x.lag for x in lags if x.topic in inputs)
        rss = worker.rss_bytes()
    finally:
        worker.stop()
        await asyncio.gather(background.stop(), calls.stop(), consumer.stop())
    samples = [latency[k] for k in counted if k in latency]
    return {
        "guarantee": settings.processing_guarantee,
        "units": units,
        "telemetry_per_s_target": telemetry_per_s,
        "telemetry_per_s_sent": background_sent / background_s if background_s else 0.0,
        "incidents_per_s": incidents_per_s,
        "incidents": len(counted),
        "received": len(samples),
        "missing": len(counted) - len(samples),
        "outcomes": dict(Counter(outcomes[k] for k in counted if k in outcomes)),
        **summary_ms(samples),
        "input_backlog_at_end": backlog,
        "worker_rss_mb": rss / 2**20,
    }


async def _applied_at_least(worker: BenchWorker, count: int) -> bool:
    return await worker.events_applied() >= count


def _outcome(value: bytes | None) -> str:
    try:
        return str(orjson.loads(value or b"{}").get("outcome", "unknown"))
    except orjson.JSONDecodeError:
        return "unknown"
