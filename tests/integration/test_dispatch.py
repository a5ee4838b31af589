"""Dispatch through the real broker: a scripted city yields exactly the expected assignments.

One worker serves the whole module (a Faust worker takes seconds to join its group); every test
uses its own unit and incident ids and places its units in its own zone, far apart.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from schemas import topics
from schemas.alerts import ResponseAlert
from schemas.dispatch import Assignment, AssignmentOutcome
from streams.city.model import load_city
from streams.dispatch.policy import default_policy, policy_to_json
from streams.settings import Settings
from tests.support.deployments import make_deployment, start_worker
from tests.support.waiting import eventually
from tests.support.worker_process import WorkerProcess

pytestmark = pytest.mark.integration

CITY = load_city(None)
ACK_TIMEOUT_S = 3.0
TARGET_S = 4
POST_GRACE_S = 2.0


@dataclass
class DispatchWorld:
    settings: Settings
    worker: WorkerProcess
    producer: AIOKafkaProducer
    consumer: AIOKafkaConsumer
    seen: dict[str, list[Assignment]] = field(default_factory=dict)
    sent: dict[str, int] = field(default_factory=lambda: {"telemetry": 0, "update": 0})
    incidents: list[str] = field(default_factory=list)
    alerts: AIOKafkaConsumer | None = None
    seen_alerts: list[ResponseAlert] = field(default_factory=list)

    @property
    def t0(self) -> datetime:
        return datetime.now(UTC)

    async def publish(self, topic: str, key: str, body: dict[str, object]) -> None:
        await self.producer.send_and_wait(
            self.settings.topic(topic), key=key.encode(), value=orjson.dumps(body)
        )

    async def unit(
        self,
        unit_id: str,
        zone: str,
        east_m: float,
        *,
        force: str = "station",
        at: datetime | None = None,
        status: str = "available",
        where: tuple[float, float] | None = None,
        extra: dict[str, object] | None = None,
    ) -> None:
        lat, lon = where or CITY.zones[zone].interior_point
        self.sent["telemetry"] += 1
        await self.publish(
            topics.UNITS_TELEMETRY,
            unit_id,
            {
                "unit_id": unit_id,
                "at": (at or self.t0).isoformat(),
                "status": status,
                "force": force,
                "location": {"lat": lat, "lon": lon + east_m / 72_800},
                **(extra or {}),
            },
        )

    async def settled(self) -> None:
        """Wait until the region core has applied every telemetry record and update sent.

        Inputs on different topics are not ordered with each other (nor are they upstream):
        a test that needs units in place before an incident waits for them, as a dispatcher
        would look at the map first.
        """

        async def probe() -> bool:
            for kind, count in self.sent.items():
                if await self.worker.region_events(kind) < count:
                    return False
            return True

        await eventually(probe, timeout_s=30, what=f"region core applied {self.sent}")

    async def incident(
        self, incident_id: str, zone: str, *, category: str = "public_order", priority: int = 2
    ) -> None:
        lat, lon = CITY.zones[zone].interior_point
        self.incidents.append(incident_id)
        await self.publish(
            topics.INCIDENTS_REPORTED,
            incident_id,
            {
                "incident_id": incident_id,
                "reported_at": self.t0.isoformat(),
                "category": category,
                "priority": priority,
                "location": {"lat": lat, "lon": lon},
                "source": "hailar-110",
                "caller_phone": "13800000000",
            },
        )

    async def update(self, incident_id: str, kind: str, unit_id: str | None = None) -> None:
        body: dict[str, object] = {
            "incident_id": incident_id,
            "at": self.t0.isoformat(),
            "kind": kind,
        }
        if unit_id:
            body["unit_id"] = unit_id
        self.sent["update"] += 1
        await self.publish(topics.INCIDENTS_UPDATES, incident_id, body)

    async def alert(
        self, incident_id: str, kind: str, timeout_s: float = 30, resolves: str | None = None
    ) -> ResponseAlert:
        """The first alert of ``kind`` about ``incident_id`` (resolving ``resolves``)."""

        async def probe() -> ResponseAlert | None:
            assert self.alerts is not None
            batch = await self.alerts.getmany(timeout_ms=200)
            for records in batch.values():
                for record in records:
                    self.seen_alerts.append(ResponseAlert.model_validate_json(record.value))
            return next(
                (
                    a
                    for a in self.seen_alerts
                    if a.incident_id == incident_id
                    and a.kind.value == kind
                    and (resolves is None or a.resolves_alert_id == resolves)
                ),
                None,
            )

        return await eventually(probe, timeout_s=timeout_s, what=f"{kind} alert for {incident_id}")

    async def alert_where(
        self, what: str, predicate: Callable[[ResponseAlert], bool], timeout_s: float = 30
    ) -> ResponseAlert:
        """The first alert on alerts.response (since the module started) matching ``predicate``."""

        async def probe() -> ResponseAlert | None:
            assert self.alerts is not None
            for records in (await self.alerts.getmany(timeout_ms=200)).values():
                for record in records:
                    self.seen_alerts.append(ResponseAlert.model_validate_json(record.value))
            return next((a for a in self.seen_alerts if predicate(a)), None)

        return await eventually(probe, timeout_s=timeout_s, what=what)

    async def records(
        self, incident_id: str, count: int, timeout_s: float = 30
    ) -> list[Assignment]:
        """Wait until ``count`` records of ``incident_id`` arrived; fail on any extra one."""

        async def probe() -> list[Assignment] | None:
            batch = await self.consumer.getmany(timeout_ms=200)
            for records in batch.values():
                for record in records:
                    assignment = Assignment.model_validate_json(record.value)
                    assert record.key == assignment.incident_id.encode()
                    self.seen.setdefault(assignment.incident_id, []).append(assignment)
            got = self.seen.get(incident_id, [])
            return got if len(got) >= count else None

        try:
            got = await eventually(
                probe, timeout_s=timeout_s, what=f"{count} assignment record(s) for {incident_id}"
            )
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n--- worker log ---\n{self.worker.log_tail(80)}") from None
        assert len(got) == count, [(a.outcome, a.unit_id) for a in got]
        return got


@pytest.fixture(scope="module")
async def world(
    kafka_bootstrap: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[DispatchWorld]:
    policy_file = tmp_path_factory.mktemp("policy") / "policy.json"
    fast = policy_to_json(default_policy())
    fast["ack_timeout_s"] = ACK_TIMEOUT_S
    policy_file.write_text(json.dumps(fast))
    # Response targets of a few seconds, so a breach happens within the test: every place
    # within 100 km of a post is in a "4-second circle".
    response_file = policy_file.with_name("response.json")
    response_file.write_text(
        json.dumps({"circle_reach_m": {str(TARGET_S): 100_000}, "post_grace_s": POST_GRACE_S})
    )
    settings = await make_deployment(
        kafka_bootstrap,
        tmp_path_factory,
        dispatch_policy=policy_file,
        response_config=response_file,
        allowed_lateness_s=0.5,
    )
    worker = await start_worker(settings, tmp_path_factory.mktemp("logs") / "worker.log")
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    consumer = AIOKafkaConsumer(
        settings.topic(topics.DISPATCH_ASSIGNMENTS),
        bootstrap_servers=kafka_bootstrap,
        auto_offset_reset="earliest",
        group_id=None,
        isolation_level="read_committed",
    )
    await consumer.start()
    alerts = AIOKafkaConsumer(
        settings.topic(topics.ALERTS_RESPONSE),
        bootstrap_servers=kafka_bootstrap,
        auto_offset_reset="earliest",
        group_id=None,
        isolation_level="read_committed",
    )
    await alerts.start()
    try:
        yield DispatchWorld(settings, worker, producer, consumer, alerts=alerts)
    finally:
        await alerts.stop()
        await consumer.stop()
        await producer.stop()
        worker.stop()


@pytest.fixture(autouse=True)
async def cancel_leftovers(world: DispatchWorld) -> AsyncIterator[None]:
    """Tests share the region: cancel each test's incidents so none of them keeps
    re-dispatching (unacknowledged assignments time out every few seconds) into the next."""
    yield
    for incident_id in world.incidents:
        await world.update(incident_id, "cancelled")
    world.incidents.clear()
    await world.settled()


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


async def test_scripted_units_and_incidents_yield_the_expected_assignments(
    world: DispatchWorld,
) -> None:
    near, far, traffic = uid("st"), uid("st"), uid("tr")
    await world.unit(near, "z01", 150)
    await world.unit(far, "z01", 900)
    await world.unit(traffic, "z01", 50, force="traffic")
    crime, crash = uid("INC"), uid("INC")
    await world.settled()
    await world.incident(crime, "z01", category="criminal", priority=2)
    (first,) = await world.records(crime, 1)
    assert (first.outcome, first.unit_id, first.zone_id) == (
        AssignmentOutcome.ASSIGNED,
        near,
        "z01",
    )
    assert first.target_s == TARGET_S  # the configured circle of the posts
    await world.incident(crash, "z01", category="traffic", priority=3)
    (second,) = await world.records(crash, 1)
    assert (second.outcome, second.unit_id) == (AssignmentOutcome.ASSIGNED, traffic)


async def test_two_incidents_together_never_share_a_unit(world: DispatchWorld) -> None:
    a, b = uid("st"), uid("st")
    await world.unit(a, "z07", 100)
    await world.unit(b, "z07", 400)
    first, second = uid("INC"), uid("INC")
    await world.settled()
    await world.incident(first, "z07")
    await world.incident(second, "z07")
    (one,) = await world.records(first, 1)
    (two,) = await world.records(second, 1)
    assert {one.unit_id, two.unit_id} == {a, b}


async def test_decline_and_ack_timeout_each_redispatch(world: DispatchWorld) -> None:
    a, b, c = uid("st"), uid("st"), uid("st")
    for unit, east in ((a, 100), (b, 300), (c, 600)):
        await world.unit(unit, "z09", east)
    incident = uid("INC")
    await world.settled()
    await world.incident(incident, "z09")
    (first,) = await world.records(incident, 1)
    assert first.unit_id == a
    await world.update(incident, "declined", a)
    second = (await world.records(incident, 2))[-1]
    assert (second.unit_id, second.attempt) == (b, 2)
    # No acknowledgement from b: after the (test) 3 s timeout, the clock ticks re-dispatch.
    third = (await world.records(incident, 3, timeout_s=30))[-1]
    assert (third.unit_id, third.attempt) == (c, 3)
    assert third.assigned_at - second.assigned_at == timedelta(seconds=ACK_TIMEOUT_S)


async def test_stale_and_out_of_order_telemetry_are_ignored(world: DispatchWorld) -> None:
    stale, moved, fresh = uid("st"), uid("st"), uid("st")
    now = world.t0
    await world.unit(stale, "z03", 50, at=now - timedelta(seconds=600))  # silent 10 minutes
    await world.unit(moved, "z03", 2500)  # now far away ...
    await world.unit(moved, "z03", 20, at=now - timedelta(seconds=30))  # ... an older fix, late
    await world.unit(fresh, "z03", 1200)
    incident = uid("INC")
    await world.settled()
    await world.incident(incident, "z03")
    (record,) = await world.records(incident, 1)
    assert record.unit_id == fresh  # 1.2 km beats the stale unit and the out-of-order fix


async def test_unit_freed_by_cleared_is_assigned_again(world: DispatchWorld) -> None:
    # The second region holds no other test's units: this one is the only unit there.
    only = uid("st")
    await world.unit(only, "z16", 0)
    first, second = uid("INC"), uid("INC")
    await world.settled()
    await world.incident(first, "z16")
    assert (await world.records(first, 1))[0].unit_id == only
    await world.update(first, "acknowledged", only)  # so only "cleared" can free it
    await world.incident(second, "z16")
    (waiting,) = await world.records(second, 1)
    assert (waiting.outcome, waiting.unit_id) == (AssignmentOutcome.UNASSIGNED, None)
    await world.update(first, "cleared")
    again = (await world.records(second, 2))[-1]
    assert (again.outcome, again.unit_id) == (AssignmentOutcome.ASSIGNED, only)


async def test_no_personal_data_leaves_in_assignments(world: DispatchWorld) -> None:
    await world.unit(uid("st"), "z11", 0)
    incident = uid("INC")
    await world.settled()
    await world.incident(incident, "z11")
    (record,) = await world.records(incident, 1)
    assert "13800000000" not in record.model_dump_json()


async def test_breach_fires_on_the_clock_alone_and_the_late_arrival_resolves_it(
    world: DispatchWorld,
) -> None:
    unit = uid("st")
    await world.unit(unit, "z17", 50)
    await world.settled()
    incident = uid("INC")
    await world.incident(incident, "z17")
    (record,) = await world.records(incident, 1)
    await world.update(incident, "acknowledged", unit)
    # Nothing else is sent: only the wall-clock ticks move the clock past the target.
    breach = await world.alert(incident, "response_breach")
    assert breach.target_s == TARGET_S
    assert breach.raised_at == record.assigned_at + timedelta(seconds=TARGET_S)  # the deadline
    assert breach.unit_id is None
    await world.update(incident, "arrived", unit)
    # (a predicted_breach raised at assignment is resolved by the same arrival, too)
    resolved = await world.alert(incident, "resolved", resolves=breach.alert_id)
    assert resolved.resolves_alert_id == breach.alert_id
    assert resolved.raised_at > breach.raised_at


async def test_post_left_empty_across_a_shift_change_raises_and_resolves(
    world: DispatchWorld,
) -> None:
    post = CITY.posts["p24"]
    at_post = (post.lat, post.lon)
    outgoing, incoming = uid("st"), uid("st")
    await world.unit(outgoing, "z15", 0, where=at_post, extra={"post_id": "p24"})
    await world.settled()
    # The outgoing shift leaves before the next one arrives: a handover gap.
    left_at = datetime.now(UTC)
    await world.unit(outgoing, "z15", 2000, at=left_at, status="returning")
    uncovered = await world.alert_where(
        "post_uncovered for p24 after the gap",
        lambda a: (
            a.kind.value == "post_uncovered"
            and a.post_id == "p24"
            and a.raised_at == left_at + timedelta(seconds=POST_GRACE_S)
        ),
    )
    await world.unit(incoming, "z15", 0, where=at_post, extra={"post_id": "p24"})
    resolved = await world.alert_where(
        "p24 covered again",
        lambda a: a.kind.value == "resolved" and a.resolves_alert_id == uncovered.alert_id,
    )
    assert resolved.post_id == "p24"
    assert resolved.raised_at > uncovered.raised_at


async def test_an_arrival_inferred_from_gps_resolves_the_breach_without_an_arrived_report(
    world: DispatchWorld,
) -> None:
    # z05 is this test's own zone: its unit is the nearest free one by far.
    unit = uid("st")
    await world.unit(unit, "z05", 200, extra={"speed_mps": 8.0})
    await world.settled()
    incident = uid("INC")
    await world.incident(incident, "z05")
    (record,) = await world.records(incident, 1)
    assert record.unit_id == unit
    await world.update(incident, "acknowledged", unit)
    breach = await world.alert(incident, "response_breach")
    inferred_before = await world.worker.metric("patrolflow_response_inferred_arrivals_total")
    # The crew forgets to press "arrived": its car stops at the scene (within 100 m, still).
    stopped_at = datetime.now(UTC)
    await world.unit(unit, "z05", 0, at=stopped_at, extra={"speed_mps": 0.0})
    resolved = await world.alert(incident, "resolved", resolves=breach.alert_id)
    assert resolved.raised_at == stopped_at  # the arrival is the moment the car stopped there
    assert resolved.incident_id == incident
    await eventually(
        lambda: _inferred_went_up(world, inferred_before),
        timeout_s=10,
        what="the arrival counted as inferred from GPS",
    )


async def _inferred_went_up(world: DispatchWorld, before: float) -> bool:
    now = await world.worker.metric("patrolflow_response_inferred_arrivals_total")
    assert now <= before + 1, f"more than one inferred arrival: {before} -> {now}"
    return now == before + 1
