"""Thousands of bad records at a running worker, mixed with good ones, on every input topic.

Bad records come from hypothesis (a good record plus one named corruption, each with the
dead-letter reason the contract promises) and from a seeded random-bytes generator. The checks
are what an operator would look at: every good record processed (assignment records, region
events), every bad one on the dead-letter topic exactly once with its original key, value and
headers and error headers naming where it came from, the per-reason counter equal to what was
thrown, and the same worker process alive and healthy throughout, with no crash in its log.
"""

from __future__ import annotations

import json
import random
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from schemas import topics
from schemas.deadletter import ERROR_HEADERS, ERRORS_EXCEPTION_CLASS, ERRORS_STAGE
from schemas.dispatch import Assignment
from schemas.incidents import (
    CaseType,
    IncidentCategory,
    IncidentReported,
    IncidentUpdate,
    UpdateKind,
)
from schemas.units import Force, UnitStatus, UnitTelemetry
from streams.intake.decode import MAX_VALUE_BYTES, Rejected, decode
from streams.settings import Settings
from tests.support.deployments import make_deployment, start_worker
from tests.support.inputs import (
    INPUT_TOPICS,
    REGION_KIND,
    STAGES,
    ZONES,
    Position,
    Thrown,
    by_position,
    cloudevent_headers,
    good_records,
    incident_body,
    metric,
    read_all,
    telemetry_body,
    throw,
    total,
    update_body,
)
from tests.support.waiting import eventually
from tests.support.worker_process import WorkerProcess

pytestmark = pytest.mark.integration

MODELS: dict[str, type[BaseModel]] = {
    topics.INCIDENTS_REPORTED: IncidentReported,
    topics.INCIDENTS_UPDATES: IncidentUpdate,
    topics.UNITS_TELEMETRY: UnitTelemetry,
}
#: Bad records per input topic from hypothesis (x3 topics), and from random bytes.
HYPOTHESIS_BAD_PER_TOPIC = 700
RANDOM_BAD_PER_TOPIC = 300
CRASH_MARKERS = ("Traceback", "crashed", "Crashed", "CRITICAL")


@dataclass
class BadInputWorld:
    settings: Settings
    worker: WorkerProcess
    producer: AIOKafkaProducer
    bootstrap: str
    pid: int
    started: float
    #: Every bad record thrown in this module, by where the broker put it.
    bad: dict[Position, Thrown] = field(default_factory=dict)
    good: set[Position] = field(default_factory=set)
    #: Units of every good telemetry record thrown in this module (tests share the city).
    units: set[str] = field(default_factory=set)


@pytest.fixture(scope="module")
async def world(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[BadInputWorld]:
    deployment = await make_deployment(kafka_bootstrap, tmp_path_factory)
    worker = await start_worker(deployment, tmp_path_factory.mktemp("logs") / "worker.log")
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap, acks="all", max_request_size=4 * MAX_VALUE_BYTES
    )
    await producer.start()
    try:
        assert worker.proc is not None
        started = total(await metric(worker, "process_start_time_seconds"))
        yield BadInputWorld(deployment, worker, producer, kafka_bootstrap, worker.proc.pid, started)
    finally:
        await producer.stop()
        worker.stop()


# --- hypothesis: a good record plus one corruption ------------------------------------------

TIME_FIELD = {
    topics.INCIDENTS_REPORTED: "reported_at",
    topics.INCIDENTS_UPDATES: "at",
    topics.UNITS_TELEMETRY: "at",
}
ENUMS: dict[str, dict[str, list[str]]] = {
    topics.INCIDENTS_REPORTED: {"category": [c.value for c in IncidentCategory]},
    topics.INCIDENTS_UPDATES: {
        "kind": [k.value for k in UpdateKind],
        "case_type": [c.value for c in CaseType],
    },
    topics.UNITS_TELEMETRY: {
        "status": [s.value for s in UnitStatus],
        "force": [f.value for f in Force],
    },
}
ID_FIELDS = {
    topics.INCIDENTS_REPORTED: ["incident_id", "source", "zone_id"],
    topics.INCIDENTS_UPDATES: ["incident_id", "unit_id", "case_id"],
    topics.UNITS_TELEMETRY: ["unit_id", "post_id", "region_id"],
}
#: (field, too-large values) for bounded fields other than ids.
BOUNDED: dict[str, list[tuple[str, st.SearchStrategy[Any]]]] = {
    topics.INCIDENTS_REPORTED: [
        ("priority", st.sampled_from([0, 4, -1, 10**9])),
        ("summary", st.integers(2001, 3000).map(lambda n: "s" * n)),
        ("caller_phone", st.integers(33, 80).map(lambda n: "1" * n)),
    ],
    topics.INCIDENTS_UPDATES: [],
    topics.UNITS_TELEMETRY: [
        ("speed_mps", st.one_of(st.floats(150.01, 1e9), st.floats(-1e9, -0.01))),
    ],
}
WRONG_TYPES = st.one_of(
    st.booleans(),
    st.lists(st.integers(-(2**63), 2**63 - 1), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(-(2**31), 2**31), max_size=2),
)
BROKEN_CLOUDEVENTS = st.sampled_from(
    [
        [("ce_id", b"only-an-id")],  # no specversion
        [("ce_specversion", b"9.9"), ("ce_id", b"a"), ("ce_source", b"s"), ("ce_type", b"t")],
        [("ce_specversion", b"1.0"), ("ce_id", b"a"), ("ce_type", b"t")],  # no source
        [("ce_specversion", b"1.0"), ("ce_id", b""), ("ce_source", b"s"), ("ce_type", b"t")],
        [("ce_specversion", b"\xff\xfe"), ("ce_id", b"a")],  # not UTF-8
        [*cloudevent_headers("a", "s"), ("ce_time", b"yesterday-ish")],
    ]
)


def _good_body(topic: str, n: int, run: str, now: datetime) -> dict[str, Any]:
    zone = ZONES[n % len(ZONES)]
    if topic == topics.INCIDENTS_REPORTED:
        return incident_body(f"{run}-x{n}", zone, now)
    if topic == topics.INCIDENTS_UPDATES:
        return update_body(f"{run}-x{n}", now, kind="case_solved") | {
            "case_id": f"c{n}",
            "case_type": "criminal",
        }
    return telemetry_body(f"{run}-xu{n}", zone, now)


@st.composite
def bad_records(draw: st.DrawFn, topic: str, run: str, now: datetime) -> Thrown:
    """A good record with one corruption, and the dead-letter reason it must get."""
    body = _good_body(topic, draw(st.integers(0, 10**6)), run, now)
    key = str(body.get("incident_id") or body.get("unit_id")).encode()
    required = [n for n, f in MODELS[topic].model_fields.items() if f.is_required()]
    time_field = TIME_FIELD[topic]
    what = draw(
        st.sampled_from(
            ["missing", "wrong_type", "null", "unknown_enum", "coordinates", "naive_time"]
            + ["far_future", "epoch_time", "bad_id", "too_long", "not_json", "not_utf8"]
            + ["trailing", "cloudevent", "empty"]
            + (["case_without_case"] if topic == topics.INCIDENTS_UPDATES else [])
            + ["oversize"] * (1 if draw(st.integers(0, 3)) == 0 else 0)
        )
    )
    reason, headers = "invalid", []
    if what == "missing":
        del body[draw(st.sampled_from(required))]
    elif what == "wrong_type":
        body[draw(st.sampled_from(required))] = draw(WRONG_TYPES)
    elif what == "null":
        body[draw(st.sampled_from(required))] = None
    elif what == "unknown_enum":
        name, values = draw(st.sampled_from(sorted(ENUMS[topic].items())))
        body[name] = draw(st.text(max_size=20).filter(lambda v: v not in values))
        if name == "case_type":  # without a case kind the case type is still checked
            body["kind"] = "case_filed"
    elif what == "coordinates":
        if topic == topics.INCIDENTS_UPDATES:  # updates carry no location: a wrong kind
            body["kind"] = draw(st.sampled_from(["CLEARED", "cleared ", "arrive"]))
        else:
            lat = draw(st.one_of(st.floats(90.0001, 1e7), st.floats(-1e7, -90.0001)))
            lon = draw(st.one_of(st.floats(180.0001, 1e7), st.floats(-1e7, -180.0001)))
            body["location"] = draw(
                st.sampled_from(
                    [{"lat": lat, "lon": 0.0}, {"lat": 0.0, "lon": lon}, {"lat": str(lat)}]
                )
            )
    elif what == "naive_time":
        naive = draw(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2030, 1, 1)))
        body[time_field] = naive.isoformat()
    elif what == "far_future":
        ahead = draw(st.integers(36 * 3600, 10 * 365 * 86400))
        zone = draw(st.sampled_from(["+00:00", "+08:00", "-05:00"]))
        body[time_field] = (now + timedelta(seconds=ahead)).isoformat()[:19] + zone
    elif what == "epoch_time":
        body[time_field] = draw(st.integers(0, 2**41))
    elif what == "bad_id":
        name = draw(st.sampled_from(ID_FIELDS[topic] + ["event_id"]))
        body[name] = draw(st.sampled_from(["", "with space", "über", "a/b\n", "x" * 200]))
    elif what == "too_long":
        options = [(n, st.integers(65, 120).map(lambda k: "i" * k)) for n in ID_FIELDS[topic]]
        options += [("event_id", st.integers(129, 300).map(lambda k: "e" * k))]
        name, values = draw(st.sampled_from(options + BOUNDED[topic]))
        body[name] = draw(values)
    elif what == "case_without_case":
        body.pop(draw(st.sampled_from(["case_id", "case_type"])))
    elif what == "oversize":
        body["padding"] = "p" * draw(st.integers(MAX_VALUE_BYTES, MAX_VALUE_BYTES + 4096))
        reason = "oversize"
    elif what == "cloudevent":
        headers = list(draw(BROKEN_CLOUDEVENTS))
        reason = "bad_cloudevent"
    elif what == "empty":
        return Thrown(topic, key, draw(st.sampled_from([b"", None])), [], "empty", what)
    value = orjson.dumps(body)
    if what == "not_json":
        value = value[: draw(st.integers(1, len(value) - 1))]  # a torn write
        reason = "not_json"
    elif what == "not_utf8":
        value = value.replace(b'":"', b'":"\xc3\x28', 1)
        reason = "not_json"
    elif what == "trailing":
        value += draw(st.sampled_from([b"}", b",{}", b"x", b"\x00", b"]"]))
        reason = "not_json"
    return Thrown(topic, key, value, headers, reason, what)


def generate_bad(topic: str, count: int, run: str, now: datetime) -> list[Thrown]:
    """``count`` hypothesis examples; each must be rejected for its reason (pure check first,
    so a contract gap shrinks to a minimal example before any broker is involved)."""
    found: list[Thrown] = []

    @settings(
        max_examples=count,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(bad_records(topic, run, now))
    def property_(record: Thrown) -> None:
        verdict = decode(MODELS[topic], record.value, record.headers, record.key)
        assert isinstance(verdict, Rejected), (record.what, record.value)
        assert verdict.reason.value == record.reason, (record.what, verdict, record.value)
        found.append(record)

    property_()
    return found


# --- random bytes ------------------------------------------------------------------------------


def random_bad(topic: str, count: int, rng: random.Random) -> list[Thrown]:
    """Random values, keys and (foreign) headers. The expected reason comes from the contract
    with the standard library as the JSON oracle: empty, oversize, not JSON, else invalid."""
    out = []
    for _ in range(count):
        roll, size = rng.random(), rng.choice([2, 8, 64, 512, 4096])
        length = 0 if roll < 0.02 else rng.randint(1, size)
        if roll > 0.98:
            length = MAX_VALUE_BYTES + rng.randint(1, 4096)
        value = rng.randbytes(length)
        key = rng.randbytes(rng.randint(1, 40)) if rng.random() < 0.8 else None
        headers = [(f"h{i}", rng.randbytes(rng.randint(0, 30))) for i in range(rng.randint(0, 3))]
        out.append(Thrown(topic, key, value, headers, _oracle(value), "random_bytes"))
    return out


def _oracle(value: bytes) -> str:
    if not value:
        return "empty"
    if len(value) > MAX_VALUE_BYTES:
        return "oversize"
    try:
        json.loads(value.decode("utf-8"))
    except ValueError:  # UnicodeDecodeError and JSONDecodeError both are
        return "not_json"
    return "invalid"  # JSON, but not an object of the contract


# --- the checks --------------------------------------------------------------------------------


async def counters(worker: WorkerProcess) -> dict[str, Counter[tuple[str, str]]]:
    """Intake, dead-letter and region-core counters, flattened to (label, label) -> value."""
    intake = await metric(worker, "patrolflow_intake_records_total")
    dead = await metric(worker, "patrolflow_dead_letters_total")
    region = await metric(worker, "patrolflow_region_events_total")
    out: dict[str, Counter[tuple[str, str]]] = {"intake": Counter(), "dead": Counter()}
    out["region"] = Counter()
    for labels, value in intake.items():
        d = dict(labels)
        out["intake"][(d["topic"], d["outcome"])] += int(value)
    for labels, value in dead.items():
        d = dict(labels)
        out["dead"][(d["topic"], d["reason"])] += int(value)
    for labels, value in region.items():
        out["region"][(dict(labels)["kind"], "")] += int(value)
    return out


def delta(after: Counter[tuple[str, str]], before: Counter[tuple[str, str]]) -> Counter[Any]:
    out: Counter[Any] = Counter()
    for key in after.keys() | before.keys():
        if after[key] - before[key]:
            out[key] = int(after[key] - before[key])
    return out


async def run_mixed(world: BadInputWorld, records: list[Thrown], run: str) -> None:
    """Throw ``records`` and check everything an operator would check afterwards."""
    settings, worker = world.settings, world.worker
    before = await counters(worker)
    await throw(world.producer, settings, records)
    good = [r for r in records if r.reason is None]
    bad = [r for r in records if r.reason is not None]
    world.bad |= {r.position(settings): r for r in bad}
    world.good |= {r.position(settings) for r in good}
    print(  # the figures for the closing note (shown with -s or on failure)
        f"thrown {len(records)}: good {len(good)}, bad {len(bad)}",
        dict(Counter(r.reason for r in bad)),
        dict(Counter(r.what for r in bad)),
    )

    # 1. Intake has read every record: good ones accepted, bad ones dead-lettered.
    want_intake = Counter(
        {(t, "accepted"): sum(1 for r in good if r.topic == t) for t in INPUT_TOPICS}
        | {(t, "dead_lettered"): sum(1 for r in bad if r.topic == t) for t in INPUT_TOPICS}
    )

    async def intake_done() -> bool:
        return delta((await counters(worker))["intake"], before["intake"]) == +want_intake

    await eventually(intake_done, timeout_s=90, what=f"intake counted {dict(want_intake)}")

    # 2. The per-reason counter equals what was thrown.
    after = await counters(worker)
    want_reasons = Counter((r.topic, r.reason) for r in bad)
    assert delta(after["dead"], before["dead"]) == want_reasons

    # 3. Every bad record is on the dead-letter topic exactly once, as it was sent, and
    #    nothing else is (the topic holds this module's records only).
    dead = await dead_letter_records(world)
    positions = by_position(dead)
    assert set(positions) == set(world.bad), "dead-lettered != thrown bad records"
    assert all(len(copies) == 1 for copies in positions.values()), "a record dead-lettered twice"
    for record in bad:
        check_dead_letter(record, positions[record.position(settings)][0], settings)

    # 4. Every good record was processed by the region core (not just read).
    want_region = Counter((REGION_KIND[r.topic], "") for r in good)

    async def region_done() -> Counter[Any] | None:
        got = delta((await counters(worker))["region"], before["region"])
        got = Counter({k: v for k, v in got.items() if k in want_region})  # ticks aside
        return got if all(got[k] >= v for k, v in want_region.items()) else None

    got = await eventually(region_done, timeout_s=60, what=f"region core applied {want_region}")
    assert got == want_region  # and no bad record reached it
    await check_assignments(world, good, run)
    await check_same_worker(world)


async def dead_letter_records(world: BadInputWorld) -> list[Any]:
    consumer = AIOKafkaConsumer(
        world.settings.dead_letter_topic,
        bootstrap_servers=world.bootstrap,
        auto_offset_reset="earliest",
        group_id=None,
    )
    await consumer.start()
    try:
        return await read_all(consumer, until=len(world.bad))
    finally:
        await consumer.stop()


def check_dead_letter(sent: Thrown, got: Any, settings: Settings) -> None:
    where = f"{sent.what} {sent.topic}[{sent.partition}]@{sent.offset}"
    assert got.key == sent.key, where
    assert got.value == sent.value, where
    headers = list(got.headers)
    original, errors = headers[: len(sent.headers)], dict(headers[len(sent.headers) :])
    assert original == sent.headers, where
    assert sorted(errors) == sorted(ERROR_HEADERS), where
    assert errors[ERRORS_STAGE].decode() == STAGES[sent.topic], where
    assert errors[ERRORS_EXCEPTION_CLASS], where
    assert all(v for v in errors.values()), where


async def check_assignments(world: BadInputWorld, good: list[Thrown], run: str) -> None:
    """Each good incident has an assignment outcome; bad incidents and units have none."""
    incidents = {r.key.decode() for r in good if r.topic == topics.INCIDENTS_REPORTED and r.key}
    world.units |= {r.key.decode() for r in good if r.topic == topics.UNITS_TELEMETRY and r.key}
    consumer = AIOKafkaConsumer(
        world.settings.topic(topics.DISPATCH_ASSIGNMENTS),
        bootstrap_servers=world.bootstrap,
        auto_offset_reset="earliest",
        group_id=None,
    )
    await consumer.start()
    seen: list[Assignment] = []
    try:

        async def all_decided() -> bool:
            for batch in (await consumer.getmany(timeout_ms=300)).values():
                seen.extend(Assignment.model_validate_json(r.value) for r in batch)
            return incidents <= {a.incident_id for a in seen}

        await eventually(all_decided, timeout_s=60, what=f"assignments for {len(incidents)}")
    finally:
        await consumer.stop()
    mine = [a for a in seen if a.incident_id.startswith(f"{run}-")]
    assert {a.incident_id for a in mine} == incidents  # no bad incident was dispatched
    assigned = {a.unit_id for a in mine if a.unit_id}
    assert assigned, "good telemetry made units dispatchable"
    # Only units of good telemetry are dispatched (a bad record never made a unit).
    assert assigned <= world.units, assigned - world.units


async def check_same_worker(world: BadInputWorld) -> None:
    worker = world.worker
    assert worker.proc is not None
    assert worker.proc.poll() is None, worker.log_tail()
    assert worker.proc.pid == world.pid
    status, _ = await worker.get("/healthz")
    assert status == 200
    assert total(await metric(worker, "process_start_time_seconds")) == world.started
    log = worker.log_path.read_text(errors="replace")
    crashes = [line for line in log.splitlines() if any(m in line for m in CRASH_MARKERS)]
    assert not crashes, crashes[:5]


# --- the tests ---------------------------------------------------------------------------------


async def test_hypothesis_bad_records_are_dead_lettered_and_good_ones_processed(
    world: BadInputWorld,
) -> None:
    run, now, rng = uuid.uuid4().hex[:6], datetime.now(UTC), random.Random(8)
    records = good_records(run, now, rng, units=60, incidents=70, updates=70)
    for topic in INPUT_TOPICS:
        records += generate_bad(topic, HYPOTHESIS_BAD_PER_TOPIC, run, now)
    rng.shuffle(records)
    await run_mixed(world, records, run)


async def test_random_bytes_are_dead_lettered_and_good_ones_processed(
    world: BadInputWorld,
) -> None:
    seed = random.SystemRandom().randrange(2**32)
    rng = random.Random(seed)
    run, now = uuid.uuid4().hex[:6], datetime.now(UTC)
    records = good_records(run, now, rng, units=40, incidents=40, updates=40)
    for topic in INPUT_TOPICS:
        records += random_bad(topic, RANDOM_BAD_PER_TOPIC, rng)
    rng.shuffle(records)
    print(f"random-bytes seed {seed}")  # shown on failure: rerun with random.Random(seed)
    await run_mixed(world, records, run)
