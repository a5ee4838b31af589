"""Clearance through the real broker: case updates in, exact figures out (/clearance, topic)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from schemas import topics
from schemas.clearance import ClearanceSnapshot
from streams.city.model import load_city
from streams.clearance.periods import Period, year_on_year
from streams.settings import Settings
from tests.support.waiting import eventually
from tests.support.worker_process import WorkerProcess

pytestmark = pytest.mark.integration

CITY = load_city(None)
TZ = ZoneInfo("Asia/Shanghai")


def noon(day: date) -> datetime:
    return datetime.combine(day, time(12, 0), tzinfo=TZ)


async def test_case_updates_yield_exact_clearance_figures(
    deployment_factory: Callable[..., Awaitable[Settings]],
    worker_factory: Callable[[Settings], Awaitable[WorkerProcess]],
    producer: AIOKafkaProducer,
    consumer_factory: Callable[..., Awaitable[AIOKafkaConsumer]],
) -> None:
    settings = await deployment_factory(clearance_snapshot_interval_s=1.0)
    worker = await worker_factory(settings)
    run = uuid.uuid4().hex[:6]
    now = datetime.now(UTC)
    today = now.astimezone(TZ).date()
    last_year = year_on_year(Period(today, today)).start

    async def publish(topic: str, key: str, body: dict[str, object]) -> None:
        await producer.send_and_wait(
            settings.topic(topic), key=key.encode(), value=orjson.dumps(body)
        )

    async def incident(incident_id: str, zone: str, at: datetime) -> None:
        lat, lon = CITY.zones[zone].interior_point
        await publish(
            topics.INCIDENTS_REPORTED,
            incident_id,
            {
                "incident_id": incident_id,
                "reported_at": at.isoformat(),
                "category": "criminal",
                "priority": 2,
                "location": {"lat": lat, "lon": lon},
                "source": "hailar-110",
            },
        )

    async def case(incident_id: str, kind: str, case_id: str, at: datetime) -> None:
        await publish(
            topics.INCIDENTS_UPDATES,
            incident_id,
            {
                "incident_id": incident_id,
                "at": at.isoformat(),
                "kind": kind,
                "case_id": case_id,
                "case_type": "criminal",
            },
        )

    # This year: five criminal cases filed today, three of them solved (one solve repeated),
    # plus a solve for a case nobody filed. Two of the five are in zone z15.
    for n, zone in enumerate(("z02", "z02", "z15", "z02", "z15")):
        incident_id = f"INC-{run}-{n}"
        await case(incident_id, "case_filed", f"C-{run}-{n}", now)  # before its incident: parked
        await incident(incident_id, zone, now - timedelta(minutes=5))
    for n in (0, 2, 3):
        await case(f"INC-{run}-{n}", "case_solved", f"C-{run}-{n}", now)
    await case(f"INC-{run}-0", "case_solved", f"C-{run}-0", now)
    await case(f"INC-{run}-1", "case_solved", f"C-{run}-ghost", now)
    # The same day last year: four cases filed, one solved that day.
    for n in range(4):
        incident_id = f"OLD-{run}-{n}"
        await incident(incident_id, "z02", noon(last_year) - timedelta(minutes=5))
        await case(incident_id, "case_filed", f"L-{run}-{n}", noon(last_year))
    await case(f"OLD-{run}-0", "case_solved", f"L-{run}-0", noon(last_year))

    async def query(**params: str) -> dict[str, object]:
        day = today.isoformat()
        args = {"from": day, "to": day, "as_of": day} | params
        path = "/clearance?" + "&".join(f"{k}={v}" for k, v in args.items())

        async def answered() -> dict[str, object] | None:
            status, body = await worker.get(path)
            if status == 503:  # just after start: the ledger's owner is not known yet
                return None
            assert status == 200, body
            data: dict[str, object] = orjson.loads(body)
            return data

        return await eventually(answered, timeout_s=30, what=f"{path} answered")

    async def figures() -> dict[str, object] | None:
        data = await query()
        yoy = data["year_on_year"]
        assert isinstance(yoy, dict)
        # Every figure asserted below, waited for: case events of different incidents travel
        # on different partitions, so "last year filed 4" can be seen before its one solve.
        applied = (data["filed"], data["cleared"], yoy["filed"], yoy["cleared"]) == (5, 3, 4, 1)
        return data if applied else None

    city = await eventually(figures, timeout_s=30, what="all case events applied")
    snapshot = ClearanceSnapshot.model_validate(city)
    assert snapshot.rate is not None
    assert snapshot.rate.presented == "60.00"  # 3 / 5
    assert snapshot.solved_in_period == 3  # the repeat and the ghost count once, elsewhere
    yoy = snapshot.year_on_year
    assert (yoy.start, yoy.end, yoy.filed, yoy.cleared) == (last_year, last_year, 4, 1)
    assert yoy.filed_change.figure is not None
    assert yoy.filed_change.figure.presented == "25.00"  # (5 - 4) / 4
    assert yoy.rate_change.figure is not None
    assert yoy.rate_change.figure.presented == "35.00"  # 60.00 - 25.00 points
    assert snapshot.previous_period.filed == 0  # yesterday: nothing filed
    assert snapshot.previous_period.filed_change.status.value == "undefined"  # zero base

    z15 = ClearanceSnapshot.model_validate(await query(zone="z15"))
    assert (z15.scope.value, z15.zone_id, z15.filed, z15.cleared) == ("zone", "z15", 2, 1)

    solved = 'patrolflow_clearance_case_events_total{kind="case_solved",outcome="%s"} 1.0'

    async def anomalies_counted() -> bool:
        # The ghost solve travels its own partition: it may land after the figures settle.
        _, text = await worker.get("/metrics")
        return solved % "duplicate_solve" in text and solved % "unknown_case" in text

    await eventually(anomalies_counted, timeout_s=30, what="the repeat and the ghost counted once")

    # The periodic snapshots on metrics.clearance carry the same figures.
    snapshots = await consumer_factory(settings.topic(topics.METRICS_CLEARANCE))

    async def month_to_date() -> ClearanceSnapshot | None:
        found = None
        for records in (await snapshots.getmany(timeout_ms=500)).values():
            for record in records:
                if record.key == b"mtd/criminal/all":
                    found = ClearanceSnapshot.model_validate_json(record.value)
        if found is not None:
            latest["mtd"] = found
        return found if found is not None and (found.filed, found.cleared) == (5, 3) else None

    # Snapshots taken while the events were still arriving show fewer: wait for the final one.
    latest: dict[str, ClearanceSnapshot] = {}
    try:
        mtd = await eventually(month_to_date, timeout_s=30, what="the month-to-date snapshot")
    except AssertionError:
        pytest.fail(f"last month-to-date snapshot seen: {latest.get('mtd')}")
    assert mtd.rate is not None
    assert mtd.rate.presented == "60.00"

    wanted = {'window="mtd"', 'case_type="criminal"', 'scope="all"', 'area="all"'}

    async def gauge() -> float | None:
        _, text = await worker.get("/metrics")
        for line in text.splitlines():
            sample, _, value = line.rpartition(" ")
            name, _, labels = sample.partition("{")
            if name == "patrolflow_clearance_rate_ratio" and set(labels[:-1].split(",")) == wanted:
                return float(value) if float(value) == 0.6 else None
        return None

    await eventually(gauge, timeout_s=30, what="the month-to-date clearance gauge at 0.6")


async def test_first_arrivals_within_target_and_breached_show_in_the_response_section(
    deployment_factory: Callable[..., Awaitable[Settings]],
    worker_factory: Callable[[Settings], Awaitable[WorkerProcess]],
    producer: AIOKafkaProducer,
) -> None:
    settings = await deployment_factory()
    worker = await worker_factory(settings)
    run = uuid.uuid4().hex[:6]
    reported_at = datetime.now(UTC) - timedelta(minutes=40)
    day = reported_at.astimezone(TZ).date().isoformat()
    lat, lon = CITY.zones["z02"].interior_point

    async def publish(topic: str, key: str, body: dict[str, object]) -> None:
        await producer.send_and_wait(
            settings.topic(topic), key=key.encode(), value=orjson.dumps(body)
        )

    # Two incidents at the same spot (so the same circle tier): the first unit arrives after
    # 30 s (within every target: the tightest circle is 1 min), the other after 25 minutes
    # (beyond every target). The first is reported twice and its arrival sent twice.
    incidents = ((f"OK-{run}", "traffic", 30, 2), (f"LATE-{run}", "fire", 1500, 1))
    for incident_id, category, after_s, copies in incidents:
        report = {
            "incident_id": incident_id,
            "reported_at": reported_at.isoformat(),
            "category": category,
            "priority": 2,
            "location": {"lat": lat, "lon": lon},
            "source": "hailar-110",
        }
        for n in range(copies):
            await publish(topics.INCIDENTS_REPORTED, incident_id, report)
            await publish(
                topics.INCIDENTS_UPDATES,
                incident_id,
                {
                    "incident_id": incident_id,
                    "event_id": f"{incident_id}-arrived-{n}",
                    "at": (reported_at + timedelta(seconds=after_s)).isoformat(),
                    "kind": "arrived",
                    "unit_id": f"u-{run}",
                },
            )

    async def section() -> dict[str, object] | None:
        status, body = await worker.get(
            f"/clearance?from={day}&to={day}&as_of={day}&zone=z02&include=response"
        )
        if status == 503:  # the ledger's owner not known yet (right after a (re)start)
            return None
        assert status == 200, body
        data: dict[str, object] = orjson.loads(body)
        response = data["response"]
        assert isinstance(response, list)
        reported = data["incidents"]
        assert isinstance(reported, list)
        counted = sum(tier["first_arrivals"] for tier in response)
        return data if counted == 2 and len(reported) == 2 else None

    data = await eventually(section, timeout_s=30, what="both first arrivals counted")
    snapshot = ClearanceSnapshot.model_validate(data)
    assert snapshot.response is not None
    (tier,) = snapshot.response
    assert (tier.first_arrivals, tier.within_target, tier.share.presented) == (2, 1, "50.00")
    assert tier.tier in {"1min", "3min", "5min", "zone_default"}
    assert snapshot.incidents is not None
    assert {(c.category.value, c.reported) for c in snapshot.incidents} == {
        ("traffic", 1),
        ("fire", 1),
    }
    # Without include=response the answer is as before: no response or incidents keys.
    status, body = await worker.get(f"/clearance?from={day}&to={day}&as_of={day}&zone=z02")
    assert status == 200
    assert {"response", "incidents"}.isdisjoint(orjson.loads(body))

    # A restart (memory store: the tables come back from their changelogs only) answers the
    # same, and replaying nothing new changes nothing.
    assert worker.stop() is not None
    worker = await worker_factory(settings)
    again = await eventually(section, timeout_s=60, what="the same answer after a restart")
    assert again["response"] == data["response"]
    assert again["incidents"] == data["incidents"]
