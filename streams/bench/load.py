"""Bench input: units, telemetry, incidents and their updates as wire records, and pre-loading.

Records are built as the upstream systems send them (JSON, keyed by unit or incident id, zone
left for patrolflow to resolve) so the decode cost is the real one. Positions are uniform over
the city's zones (every region gets its share); forces and incident categories follow the
mixes of the dispatch decision benchmark.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import orjson
from aiokafka import AIOKafkaProducer

from schemas import topics
from schemas.units import Force
from streams.city.model import City
from streams.dispatch.bench import CATEGORY_MIX, FORCE_MIX, PRIORITY_MIX
from streams.settings import Settings

#: How far after its incident a ``closed`` update follows in a pre-loaded mix (records), so
#: units are freed as in a real shift instead of all ending up committed.
CLOSE_AFTER = 100


@dataclass(frozen=True, slots=True)
class Record:
    topic: str  # canonical name (schemas.topics); the deployment adds its prefix
    key: bytes
    value: bytes


@dataclass(frozen=True, slots=True)
class Unit:
    unit_id: str
    force: Force
    lat: float
    lon: float


class CitySampler:
    """Uniform random points inside the city's zones (rejection sampling on their bounds)."""

    def __init__(self, city: City, rng: random.Random) -> None:
        self._city, self._rng = city, rng
        bounds = [zone.geometry.bounds for zone in city.zones.values()]
        self._box = (
            min(b[0] for b in bounds),
            min(b[1] for b in bounds),
            max(b[2] for b in bounds),
            max(b[3] for b in bounds),
        )

    def point(self) -> tuple[float, float]:
        minx, miny, maxx, maxy = self._box
        while True:
            lat, lon = self._rng.uniform(miny, maxy), self._rng.uniform(minx, maxx)
            if self._city.zone_at(lat, lon) is not None:
                return lat, lon


def fleet(count: int, city: City, rng: random.Random, *, tag: str = "b") -> list[Unit]:
    sampler = CitySampler(city, rng)
    forces, weights = list(FORCE_MIX), list(FORCE_MIX.values())
    return [
        Unit(f"u-{tag}-{i:06d}", rng.choices(forces, weights)[0], *sampler.point())
        for i in range(count)
    ]


def telemetry(unit: Unit, at: datetime, status: str = "available") -> Record:
    body = {
        "unit_id": unit.unit_id,
        "at": at.isoformat(),
        "location": {"lat": unit.lat, "lon": unit.lon},
        "status": status,
        "force": unit.force.value,
        "speed_mps": 0.0,
    }
    return Record(topics.UNITS_TELEMETRY, unit.unit_id.encode(), orjson.dumps(body))


def incident(incident_id: str, at: datetime, sampler: CitySampler, rng: random.Random) -> Record:
    lat, lon = sampler.point()
    body = {
        "incident_id": incident_id,
        "reported_at": at.isoformat(),
        "category": rng.choices(list(CATEGORY_MIX), list(CATEGORY_MIX.values()))[0].value,
        "priority": rng.choices(list(PRIORITY_MIX), list(PRIORITY_MIX.values()))[0],
        "location": {"lat": lat, "lon": lon},
        "source": "bench-110",
    }
    return Record(topics.INCIDENTS_REPORTED, incident_id.encode(), orjson.dumps(body))


def update(incident_id: str, at: datetime, kind: str) -> Record:
    body = {"incident_id": incident_id, "at": at.isoformat(), "kind": kind}
    return Record(topics.INCIDENTS_UPDATES, incident_id.encode(), orjson.dumps(body))


def mixed(
    events: int,
    *,
    units: Sequence[Unit],
    city: City,
    telemetry_per_incident: int = 200,
    seed: int = 7,
    end: datetime,
    step: timedelta = timedelta(milliseconds=1),
) -> list[Record]:
    """``events`` records: telemetry round-robin over ``units``, one incident every
    ``telemetry_per_incident`` telemetry records, each closed ``CLOSE_AFTER`` records later.
    Event time advances ``step`` per record and ends at ``end`` (never in the future)."""
    rng = random.Random(seed)
    sampler = CitySampler(city, rng)
    at = end - step * events
    closes: deque[tuple[int, str]] = deque()
    out: list[Record] = []
    sent_telemetry = incidents = 0
    while len(out) < events:
        at += step
        if closes and closes[0][0] <= len(out):
            out.append(update(closes.popleft()[1], at, "closed"))
        elif (
            sent_telemetry
            and sent_telemetry % telemetry_per_incident == 0
            and (incidents < sent_telemetry // telemetry_per_incident)
        ):
            incident_id = f"i-{seed}-{incidents:07d}"
            out.append(incident(incident_id, at, sampler, rng))
            closes.append((len(out) + CLOSE_AFTER, incident_id))
            incidents += 1
        else:
            out.append(telemetry(units[sent_telemetry % len(units)], at))
            sent_telemetry += 1
    return out


def producer(settings: Settings) -> AIOKafkaProducer:
    # Batching producer: pre-loading must not be what the figures measure.
    return AIOKafkaProducer(
        bootstrap_servers=settings.bootstrap, linger_ms=5, max_batch_size=256 * 1024
    )


async def publish(
    settings: Settings, records: Iterable[Record], *, client: AIOKafkaProducer | None = None
) -> float:
    """Send every record (acknowledged by the broker); returns the seconds it took."""
    own = client is None
    client = client or producer(settings)
    if own:
        await client.start()
    started = time.perf_counter()
    try:
        pending = []
        for record in records:
            topic = settings.topic(record.topic)
            pending.append(await client.send(topic, key=record.key, value=record.value))
            if len(pending) >= 5000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
        return time.perf_counter() - started
    finally:
        if own:
            await client.stop()


def counts(records: Iterable[Record]) -> dict[str, int]:
    out: dict[str, int] = {}
    for record in records:
        out[record.topic] = out.get(record.topic, 0) + 1
    return out
