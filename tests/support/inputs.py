"""Input records for the bad-input, duplicate and personal-data tests, and how to read back.

Good records follow the wire contracts (README, "Topics and contracts"). A thrown record
remembers where the broker put it, so the dead-letter topic can be checked record by record
against its error headers (source topic, partition, offset).
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import ConsumerRecord

from schemas import topics
from schemas.deadletter import ERRORS_OFFSET, ERRORS_PARTITION, ERRORS_TOPIC
from schemas.incidents import IncidentCategory
from schemas.units import Force
from streams.city.model import load_city
from streams.settings import Settings
from tests.support.waiting import eventually
from tests.support.worker_process import WorkerProcess

CITY = load_city(None)
ZONES = sorted(CITY.zones)
INPUT_TOPICS = (topics.INCIDENTS_REPORTED, topics.INCIDENTS_UPDATES, topics.UNITS_TELEMETRY)
#: The stable stage name of each input topic's intake agent (also the dead-letter header).
STAGES = {topic: "intake." + topic.replace(".", "_") for topic in INPUT_TOPICS}
#: What the region core counts each input as (``patrolflow_region_events_total{kind}``).
REGION_KIND = {
    topics.INCIDENTS_REPORTED: "incident",
    topics.INCIDENTS_UPDATES: "update",
    topics.UNITS_TELEMETRY: "telemetry",
}

Headers = list[tuple[str, bytes]]
Position = tuple[str, int, int]


@dataclass
class Thrown:
    """One record sent to an input topic; ``reason`` is the dead-letter reason it must get."""

    topic: str
    key: bytes | None
    value: bytes | None
    headers: Headers = field(default_factory=list)
    reason: str | None = None  # None: a good record, it must be processed
    what: str = "good"
    partition: int = -1
    offset: int = -1

    def position(self, settings: Settings) -> Position:
        return settings.topic(self.topic), self.partition, self.offset


def point(zone: str, rng: random.Random | None = None) -> dict[str, float]:
    """A point inside ``zone`` (within ~50 m of its interior point)."""
    lat, lon = CITY.zones[zone].interior_point
    jitter = rng.uniform(-0.0004, 0.0004) if rng else 0.0
    return {"lat": lat + jitter, "lon": lon + jitter}


def incident_body(
    incident_id: str, zone: str, at: datetime, *, category: str = "public_order", priority: int = 2
) -> dict[str, object]:
    return {
        "incident_id": incident_id,
        "reported_at": at.isoformat(),
        "category": category,
        "priority": priority,
        "location": point(zone),
        "source": "hailar-110",
    }


def update_body(incident_id: str, at: datetime, kind: str = "feedback") -> dict[str, object]:
    return {"incident_id": incident_id, "at": at.isoformat(), "kind": kind}


def telemetry_body(
    unit_id: str, zone: str, at: datetime, *, force: str = "station", status: str = "available"
) -> dict[str, object]:
    return {
        "unit_id": unit_id,
        "at": at.isoformat(),
        "location": point(zone),
        "status": status,
        "force": force,
    }


def good_records(
    run: str, now: datetime, rng: random.Random, *, units: int, incidents: int, updates: int
) -> list[Thrown]:
    """Varied good records: every category and force, optional fields, unknown extra fields,
    event ids, valid CloudEvents headers and foreign headers (all of which must be accepted)."""
    out: list[Thrown] = []
    forces, categories = list(Force), list(IncidentCategory)
    for i in range(units):
        unit_id = f"{run}-u{i:04d}"
        body = telemetry_body(unit_id, rng.choice(ZONES), now, force=forces[i % len(forces)].value)
        if i % 3 == 0:
            body |= {"speed_mps": rng.uniform(0, 20), "heading": 90, "event_id": f"{unit_id}-t"}
        out.append(_good(topics.UNITS_TELEMETRY, unit_id, body, i))
    incident_ids = [f"{run}-i{i:04d}" for i in range(incidents)]
    for i, incident_id in enumerate(incident_ids):
        body = incident_body(
            incident_id,
            rng.choice(ZONES),
            now,
            category=categories[i % len(categories)].value,
            priority=1 + i % 3,
        )
        if i % 2 == 0:
            body |= {"caller_phone": "13800000000", "summary": "test call", "vendor_x": [1, 2]}
        out.append(_good(topics.INCIDENTS_REPORTED, incident_id, body, i))
    for i in range(updates):
        incident_id = incident_ids[i % len(incident_ids)]
        body = update_body(incident_id, now, kind="feedback")
        if i % 4 == 1:
            body |= {"kind": "case_filed", "case_id": f"{run}-c{i}", "case_type": "criminal"}
        out.append(_good(topics.INCIDENTS_UPDATES, incident_id, body, i))
    return out


def _good(topic: str, key: str, body: dict[str, object], i: int) -> Thrown:
    headers: Headers = []
    if i % 5 == 1:
        headers = cloudevent_headers(f"{key}-ce{i}", "/test/bad-input")
    elif i % 5 == 3:  # CloudEvents without an id: never a reason to reject (natural key)
        headers = [h for h in cloudevent_headers("-", "/test") if h[0] != "ce_id"]
    elif i % 5 == 2:
        headers = [("traceparent", b"00-abc-def-01"), ("vendor", b"\xff\x00 binary is fine")]
    return Thrown(topic, key.encode(), orjson.dumps(body), headers)


def cloudevent_headers(ce_id: str, source: str) -> Headers:
    """Valid CloudEvents 1.0 binary-mode headers (the Kafka protocol binding)."""
    return [
        ("ce_specversion", b"1.0"),
        ("ce_id", ce_id.encode()),
        ("ce_source", source.encode()),
        ("ce_type", b"cn.police.test"),
    ]


async def throw(producer: AIOKafkaProducer, settings: Settings, records: list[Thrown]) -> None:
    """Send every record (pipelined), then note where each one landed."""
    futures = [
        await producer.send(
            settings.topic(r.topic), key=r.key, value=r.value, headers=r.headers or None
        )
        for r in records
    ]
    for record, future in zip(records, futures, strict=True):
        metadata = await future
        record.partition, record.offset = metadata.partition, metadata.offset


def samples(text: str, name: str) -> dict[frozenset[tuple[str, str]], float]:
    """Every sample of metric ``name`` in Prometheus text, by its label set."""
    out: dict[frozenset[tuple[str, str]], float] = {}
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        sample, _, value = line.rpartition(" ")
        metric, _, label_text = sample.partition("{")
        if metric != name:
            continue
        labels = frozenset(
            (k, v.strip('"'))
            for k, _, v in (pair.partition("=") for pair in label_text.rstrip("}").split(","))
            if k
        )
        out[labels] = float(value)
    return out


def total(found: dict[frozenset[tuple[str, str]], float], **labels: str) -> float:
    """Sum of the samples whose labels include ``labels``."""
    want = set(labels.items())
    return sum(v for k, v in found.items() if want <= k)


async def metric(worker: WorkerProcess, name: str) -> dict[frozenset[tuple[str, str]], float]:
    status, text = await worker.get("/metrics")
    assert status == 200
    return samples(text, name)


async def read_all(
    consumer: AIOKafkaConsumer, *, until: int | None = None, timeout_s: float = 60
) -> list[ConsumerRecord[bytes, bytes]]:
    """Everything on the consumer's topics up to their current end (waiting for ``until``
    records first, when given)."""
    got: list[ConsumerRecord[bytes, bytes]] = []

    async def probe() -> bool:
        for batch in (await consumer.getmany(timeout_ms=300, max_records=5000)).values():
            got.extend(batch)
        if until is not None and len(got) < until:
            return False
        ends = await consumer.end_offsets(list(consumer.assignment()))
        for tp, end in ends.items():
            if await consumer.position(tp) < end:
                return False
        return True

    await eventually(probe, timeout_s=timeout_s, interval_s=0.05, what=f"{until} records")
    return got


def dead_letter_position(record: ConsumerRecord[bytes, bytes]) -> Position:
    headers = dict(record.headers)
    return (
        headers[ERRORS_TOPIC].decode(),
        int(headers[ERRORS_PARTITION]),
        int(headers[ERRORS_OFFSET]),
    )


def by_position(
    records: Iterable[ConsumerRecord[bytes, bytes]],
) -> dict[Position, list[ConsumerRecord[bytes, bytes]]]:
    out: dict[Position, list[ConsumerRecord[bytes, bytes]]] = {}
    for record in records:
        out.setdefault(dead_letter_position(record), []).append(record)
    return out
