"""Dispatch state survives a hard kill: RocksDB tables and their changelogs, as in production."""

from __future__ import annotations

import os
import signal
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from schemas import topics
from schemas.dispatch import Assignment, AssignmentOutcome
from streams.city.model import load_city
from streams.settings import Settings
from tests.support.deployments import start_worker
from tests.support.waiting import eventually
from tests.support.worker_process import WorkerProcess

pytestmark = pytest.mark.integration

CITY = load_city(None)


async def test_committed_units_and_known_units_survive_kill_9(
    deployment_factory: Callable[..., Awaitable[Settings]],
    producer: AIOKafkaProducer,
    consumer_factory: Callable[..., Awaitable[AIOKafkaConsumer]],
    tmp_path: Path,
) -> None:
    settings = await deployment_factory(store="rocksdb")
    worker = await start_worker(settings, tmp_path / "first.log")
    run = uuid.uuid4().hex[:6]
    lat, lon = CITY.zones["z08"].interior_point

    async def publish(topic: str, key: str, body: dict[str, object]) -> None:
        await producer.send_and_wait(
            settings.topic(topic), key=key.encode(), value=orjson.dumps(body)
        )

    async def incident(incident_id: str) -> None:
        await publish(
            topics.INCIDENTS_REPORTED,
            incident_id,
            {
                "incident_id": incident_id,
                "reported_at": datetime.now(UTC).isoformat(),
                "category": "public_order",
                "priority": 2,
                "location": {"lat": lat, "lon": lon},
                "source": "hailar-110",
            },
        )

    for n, east in enumerate((100, 800)):
        await publish(
            topics.UNITS_TELEMETRY,
            f"st-{run}-{n}",
            {
                "unit_id": f"st-{run}-{n}",
                "at": datetime.now(UTC).isoformat(),
                "status": "available",
                "force": "station",
                "location": {"lat": lat, "lon": lon + east / 72_800},
            },
        )
    assignments = await consumer_factory(settings.topic(topics.DISPATCH_ASSIGNMENTS))
    seen: dict[str, Assignment] = {}

    async def record_of(incident_id: str) -> Assignment | None:
        for records in (await assignments.getmany(timeout_ms=300)).values():
            for record in records:
                got = Assignment.model_validate_json(record.value)
                seen[got.incident_id] = got
        found = seen.get(incident_id)
        return found if found is not None and found.outcome is AssignmentOutcome.ASSIGNED else None

    first = f"INC-{run}-a"
    await eventually(_applied(worker, "telemetry", 2), timeout_s=30, what="telemetry applied")
    await incident(first)
    before = await eventually(lambda: record_of(first), timeout_s=30, what="first assignment")
    await publish(
        topics.INCIDENTS_UPDATES,
        first,
        {
            "incident_id": first,
            "at": datetime.now(UTC).isoformat(),
            "kind": "acknowledged",
            "unit_id": before.unit_id,
        },
    )
    await eventually(_applied(worker, "update", 1), timeout_s=30, what="acknowledgement applied")

    assert worker.proc is not None
    os.killpg(worker.proc.pid, signal.SIGKILL)  # no clean shutdown, no flush
    worker.proc.wait(timeout=30)
    settings_again = settings.model_copy()
    worker = await start_worker(settings_again, tmp_path / "second.log")
    try:
        second = f"INC-{run}-b"
        await incident(second)
        after = await eventually(lambda: record_of(second), timeout_s=60, what="second assignment")
        # The first unit is still committed (acknowledged, never released): the second
        # incident gets the other unit, known only from before the kill.
        assert before.unit_id == f"st-{run}-0"
        assert after.unit_id == f"st-{run}-1"
    finally:
        worker.stop()


def _applied(worker: WorkerProcess, kind: str, count: int) -> Callable[[], Awaitable[bool]]:
    async def probe() -> bool:
        return await worker.region_events(kind) >= count

    return probe
