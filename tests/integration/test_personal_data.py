"""Personal data never leaves intake: planted caller phones and summaries, searched everywhere.

A short scripted flow through a real worker: units, incidents carrying unique caller phone
numbers and free-text summaries (good ones and bad ones), their lifecycle and case updates,
alerts from short response targets and clearance snapshots. Afterwards none of the planted
values may appear in the worker's log, /metrics (and the other endpoints), dispatch.assignments,
alerts.response, metrics.clearance, the internal routing, region, case and table changelog
topics, or the dead-letter topic's headers. (The dead-letter VALUE is the original bytes and
carries them by design; the test checks that it does, so the search is known to work.)
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import ConsumerRecord

from schemas import topics
from schemas.alerts import ResponseAlert
from schemas.dispatch import Assignment, AssignmentOutcome
from streams.dispatch.policy import default_policy, policy_to_json
from streams.intake.decode import MAX_VALUE_BYTES
from streams.settings import Settings
from tests.support.deployments import make_deployment, start_worker
from tests.support.inputs import (
    Thrown,
    cloudevent_headers,
    incident_body,
    read_all,
    telemetry_body,
    throw,
    update_body,
)
from tests.support.waiting import eventually
from tests.support.worker_process import WorkerProcess

pytestmark = pytest.mark.integration

ZONE = "z02"
GOOD_INCIDENTS = 6


class Markers:
    """Unique planted values: a caller phone and a summary per incident."""

    def __init__(self) -> None:
        self.rng = random.Random()
        self.planted: list[str] = []
        self.all: list[str] = []  # what is searched for: planted values and their variants

    def phone(self) -> str:
        # Both shapes a 110 system sends; the digits-only form is searched for too.
        if self.rng.random() < 0.5:
            value = f"+86 139 {self.rng.randrange(10**4):04d} {self.rng.randrange(10**4):04d}"
        else:
            value = f"1{self.rng.randrange(10**10):010d}"
        self.planted.append(value)
        self.all += [value, "".join(c for c in value if c.isdigit())]
        return value

    def summary(self) -> str:
        marker = f"PII{uuid.uuid4().hex}"
        self.planted.append(marker)
        self.all.append(marker)
        return f"Caller says her neighbour hit her; marker {marker}; she is scared"

    def found_in(self, blob: bytes) -> list[str]:
        return sorted({m for m in self.all if m.encode() in blob})


def with_personal_data(body: dict[str, object], markers: Markers) -> dict[str, object]:
    return body | {"caller_phone": markers.phone(), "summary": markers.summary()}


def bad_incidents(run: str, now: datetime, markers: Markers) -> list[Thrown]:
    """Incidents that must be dead-lettered, each carrying personal data (some in the very
    field that is wrong)."""

    def body(n: int) -> dict[str, object]:
        return with_personal_data(incident_body(f"{run}-bad{n}", ZONE, now), markers)

    out: list[tuple[dict[str, object] | bytes, list[tuple[str, bytes]]]] = []
    out.append((body(0) | {"priority": "urgent"}, []))
    long_summary = body(1)
    long_summary["summary"] = str(long_summary["summary"]) * 40  # > 2,000 characters
    out.append((long_summary, []))
    long_phone = body(2)
    long_phone["caller_phone"] = f"{long_phone['caller_phone']} ext. 1234567890123456789"
    out.append((long_phone, []))
    torn = orjson.dumps(body(3))
    out.append((torn[: torn.index(b"; she")], []))  # cut inside the summary
    enum_is_pii = body(4)
    enum_is_pii["category"] = enum_is_pii["summary"]
    out.append((enum_is_pii, []))
    priority_is_pii = body(5)
    priority_is_pii["priority"] = priority_is_pii["caller_phone"]
    out.append((priority_is_pii, []))
    out.append((body(6) | {"location": {"lat": 123.0, "lon": 119.7}}, []))
    out.append((body(7), [*cloudevent_headers(f"{run}-ce", "/110"), ("ce_time", b"no")]))
    out.append((body(8) | {"padding": "p" * MAX_VALUE_BYTES}, []))
    out.append((orjson.dumps(body(9)).replace(b"marker ", b"marker \xc3\x28 "), []))
    out.append((body(10) | {"reported_at": "2026-05-01T12:00:00"}, []))  # no zone offset
    out.append((body(11) | {"incident_id": f"tel {markers.phone()}"}, []))  # id with spaces
    return [
        Thrown(
            topics.INCIDENTS_REPORTED,
            f"{run}-bad{n}".encode(),
            value if isinstance(value, bytes) else orjson.dumps(value),
            headers,
            reason="any",
        )
        for n, (value, headers) in enumerate(out)
    ]


async def test_planted_personal_data_appears_nowhere_but_the_dead_letter_values(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    tmp = tmp_path_factory.mktemp("pii")
    settings = await make_deployment(kafka_bootstrap, tmp_path_factory, **fast_config(tmp))
    worker = await start_worker(settings, tmp / "worker.log")
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap, acks="all", max_request_size=4 * MAX_VALUE_BYTES
    )
    await producer.start()
    try:
        markers = await run_flow(settings, worker, producer, kafka_bootstrap)
        await check_nowhere(settings, worker, kafka_bootstrap, markers)
    finally:
        await producer.stop()
        worker.stop()


def fast_config(tmp: Path) -> dict[str, object]:
    """Short acknowledgement timeouts and response targets, so alerts happen within seconds."""
    policy = tmp / "policy.json"
    policy.write_text(json.dumps(policy_to_json(default_policy()) | {"ack_timeout_s": 3.0}))
    response = tmp / "response.json"
    response.write_text(json.dumps({"circle_reach_m": {"4": 100_000}, "post_grace_s": 2.0}))
    return {
        "dispatch_policy": policy,
        "response_config": response,
        "allowed_lateness_s": 0.5,
        "clearance_snapshot_interval_s": 1.0,
    }


async def run_flow(
    settings: Settings, worker: WorkerProcess, producer: AIOKafkaProducer, bootstrap: str
) -> Markers:
    run, now, markers = uuid.uuid4().hex[:6], datetime.now(UTC), Markers()
    units = [
        Thrown(topics.UNITS_TELEMETRY, u.encode(), orjson.dumps(telemetry_body(u, ZONE, now)))
        for u in (f"{run}-u{n}" for n in range(3))
    ]
    await throw(producer, settings, units)
    incidents = [f"{run}-i{n}" for n in range(GOOD_INCIDENTS)]
    good = [
        Thrown(
            topics.INCIDENTS_REPORTED,
            incident_id.encode(),
            orjson.dumps(with_personal_data(incident_body(incident_id, ZONE, now), markers)),
        )
        for incident_id in incidents
    ]
    bad = bad_incidents(run, now, markers)
    await throw(producer, settings, good + bad)

    # Every good incident decided; the first one's unit goes through its whole lifecycle.
    assignments = await consumer(bootstrap, settings.topic(topics.DISPATCH_ASSIGNMENTS))
    seen: list[Assignment] = []

    async def decided() -> Assignment | None:
        for batch in (await assignments.getmany(timeout_ms=300)).values():
            seen.extend(Assignment.model_validate_json(r.value) for r in batch)
        if not set(incidents) <= {a.incident_id for a in seen}:
            return None
        return next((a for a in seen if a.outcome is AssignmentOutcome.ASSIGNED), None)

    first = await eventually(decided, timeout_s=60, what="every good incident decided")
    await assignments.stop()
    lifecycle = [
        update_body(first.incident_id, now + timedelta(seconds=n), kind)
        | {"unit_id": first.unit_id}
        for n, kind in enumerate(("acknowledged", "arrived", "cleared"), start=1)
    ]
    case = {"case_id": f"{run}-c", "case_type": "criminal"}
    cases = [update_body(incidents[1], now, k) | case for k in ("case_filed", "case_solved")]
    await throw(
        producer,
        settings,
        [
            Thrown(topics.INCIDENTS_UPDATES, str(b["incident_id"]).encode(), orjson.dumps(b))
            for b in lifecycle + cases
        ],
    )

    # Outputs of every kind exist before we search them: an alert, a clearance snapshot
    # counting the solved case, and every bad incident dead-lettered.
    alerts = await consumer(bootstrap, settings.topic(topics.ALERTS_RESPONSE))
    got_alerts = await read_all(alerts, until=1)
    assert [ResponseAlert.model_validate_json(r.value) for r in got_alerts]
    await alerts.stop()
    snapshots = await consumer(bootstrap, settings.topic(topics.METRICS_CLEARANCE))

    async def solved_case_published() -> bool:
        for batch in (await snapshots.getmany(timeout_ms=300)).values():
            for record in batch:
                key = f"7d/criminal/zone/{ZONE}".encode()
                if record.key == key and orjson.loads(record.value)["cleared"] >= 1:
                    return True
        return False

    await eventually(solved_case_published, timeout_s=30, what="a snapshot with the case")
    await snapshots.stop()
    dead = await consumer(bootstrap, settings.dead_letter_topic)
    await read_all(dead, until=len(bad))
    await dead.stop()
    return markers


async def consumer(bootstrap: str, *names: str) -> AIOKafkaConsumer:
    client = AIOKafkaConsumer(
        *names,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        group_id=None,
        fetch_max_bytes=8 * MAX_VALUE_BYTES,
    )
    await client.start()
    return client


def blob(records: Iterable[ConsumerRecord[bytes, bytes]], *, values: bool = True) -> bytes:
    parts: list[bytes] = []
    for record in records:
        parts += [record.key or b"", (record.value or b"") if values else b""]
        parts += [k.encode() + b"=" + v for k, v in record.headers]
    return b"\n".join(parts)


async def check_nowhere(
    settings: Settings, worker: WorkerProcess, bootstrap: str, markers: Markers
) -> None:
    probe = await consumer(bootstrap)
    names = await probe.topics()
    await probe.stop()
    internal = sorted(n for n in names if settings.app_id in n)
    outputs = [
        settings.topic(t)
        for t in (topics.DISPATCH_ASSIGNMENTS, topics.ALERTS_RESPONSE, topics.METRICS_CLEARANCE)
    ]
    assert any(n.endswith("-routing") for n in internal), internal
    assert any(n.endswith("-region-events") for n in internal), internal
    assert any(n.endswith("-changelog") for n in internal), internal

    leaks: dict[str, list[str]] = {}
    for name in internal + outputs:
        client = await consumer(bootstrap, name)
        leaks[name] = markers.found_in(blob(await read_all(client)))
        await client.stop()
    dlq = await consumer(bootstrap, settings.dead_letter_topic)
    dead = await read_all(dlq)
    await dlq.stop()
    leaks["dead-letter headers"] = markers.found_in(blob(dead, values=False))
    leaks["worker log"] = markers.found_in(worker.log_path.read_bytes())
    for path in ("/metrics", "/healthz", "/livez", "/clearance?from=2020-01-01&to=2030-12-31"):
        _, text = await worker.get(path)
        leaks[path] = markers.found_in(text.encode())
    assert {where: found for where, found in leaks.items() if found} == {}

    # The search works: the planted values are in the inputs and in the dead-letter values.
    inputs = await consumer(bootstrap, settings.topic(topics.INCIDENTS_REPORTED))
    assert set(markers.planted) <= set(markers.found_in(blob(await read_all(inputs))))
    await inputs.stop()
    assert markers.found_in(blob(dead))
