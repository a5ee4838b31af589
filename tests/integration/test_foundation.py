"""The foundation against a real broker: a worker consumes, dead-letters and reports on itself."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from schemas import topics
from schemas.deadletter import HEADER_PREFIX
from streams.settings import Settings
from tests.support.waiting import eventually
from tests.support.worker_process import WorkerProcess

pytestmark = pytest.mark.integration


def incident(incident_id: str) -> dict[str, object]:
    return {
        "incident_id": incident_id,
        "reported_at": datetime.now(UTC).isoformat(),
        "category": "public_order",
        "priority": 2,
        "location": {"lat": 49.2135, "lon": 119.7480},
        "source": "hailar-110",
    }


def metric_value(text: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus text format (0 when absent)."""
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        sample, _, value = line.rpartition(" ")
        metric, _, label_text = sample.partition("{")
        got = ",".join(sorted(label_text.rstrip("}").split(","))) if label_text else ""
        if metric == name and got == want:
            return float(value)
    return 0.0


@pytest.fixture
async def running(
    deployment_factory: Callable[..., Awaitable[Settings]],
    worker_factory: Callable[[Settings], Awaitable[WorkerProcess]],
) -> tuple[Settings, WorkerProcess]:
    settings = await deployment_factory()
    return settings, await worker_factory(settings)


async def accepted_count(worker: WorkerProcess) -> float:
    status, text = await worker.get("/metrics")
    assert status == 200
    return metric_value(
        text, "patrolflow_intake_records_total", topic=topics.INCIDENTS_REPORTED, outcome="accepted"
    )


async def test_worker_consumes_a_published_incident(
    running: tuple[Settings, WorkerProcess], producer: AIOKafkaProducer
) -> None:
    settings, worker = running
    before = await accepted_count(worker)
    incident_id = f"INC-{uuid.uuid4().hex[:8]}"
    await producer.send_and_wait(
        settings.topic(topics.INCIDENTS_REPORTED),
        key=incident_id.encode(),
        value=orjson.dumps(incident(incident_id)),
    )

    async def counted() -> float | None:
        after = await accepted_count(worker)
        return after if after >= before + 1 else None

    assert (
        await eventually(counted, timeout_s=30, what="incident counted as accepted") == before + 1
    )


async def test_malformed_incident_lands_in_dead_letters_with_its_bytes(
    running: tuple[Settings, WorkerProcess],
    producer: AIOKafkaProducer,
    consumer_factory: Callable[..., Awaitable[AIOKafkaConsumer]],
) -> None:
    settings, worker = running
    source = settings.topic(topics.INCIDENTS_REPORTED)
    bad_value = (
        b'{"incident_id": "INC-bad", "caller_phone": "13800000000", "priority": "x'
        + uuid.uuid4().hex.encode()
    )
    bad_key = b"INC-bad"
    sent = await producer.send_and_wait(
        source, key=bad_key, value=bad_value, headers=[("trace", b"abc")]
    )
    good_id = f"INC-{uuid.uuid4().hex[:8]}"
    await producer.send_and_wait(
        source, key=good_id.encode(), value=orjson.dumps(incident(good_id))
    )

    dlq = await consumer_factory(settings.dead_letter_topic)

    async def find() -> object | None:
        batch = await dlq.getmany(timeout_ms=500)
        for records in batch.values():
            for record in records:
                if record.value == bad_value:
                    return record
        return None

    record = await eventually(find, timeout_s=30, what="dead-letter record with the original bytes")
    headers = {k: v for k, v in record.headers}  # type: ignore[attr-defined]
    assert record.key == bad_key  # type: ignore[attr-defined]
    assert headers["trace"] == b"abc"  # original headers are kept
    assert headers[f"{HEADER_PREFIX}topic"].decode() == source
    assert int(headers[f"{HEADER_PREFIX}partition"]) == sent.partition
    assert int(headers[f"{HEADER_PREFIX}offset"]) == sent.offset
    assert headers[f"{HEADER_PREFIX}stage"] == b"intake.incidents_reported"
    assert headers[f"{HEADER_PREFIX}exception.class.name"]
    assert b"13800000000" not in b"".join(headers.values())  # no personal data echoed

    _, text = await worker.get("/metrics")
    assert (
        metric_value(
            text,
            "patrolflow_dead_letters_total",
            topic=topics.INCIDENTS_REPORTED,
            reason="not_json",
        )
        >= 1
    )
    assert worker.proc is not None
    assert worker.proc.poll() is None


async def test_first_start_holds_every_topic_in_its_first_assignment(
    running: tuple[Settings, WorkerProcess],
) -> None:
    """On a fresh cluster the worker creates its internal topics; when it says ready it must
    already hold them (not learn of them at a rebalance ~10 s later, as it once did)."""
    settings, worker = running
    status, body = await worker.get("/healthz")
    assert status == 200
    assigned = set(orjson.loads(body)["assigned_topics"])
    wanted = {settings.topic(t) for t in topics.INPUT_TOPICS} | {
        settings.internal_topic(name) for name in ("routing", "region-events", "cases")
    }
    assert wanted <= assigned, f"not in the first assignment: {sorted(wanted - assigned)}"
    assert f"{settings.app_id}-region-units-changelog" in assigned


async def test_metrics_and_health_answer(running: tuple[Settings, WorkerProcess]) -> None:
    _, worker = running
    status, body = await worker.get("/healthz")
    assert status == 200
    health = orjson.loads(body)
    assert health["ready"] is True
    assert health["topics_unknown"] == []
    status, _ = await worker.get("/livez")
    assert status == 200
    status, text = await worker.get("/metrics")
    assert status == 200
    assert "patrolflow_build_info{" in text
    assert "patrolflow_faust_messages_received" in text  # Faust's own sensors (milliseconds)
