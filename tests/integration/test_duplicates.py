"""The same event delivered twice takes effect once, through a running worker.

"The same event" per the contract: the same ``event_id``; else the same CloudEvents ``ce_id``
and ``ce_source`` headers; else (no id at all) an identical natural key. Each case is checked
as a user would: one incident yields one set of assignment records (one decision per run-card
slot, no id twice), a solved case counts once in the clearance figures, a telemetry report
moves its unit once, and a dispatch decision replayed after a later one does not undo it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from schemas import topics
from schemas.dispatch import Assignment, AssignmentOutcome
from schemas.incidents import IncidentCategory
from streams.dispatch.policy import default_policy, policy_to_json
from streams.settings import Settings
from tests.support.deployments import make_deployment, start_worker
from tests.support.inputs import (
    Headers,
    cloudevent_headers,
    incident_body,
    metric,
    telemetry_body,
    total,
    update_body,
)
from tests.support.waiting import eventually
from tests.support.worker_process import WorkerProcess

pytestmark = pytest.mark.integration

POLICY = default_policy()
TZ = ZoneInfo("Asia/Shanghai")
#: How a test names the same event twice: an id in the body, CloudEvents headers, or nothing.
HOW = ("event_id", "cloudevents", "natural_key")


@dataclass
class DuplicateWorld:
    settings: Settings
    worker: WorkerProcess
    producer: AIOKafkaProducer
    assignments: AIOKafkaConsumer
    seen: list[Assignment] = field(default_factory=list)

    async def send(
        self, topic: str, key: str, body: dict[str, object], how: str, event: str
    ) -> None:
        """Send one event, identified as ``event`` the way ``how`` says."""
        headers: Headers = []
        if how == "event_id":
            body = body | {"event_id": event}
        elif how == "cloudevents":
            headers = cloudevent_headers(event, "/test/duplicates")
        await self.producer.send_and_wait(
            self.settings.topic(topic),
            key=key.encode(),
            value=orjson.dumps(body),
            headers=headers or None,
        )

    async def twice(
        self, topic: str, key: str, body: dict[str, object], how: str, event: str
    ) -> None:
        for _ in range(2):
            await self.send(topic, key, body, how, event)

    async def region_events(self, kind: str, outcome: str | None = None) -> float:
        found = await metric(self.worker, "patrolflow_region_events_total")
        return total(found, kind=kind, **({"outcome": outcome} if outcome else {}))

    async def processed(self, kind: str, count: float) -> None:
        """Wait until the region core has processed ``count`` events of ``kind`` in all."""

        async def probe() -> float | None:
            got = await self.region_events(kind)
            return got if got >= count else None

        await eventually(probe, timeout_s=30, what=f"{count} {kind} events processed")

    async def after(self, incident_id: str, how: str, event: str) -> None:
        """Send a no-op update (feedback) for ``incident_id`` and wait until the region core
        has processed it: everything sent before it for that incident has been dealt with
        (one incident's updates travel one partition from intake to the region core)."""
        before = await self.region_events("update", "unit_not_on_incident")
        await self.send(
            topics.INCIDENTS_UPDATES,
            incident_id,
            update_body(incident_id, datetime.now(UTC), "feedback"),
            how,
            event,
        )
        await self.processed_outcome("update", "unit_not_on_incident", before + 1)

    async def processed_outcome(self, kind: str, outcome: str, count: float) -> None:
        async def probe() -> float | None:
            got = await self.region_events(kind, outcome)
            return got if got >= count else None

        await eventually(probe, timeout_s=30, what=f"{count} {kind} events {outcome}")

    async def records(self, incident_id: str) -> list[Assignment]:
        """Every assignment record of ``incident_id`` written so far (read to the end)."""

        async def caught_up() -> bool:
            for batch in (await self.assignments.getmany(timeout_ms=200)).values():
                self.seen.extend(Assignment.model_validate_json(r.value) for r in batch)
            partitions = list(self.assignments.assignment())
            ends = await self.assignments.end_offsets(partitions)
            return all([await self.assignments.position(tp) >= ends[tp] for tp in partitions])

        await eventually(caught_up, timeout_s=30, what="assignments read to the end")
        return [a for a in self.seen if a.incident_id == incident_id]


@pytest.fixture(scope="module")
async def world(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[DuplicateWorld]:
    # No acknowledgement timeouts during the test: the records of an incident stay put.
    policy_file = tmp_path_factory.mktemp("policy") / "policy.json"
    policy_file.write_text(json.dumps(policy_to_json(POLICY) | {"ack_timeout_s": 3600}))
    settings = await make_deployment(kafka_bootstrap, tmp_path_factory, dispatch_policy=policy_file)
    worker = await start_worker(settings, tmp_path_factory.mktemp("logs") / "worker.log")
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    assignments = AIOKafkaConsumer(
        settings.topic(topics.DISPATCH_ASSIGNMENTS),
        bootstrap_servers=kafka_bootstrap,
        auto_offset_reset="earliest",
        group_id=None,
        isolation_level="read_committed",
    )
    await assignments.start()
    try:
        yield DuplicateWorld(settings, worker, producer, assignments)
    finally:
        await assignments.stop()
        await producer.stop()
        worker.stop()


def run_id() -> str:
    return uuid.uuid4().hex[:6]


@pytest.mark.parametrize("how", HOW)
async def test_an_incident_sent_twice_is_dispatched_once(world: DuplicateWorld, how: str) -> None:
    run, now = run_id(), datetime.now(UTC)
    zone = {"event_id": "z03", "cloudevents": "z05", "natural_key": "z07"}[how]
    reports = await world.region_events("telemetry")
    for n in range(4):  # enough units for the run card: assigned records, not just unassigned
        unit = f"{run}-u{n}"
        await world.send(
            topics.UNITS_TELEMETRY, unit, telemetry_body(unit, zone, now), how, f"{unit}-t"
        )
    await world.processed("telemetry", reports + 4)
    before = await world.region_events("incident")
    incident_id = f"{run}-i"
    body = incident_body(incident_id, zone, now, category="criminal", priority=1)
    await world.twice(topics.INCIDENTS_REPORTED, incident_id, body, how, f"{incident_id}-e")
    await world.processed("incident", before + 2)

    got = await world.records(incident_id)
    slots = len(POLICY.run_cards[(IncidentCategory.CRIMINAL, 1)])
    assert len(got) == slots, [(a.slot, a.attempt, a.outcome) for a in got]
    assert len({a.assignment_id for a in got}) == slots
    assert sorted(a.slot for a in got) == list(range(slots))
    assert any(a.outcome is AssignmentOutcome.ASSIGNED for a in got)


@pytest.mark.parametrize("how", HOW)
async def test_telemetry_sent_twice_moves_its_unit_once(world: DuplicateWorld, how: str) -> None:
    run, now = run_id(), datetime.now(UTC)
    unit = f"{run}-u"
    applied = await world.region_events("telemetry", "applied")
    body = telemetry_body(unit, "z09", now)
    await world.twice(topics.UNITS_TELEMETRY, unit, body, how, f"{unit}-t")
    # A later report of the same unit travels behind both copies: once it is applied, so
    # is whatever of the copies was going to be.
    later = telemetry_body(unit, "z09", now + timedelta(seconds=1))
    await world.send(topics.UNITS_TELEMETRY, unit, later, how, f"{unit}-t2")

    async def probe() -> float | None:
        got = await world.region_events("telemetry", "applied")
        return got if got >= applied + 2 else None

    assert await eventually(probe, timeout_s=30, what="the later report applied") == applied + 2


@pytest.mark.parametrize("how", HOW)
async def test_a_case_solved_twice_counts_once(world: DuplicateWorld, how: str) -> None:
    run, now = run_id(), datetime.now(UTC)
    # One zone per case: the zone's figures are this test's alone.
    zone = {"event_id": "z11", "cloudevents": "z12", "natural_key": "z13"}[how]
    incident_id = f"{run}-i"
    await world.send(
        topics.INCIDENTS_REPORTED,
        incident_id,
        incident_body(incident_id, zone, now - timedelta(minutes=1)),
        how,
        f"{incident_id}-e",
    )
    for n, copies in ((1, 2), (2, 1)):  # the second case travels behind the copies
        case = {"case_id": f"{run}-c{n}", "case_type": "administrative"}
        for kind in ("case_filed", "case_solved"):
            body = update_body(incident_id, now, kind) | case
            for _ in range(copies):
                await world.send(
                    topics.INCIDENTS_UPDATES, incident_id, body, how, f"{run}-{n}{kind}"
                )

    day = now.astimezone(TZ).date().isoformat()
    query = f"/clearance?from={day}&to={day}&zone={zone}&case_type=administrative"

    async def figures() -> tuple[int, int] | None:
        status, text = await world.worker.get(query)
        assert status == 200, text
        data = orjson.loads(text)
        found = (int(data["filed"]), int(data["cleared"]))
        return found if found[0] >= 2 and found[1] >= 2 else None

    assert await eventually(figures, timeout_s=30, what=f"clearance of {zone}") == (2, 2)


@pytest.mark.parametrize("how", HOW)
async def test_a_dispatch_replayed_after_a_later_one_changes_nothing(
    world: DuplicateWorld, how: str
) -> None:
    """A person dispatches unit U to A, then moves U to B; the first message arrives again
    (a producer retry or an outbox replay, behind the second). It must not move U back."""
    run, now = run_id(), datetime.now(UTC)
    zone = {"event_id": "z14", "cloudevents": "z15", "natural_key": "z16"}[how]
    unit = f"{run}-u"
    # Off duty: never chosen by dispatch itself, so every decision here is the person's.
    reports = await world.region_events("telemetry")
    await world.send(
        topics.UNITS_TELEMETRY,
        unit,
        telemetry_body(unit, zone, now, status="off_duty"),
        how,
        f"{unit}-t",
    )
    await world.processed("telemetry", reports + 1)
    incidents = [f"{run}-a", f"{run}-b"]
    before = await world.region_events("incident")
    for incident_id in incidents:
        body = incident_body(incident_id, zone, now, category="other", priority=3)
        await world.send(topics.INCIDENTS_REPORTED, incident_id, body, how, f"{incident_id}-e")
    await world.processed("incident", before + 2)

    to_a = update_body(incidents[0], now + timedelta(seconds=1), "dispatched") | {"unit_id": unit}
    to_b = update_body(incidents[1], now + timedelta(seconds=2), "dispatched") | {"unit_id": unit}
    await world.send(topics.INCIDENTS_UPDATES, incidents[0], to_a, how, f"{run}-to-a")
    await world.after(incidents[0], how, f"{run}-s1")
    await world.send(topics.INCIDENTS_UPDATES, incidents[1], to_b, how, f"{run}-to-b")
    await world.after(incidents[1], how, f"{run}-s2")
    a_before = await world.records(incidents[0])
    b_before = await world.records(incidents[1])
    await world.send(topics.INCIDENTS_UPDATES, incidents[0], to_a, how, f"{run}-to-a")
    await world.after(incidents[0], how, f"{run}-s3")

    manual = AssignmentOutcome.MANUAL
    assert [a.outcome for a in a_before].count(manual) == 1
    assert [a.outcome for a in b_before].count(manual) == 1
    assert await world.records(incidents[0]) == a_before, "the replay moved the unit back"
    assert await world.records(incidents[1]) == b_before, "the replay moved the unit back"


@pytest.mark.parametrize("how", HOW)
async def test_telemetry_replayed_behind_a_handoff_does_not_hand_the_unit_back(
    world: DuplicateWorld, how: str
) -> None:
    """A unit moves its home from one region to the other; its report from before the move
    arrives again. Handing it back would make it dispatchable in both regions."""
    run, now = run_id(), datetime.now(UTC)
    unit = f"{run}-u"
    # Off duty: dispatch never takes it, so the module's other tests are not disturbed.
    home = telemetry_body(unit, "z09", now, status="off_duty") | {"region_id": "hailar"}
    moved = telemetry_body(unit, "z09", now + timedelta(seconds=5), status="off_duty")
    moved["region_id"] = "hailar-east"
    handoffs = total(await metric(world.worker, "patrolflow_routing_unit_handoffs_total"))
    before = await world.region_events("telemetry")
    await world.send(topics.UNITS_TELEMETRY, unit, home, how, f"{unit}-t1")
    await world.send(topics.UNITS_TELEMETRY, unit, moved, how, f"{unit}-t2")
    await world.send(topics.UNITS_TELEMETRY, unit, home, how, f"{unit}-t1")
    # Three reports, plus the old region's out-of-service copy of each handoff.
    await world.processed("telemetry", before + 4)
    after = total(await metric(world.worker, "patrolflow_routing_unit_handoffs_total"))
    assert after == handoffs + 1
