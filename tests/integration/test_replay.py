"""Record and replay against the real broker: a generated recording replayed into a fresh
deployment's topics reads back the same, in the same order per key, with event-time
timestamps; pacing and the summary's numbers hold; the simulator publishes directly too."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer

from schemas import topics
from streams.city import load_city
from streams.settings import Settings
from streams.sim.generator import SimConfig, default_start, generate
from streams.sim.replay import JsonlReader, replay
from streams.sim.sinks import Recorded, publish, to_jsonl

pytestmark = pytest.mark.integration

CITY = load_city(None)
Key = tuple[str, str | None]


def recording(
    path: Path, *, duration_s: float, speed: float, **overrides: object
) -> list[Recorded]:
    """A small generated recording whose event times end just before now."""
    values: dict[str, object] = {
        "start": default_start(duration_s, speed),
        "duration_s": duration_s,
        "seed": 11,
        "calls_per_hour": 240.0,
        "telemetry_interval_s": 30.0,
        "off_duty_interval_s": 600.0,
    }
    config = SimConfig(**(values | overrides))  # type: ignore[arg-type]
    to_jsonl(path, generate(config, city=CITY))
    return list(JsonlReader(path).records())


def city_noon_before_now(duration_s: float) -> datetime:
    """The latest 12:00 in the city whose recording of ``duration_s`` ends a minute before
    now: a busy hour, so the record count does not depend on when the test runs (started
    at whatever the wall clock said, a run at 00:02 city time got 1,994 records)."""
    latest = datetime.now(UTC) - timedelta(seconds=duration_s + 60)
    noon = datetime.combine(latest.astimezone(CITY.timezone).date(), clock_time(12), CITY.timezone)
    if noon > latest:
        noon -= timedelta(days=1)
    return noon.astimezone(UTC)


async def read_back(
    consumer_factory: Callable[..., Awaitable[AIOKafkaConsumer]],
    settings: Settings,
    count: int,
    timeout_s: float = 30.0,
) -> list[tuple[str, bytes | None, bytes, int]]:
    names = {settings.topic(t): t for t in topics.INPUT_TOPICS}
    consumer = await consumer_factory(*names)
    got: list[tuple[str, bytes | None, bytes, int]] = []
    deadline = time.monotonic() + timeout_s
    while len(got) < count and time.monotonic() < deadline:
        batches = await consumer.getmany(timeout_ms=500)
        for records in batches.values():
            for r in records:
                got.append((names[r.topic], r.key, r.value, r.timestamp))
    return got


def encode(key: str | None) -> bytes | None:
    return None if key is None else key.encode()


def by_key(
    records: list[tuple[str, bytes | None, bytes, int]],
) -> dict[Key, list[tuple[bytes, int]]]:
    grouped: dict[Key, list[tuple[bytes, int]]] = defaultdict(list)
    for topic, key, value, ts in records:
        grouped[(topic, None if key is None else key.decode())].append((value, ts))
    return dict(grouped)


async def test_a_replayed_recording_reads_back_the_same(
    tmp_path: Path,
    deployment_factory: Callable[..., Awaitable[Settings]],
    consumer_factory: Callable[..., Awaitable[AIOKafkaConsumer]],
) -> None:
    path = tmp_path / "recording.jsonl"
    records = recording(
        path, duration_s=900.0, speed=0, bad_share=0.02, start=city_noon_before_now(900.0)
    )
    assert 2_000 < len(records) < 20_000
    settings = await deployment_factory()

    summary = await replay(path, settings, speed=0, progress=False)

    assert summary.sent == len(records)
    assert summary.errors == 0
    assert summary.unreadable == 0
    assert summary.seconds > 0
    assert summary.rate == pytest.approx(summary.sent / summary.seconds)
    assert summary.first_event_time == records[0].event_time
    assert summary.last_event_time == records[-1].event_time
    expected_topics: dict[str, int] = defaultdict(int)
    for r in records:
        expected_topics[r.topic] += 1
    assert summary.by_topic == dict(expected_topics)

    got = await read_back(consumer_factory, settings, len(records))
    assert len(got) == len(records)
    want = by_key([(r.topic, encode(r.key), r.value, r.timestamp_ms) for r in records])
    assert by_key(got) == want  # same values, same order per key, timestamps = event time


async def test_replay_paces_by_event_time(
    tmp_path: Path,
    deployment_factory: Callable[..., Awaitable[Settings]],
    consumer_factory: Callable[..., Awaitable[AIOKafkaConsumer]],
) -> None:
    path = tmp_path / "paced.jsonl"
    records = recording(path, duration_s=60.0, speed=30.0, telemetry_interval_s=10.0)
    span_s = (records[-1].timestamp_ms - records[0].timestamp_ms) / 1000
    assert span_s > 50
    settings = await deployment_factory()

    began = time.monotonic()
    summary = await replay(path, settings, speed=30.0, progress=False)
    elapsed = time.monotonic() - began

    assert summary.sent == len(records)
    assert summary.errors == 0
    assert span_s / 30 - 0.1 <= elapsed < span_s / 30 + 3.0
    got = await read_back(consumer_factory, settings, len(records))
    assert sorted(ts for *_, ts in got) == sorted(r.timestamp_ms for r in records)


async def test_the_simulator_publishes_directly_within_bounds(
    deployment_factory: Callable[..., Awaitable[Settings]],
    consumer_factory: Callable[..., Awaitable[AIOKafkaConsumer]],
) -> None:
    settings = await deployment_factory()
    config = SimConfig(start=default_start(3600.0, 0), duration_s=3600.0, seed=5)

    summary = await publish(generate(config, city=CITY), settings, 0, max_events=1_500)

    assert summary.sent == 1_500
    assert summary.errors == 0
    expected = list(generate(config, city=CITY))[:1_500]
    got = await read_back(consumer_factory, settings, 1_500)
    want = [(e.topic, encode(e.key), e.value, e.timestamp_ms) for e in expected]
    assert by_key(got) == by_key(want)
