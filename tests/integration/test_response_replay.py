"""Determinism through the real broker: one recording, replayed at live pace into one
deployment and fast into another, yields the same ``alerts.response`` content.

The live run publishes each record at its event time (the recording starts a moment after
the worker is ready), so wall-clock ticks drive the clock between records, as in production.
The fast run publishes the same file later at 4x, when it is history: event time alone
drives that clock.

What is deterministic: everything the clock decides (deadlines, escalations, resolutions)
and every decision made on the same inputs. What is not: records of different topics are not
ordered with each other, so which unit a call gets depends on which unit reports were read
before it. Fast replays stay faithful while the skew between topics, times the speed, stays
within the allowed lateness: hence 4x (not "as fast as possible") and the warm-up below.

Alerts are compared up to the last record's event time minus the allowed lateness: both
clocks have passed it; after it, only the live run's ticks keep firing.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer

from schemas import topics
from schemas.alerts import ResponseAlert
from streams.city import load_city
from streams.observability.lag import PartitionLag, fetch_group_lags
from streams.security import client_kwargs
from streams.settings import Settings
from streams.sim.generator import SimConfig, SimEvent, generate
from streams.sim.replay import JsonlReader, replay
from streams.sim.sinks import to_jsonl
from tests.support.waiting import eventually
from tests.support.worker_process import WorkerProcess

pytestmark = pytest.mark.integration

CITY = load_city(None)
SPAN_S = 75.0
LATENESS_S = 5.0
FAST = 4.0
#: The first seconds are left out: every unit's first report is still on its way then, so
#: which unit a call gets, and from when a post has stood empty (a post nobody has covered yet
#: counts from the first record read: which one that is, is a race between the topics),
#: depend on which reports won the race. Calls of the warm-up are not in the recording;
#: conditions raised in it (and their resolutions) are not compared.
WARM_UP_S = 15.0


def response_config(path: Path) -> Path:
    """Short limits, so a 75-second city raises every kind of alert it can."""
    path.write_text(
        json.dumps(
            {
                "circle_reach_m": {"20": 100_000},
                "post_grace_s": 5.0,
                "ack_overdue_s": 10.0,
                "telemetry_stale_s": 30.0,
            }
        )
    )
    return path


async def settled(settings: Settings, worker: WorkerProcess) -> None:
    """Everything published so far went through the region core.

    The inputs and the routing topic are consumed to their ends, then the region stream up to
    where its end stood at that moment (clock ticks keep appending to it, so it is never
    "at the end" for long).
    """
    region_events = f"{settings.app_id}-region-events"
    security = client_kwargs(settings)
    lagging: list[object] = []

    async def lags() -> list[PartitionLag]:
        assert worker.proc is not None
        assert worker.proc.poll() is None, worker.log_tail()
        return await fetch_group_lags(settings.bootstrap, settings.app_id, security)

    async def routed() -> dict[tuple[str, int], int] | None:
        now = await lags()
        lagging[:] = [x for x in now if x.lag and not x.topic.endswith(region_events)]
        inputs = {settings.topic(t) for t in topics.INPUT_TOPICS}
        if lagging or not inputs <= {x.topic for x in now}:
            return None
        return {
            (x.topic, x.partition): x.end_offset for x in now if x.topic.endswith(region_events)
        }

    async def processed(ends: dict[tuple[str, int], int]) -> bool:
        positions = {(x.topic, x.partition): x.position for x in await lags()}
        lagging[:] = [(tp, positions.get(tp), end) for tp, end in ends.items()]
        return all(positions.get(tp, 0) >= end for tp, end in ends.items())

    try:
        ends = await eventually(routed, timeout_s=90, interval_s=1.0, what="inputs routed")
        await eventually(lambda: processed(ends), timeout_s=60, interval_s=1.0, what="processed")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; lagging: {lagging}\n{worker.log_tail(40)}") from None


async def alerts_of(
    consumer_factory: Callable[..., Awaitable[AIOKafkaConsumer]], settings: Settings
) -> list[ResponseAlert]:
    """Every alert on the deployment's alerts.response, read to the end offsets."""
    consumer = await consumer_factory(settings.topic(topics.ALERTS_RESPONSE))
    got: list[ResponseAlert] = []

    async def probe() -> bool:
        for records in (await consumer.getmany(timeout_ms=300)).values():
            got.extend(ResponseAlert.model_validate_json(r.value) for r in records)
        assigned = consumer.assignment()
        if not assigned:
            return False
        ends = await consumer.end_offsets(list(assigned))
        positions = {tp: await consumer.position(tp) for tp in ends}
        return all(positions[tp] >= end for tp, end in ends.items())

    await eventually(probe, timeout_s=30, what="alerts read to the end")
    return got


def after_warm_up(events: Iterable[SimEvent], first_call: datetime) -> Iterator[SimEvent]:
    """The recording without the calls reported before ``first_call`` (nor their updates)."""
    early: set[str | None] = set()
    for event in events:
        if event.topic == topics.INCIDENTS_REPORTED and event.event_time < first_call:
            early.add(event.key)
        elif event.topic == topics.INCIDENTS_UPDATES and event.key in early:
            continue
        else:
            yield event


def compared(alerts: list[ResponseAlert], warm: datetime, cutoff: datetime) -> list[ResponseAlert]:
    """The alerts raised between the warm-up and the cut-off, without resolutions of alerts
    raised in the warm-up."""
    early = {a.alert_id for a in alerts if a.kind.value != "resolved" and a.raised_at < warm}
    return [
        a
        for a in alerts
        if a.raised_at <= cutoff and a.alert_id not in early and a.resolves_alert_id not in early
    ]


def differences(
    live: list[ResponseAlert], fast: list[ResponseAlert]
) -> tuple[list[str], list[str]]:
    """The alert records of each run that the other run lacks, shortly described."""

    def short(a: ResponseAlert) -> str:
        subject = a.incident_id or a.post_id or a.unit_id
        return f"{a.kind.value}/{a.severity.value} {subject} {a.unit_id} @{a.raised_at:%H:%M:%S.%f}"

    left = Counter(a.model_dump_json() for a in live)
    right = Counter(a.model_dump_json() for a in fast)
    by_json = {a.model_dump_json(): a for a in [*live, *fast]}
    return (
        sorted(short(by_json[j]) for j in (left - right).elements()),
        sorted(short(by_json[j]) for j in (right - left).elements()),
    )


@pytest.mark.timeout(480)  # two workers, a 75-second live run, the fast run
async def test_a_recording_replayed_fast_and_at_live_pace_raises_the_same_alerts(
    tmp_path: Path,
    deployment_factory: Callable[..., Awaitable[Settings]],
    worker_factory: Callable[[Settings], Awaitable[WorkerProcess]],
    consumer_factory: Callable[..., Awaitable[AIOKafkaConsumer]],
) -> None:
    config = response_config(tmp_path / "response.json")
    common = {
        "response_config": config,
        "allowed_lateness_s": LATENESS_S,
        "live_window_s": 5.0,  # the fast run, a minute later, is history
    }
    live, fast = await deployment_factory(**common), await deployment_factory(**common)
    live_worker, fast_worker = await worker_factory(live), await worker_factory(fast)

    # Start a moment ahead, so paced publishing never sends an event before its time.
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=3)
    sim = SimConfig(
        start=start, duration_s=SPAN_S, seed=23, calls_per_hour=900.0, telemetry_interval_s=10.0
    )
    path = tmp_path / "city.jsonl"
    to_jsonl(path, after_warm_up(generate(sim, city=CITY), start + timedelta(seconds=WARM_UP_S)))
    records = list(JsonlReader(path).records())
    last = max(r.event_time for r in records)

    live_summary = await replay(path, live, speed=1.0, progress=False)
    await settled(live, live_worker)
    fast_summary = await replay(path, fast, speed=FAST, progress=False)
    await settled(fast, fast_worker)
    assert live_summary.sent == fast_summary.sent == len(records)

    cutoff = last - timedelta(seconds=LATENESS_S + 1)
    warm = start + timedelta(seconds=WARM_UP_S)
    live_alerts = compared(await alerts_of(consumer_factory, live), warm, cutoff)
    fast_alerts = compared(await alerts_of(consumer_factory, fast), warm, cutoff)

    kinds = Counter(a.kind.value for a in live_alerts)
    assert len(kinds) >= 3, kinds  # the comparison is not vacuous
    assert len(live_alerts) >= 10, kinds
    only_live, only_fast = differences(live_alerts, fast_alerts)
    assert (only_live, only_fast) == ([], [])
    # Raised once per condition: no alert record repeats in either run.
    assert max(Counter(a.model_dump_json() for a in live_alerts).values()) == 1
