"""End to end: a real worker on the real broker, a short scripted run, a real Prometheus.

One world per module (a Faust worker takes seconds to join its group): a fresh deployment on the
session broker (``kafka_bootstrap`` in ``tests/conftest.py``), a worker subprocess, a scripted
run through the input topics, and Prometheus on loopback scraping the worker every second with
the alert rules of ``deploy/prometheus/rules`` loaded. Tests wait on conditions with deadlines.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from aiokafka import AIOKafkaProducer

from schemas import topics
from streams.city.model import load_city
from streams.security import client_kwargs
from streams.settings import Settings
from tests.support.deployments import make_deployment, start_worker
from tests.support.prometheus import (
    RULE_FILES,
    PrometheusProcess,
    prometheus_config,
    require_binary,
)
from tests.support.worker_process import WorkerProcess

CITY = load_city(None)


@dataclass
class World:
    settings: Settings
    worker: WorkerProcess
    prometheus: PrometheusProcess
    run: str


async def scripted_run(producer: AIOKafkaProducer, settings: Settings, run: str) -> None:
    """Units in both regions; incidents dispatched, invalid, waiting (fire: no fire unit),
    assigned by hand and arrived, cleared; a case filed and solved, another a year ago (for the
    comparisons); and one malformed record."""

    async def send(topic: str, key: str, value: bytes) -> None:
        await producer.send_and_wait(settings.topic(topic), key=key.encode(), value=value)

    async def publish(topic: str, key: str, body: dict[str, object]) -> None:
        await send(topic, key, orjson.dumps(body))

    now = datetime.now(UTC)

    def at(zone: str, east_m: float = 0.0) -> dict[str, float]:
        lat, lon = CITY.zones[zone].interior_point
        return {"lat": lat, "lon": lon + east_m / 72_800}

    units = [("station", "z01", 0), ("community", "z01", 150), ("volunteer", "z01", 300)]
    units += [("station", "z15", 0)]
    for n, (force, zone, east) in enumerate(units):
        unit_id = f"E2E-{run}-u{n}"
        await publish(
            topics.UNITS_TELEMETRY,
            unit_id,
            {
                "unit_id": unit_id,
                "at": now.isoformat(),
                "status": "available",
                "force": force,
                "location": at(zone, east),
            },
        )

    def incident(incident_id: str, category: str, zone: str, when: datetime) -> dict[str, object]:
        return {
            "incident_id": incident_id,
            "reported_at": when.isoformat(),
            "category": category,
            "priority": 2,
            "location": at(zone, 50),
            "source": "e2e-110",
        }

    dispatched, invalid, case, old = (f"E2E-{run}-{x}" for x in ("a", "b", "c", "l"))
    a_year_ago = now - timedelta(days=366)
    await publish(
        topics.INCIDENTS_REPORTED,
        dispatched,
        incident(dispatched, "public_order", "z01", now - timedelta(minutes=1)),
    )
    await publish(topics.INCIDENTS_REPORTED, invalid, incident(invalid, "invalid", "z01", now))
    await publish(topics.INCIDENTS_REPORTED, case, incident(case, "criminal", "z01", now))
    await publish(topics.INCIDENTS_REPORTED, old, incident(old, "criminal", "z15", a_year_ago))
    for incident_id, kind, when, case_id in (
        (case, "case_filed", now, f"C-{run}"),
        (case, "case_solved", now, f"C-{run}"),
        (old, "case_filed", a_year_ago, f"L-{run}"),
    ):
        await publish(
            topics.INCIDENTS_UPDATES,
            incident_id,
            {
                "incident_id": incident_id,
                "at": when.isoformat(),
                "kind": kind,
                "case_id": case_id,
                "case_type": "criminal",
            },
        )
    await publish(
        topics.INCIDENTS_UPDATES,
        dispatched,
        {"incident_id": dispatched, "at": now.isoformat(), "kind": "cleared"},
    )
    # A fire call: no fire unit in the city, so it waits unassigned (and raises an alert).
    fire = f"E2E-{run}-f"
    await publish(topics.INCIDENTS_REPORTED, fire, incident(fire, "fire", "z01", now))
    # A unit assigned by a person upstream that arrives 20 s after the report.
    manual, unit = f"E2E-{run}-m", f"E2E-{run}-u0"
    await publish(
        topics.INCIDENTS_REPORTED,
        manual,
        incident(manual, "dispute", "z01", now - timedelta(seconds=30)),
    )
    for kind, seconds_ago in (("dispatched", 25), ("acknowledged", 22), ("arrived", 10)):
        await publish(
            topics.INCIDENTS_UPDATES,
            manual,
            {
                "incident_id": manual,
                "at": (now - timedelta(seconds=seconds_ago)).isoformat(),
                "kind": kind,
                "unit_id": unit,
            },
        )
    await send(topics.INCIDENTS_REPORTED, f"E2E-{run}-bad", b'{"incident_id": "E2E-bad", "pri')


@pytest.fixture(scope="module")
async def world(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[World]:
    require_binary("prometheus")
    settings = await make_deployment(
        kafka_bootstrap, tmp_path_factory, clearance_snapshot_interval_s=1.0
    )
    logs = tmp_path_factory.mktemp("e2e")
    worker = await start_worker(settings, logs / "worker.log")
    prometheus = PrometheusProcess(
        logs / "prometheus",
        prometheus_config(
            targets=[f"127.0.0.1:{settings.web_port}"], rule_files=RULE_FILES, interval_s=1.0
        ),
    )
    try:
        prometheus.start()
        await prometheus.wait_ready()
        producer = AIOKafkaProducer(
            bootstrap_servers=kafka_bootstrap, acks="all", **client_kwargs(settings)
        )
        await producer.start()
        run = uuid.uuid4().hex[:6]
        try:
            await scripted_run(producer, settings, run)
        finally:
            await producer.stop()
        yield World(settings, worker, prometheus, run)
    finally:
        prometheus.stop()
        worker.stop()
