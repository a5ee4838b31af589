"""Crashes, a broker restart and a rebalance under load: nothing lost, nothing doubled.

Each test publishes a steady simulated load (the demo city's simulator, paced) into a fresh
deployment whose workers use the RocksDB store, in each processing guarantee, and disturbs
them mid-run: SIGKILL and restart (three times), the broker stopped and started
again, a second worker joining and leaving. Afterwards everything is checked against the
input, as a read_committed consumer sees it (``check_run``). ``exactly_once`` (the production
setting) must hold every check with no de-duplication at all; those three runs are part of
every test run. Under ``at_least_once`` a record may be written twice, but only as the same
record under the same deterministic id, which a consumer de-duplicates (docs/consuming.md);
those runs are expected failures (see AT_LEAST_ONCE_DIVERGES) and run only on request.

Every load's middle is the city's 20:00 shift change, three hours or more before now (the
busiest change of commitments; the same load for a seed in every run).

The module runs a broker of its own (free ports, its own cache and data directories in tmp,
the Kafka jars shared by symlink), so stopping it never touches the session's broker.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from schemas import topics
from schemas.alerts import ResponseAlert
from schemas.clearance import UNKNOWN_ZONE, ClearanceSnapshot
from schemas.deadletter import ERRORS_STAGE
from schemas.dispatch import Assignment
from schemas.incidents import CaseType
from streams import broker
from streams.city.model import load_city
from streams.clearance.periods import local_date
from streams.observability.lag import PartitionLag, deployment_topics, fetch_group_lags
from streams.region.events import IncidentEvent, UpdateEvent, decode
from streams.security import client_kwargs
from streams.settings import Settings
from streams.sim import SimEvent, publish
from tests.support.deployments import make_deployment, start_worker
from tests.support.inputs import read_all
from tests.support.sim_load import (
    Load,
    UpdateKey,
    across_the_evening_shift_change,
    double_commitments,
    make_load,
)
from tests.support.waiting import eventually
from tests.support.worker_process import WorkerProcess, free_port

pytestmark = pytest.mark.integration

#: At least once, the last runs (2026-11-29) pass the broker restart and the rebalance; the
#: kill -9 run lost a lifecycle update on the region stream (most likely the window in
#: docs/consuming.md, "Limits": routing remembered its id for de-duplication, the worker was
#: killed before the forward was committed, the replay was dropped). Earlier runs also
#: found a decision re-made differently after a crash. Only exactly_once closes both; run
#: with PATROLFLOW_CRASH_TESTS=1.
AT_LEAST_ONCE_DIVERGES = pytest.mark.xfail(
    run=bool(os.environ.get("PATROLFLOW_CRASH_TESTS")),
    strict=False,
    reason="at_least_once can lose or re-decide after a crash (see AT_LEAST_ONCE_DIVERGES)",
)

CITY = load_city(None)
#: City time per wall second while publishing: an hour of the city in a minute.
SPEED = 60.0


@dataclass(frozen=True)
class Cluster:
    bootstrap: str
    broker: Settings | None  # the dedicated local broker's settings; None: an external cluster


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    shared = Settings()
    if not shared.uses_local_broker:
        yield Cluster(shared.bootstrap, None)
        return
    cache = tmp_path_factory.mktemp("crash-kafka")
    libs = broker.resolve_jars(shared.kafka_version, shared.cache_dir)
    (cache / f"kafka-{shared.kafka_version}").symlink_to(libs.parent, target_is_directory=True)
    settings = Settings(
        kafka_bootstrap=None,
        cache_dir=cache,
        kafka_port=free_port(),
        kafka_controller_port=free_port(),
    )
    broker.up(settings)
    try:
        yield Cluster(settings.bootstrap, settings)
    finally:
        broker.down(settings)


# --- a run: a deployment, its workers, its load -------------------------------------------------


@dataclass
class Run:
    settings: Settings
    logs: Path
    workers: list[WorkerProcess] = field(default_factory=list)
    started: int = 0
    kills: int = 0

    async def start_worker(self, **overrides: Any) -> WorkerProcess:
        settings = self.settings.model_copy(update=overrides)
        self.started += 1
        worker = await start_worker(settings, self.logs / f"worker-{self.started}.log")
        self.workers.append(worker)
        return worker

    def kill(self, worker: WorkerProcess) -> None:
        """SIGKILL the worker's whole process group: no shutdown, no flush, no commit."""
        assert worker.proc is not None
        os.killpg(worker.proc.pid, signal.SIGKILL)
        worker.proc.wait(timeout=30)
        self.workers.remove(worker)
        self.kills += 1

    def stop_all(self) -> None:
        for worker in self.workers:
            worker.stop()

    def assert_alive(self) -> None:
        for worker in self.workers:
            assert worker.proc is not None
            assert worker.proc.poll() is None, worker.log_tail()


@pytest.fixture(
    params=[
        pytest.param("at_least_once", marks=AT_LEAST_ONCE_DIVERGES),
        # The production guarantee: run in every test run (about 5 minutes in all), gating.
        "exactly_once",
    ]
)
def guarantee(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def new_run(
    cluster: Cluster,
    tmp_path_factory: pytest.TempPathFactory,
    tmp_path: Path,
    guarantee: str,
) -> AsyncIterator[Any]:
    runs: list[Run] = []

    async def make() -> Run:
        settings = await make_deployment(
            cluster.bootstrap,
            tmp_path_factory,
            store="rocksdb",
            processing_guarantee=guarantee,
            clearance_snapshot_interval_s=2.0,
        )
        run = Run(settings, tmp_path)
        runs.append(run)
        return run

    yield make
    for run in runs:
        run.stop_all()


async def publish_load(settings: Settings, events: list[SimEvent], speed: float) -> None:
    summary = await publish(events, settings, speed)
    assert summary.errors == 0, summary.first_error
    assert summary.sent == len(events)


# --- the checks -------------------------------------------------------------------------------


def committed_consumer(settings: Settings, *names: str) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        *names,
        bootstrap_servers=settings.bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
        isolation_level="read_committed",
        **client_kwargs(settings),
    )


async def read_committed(settings: Settings, *names: str) -> dict[str, list[Any]]:
    """Every committed record of ``names`` (deployed names), by topic, in partition order."""
    consumer = committed_consumer(settings, *names)
    await consumer.start()
    try:
        records = await read_all(consumer, timeout_s=60)
    finally:
        await consumer.stop()
    out: dict[str, list[Any]] = {name: [] for name in names}
    for record in sorted(records, key=lambda r: (r.topic, r.partition, r.offset)):
        assert record.value is not None
        out[record.topic].append(record)
    return out


async def region_failures(settings: Settings) -> int:
    """Events that raised inside the region core (a bug): each is dead-lettered with stage
    ``region.process`` and its region rebuilt without it (streams/region/agents.py)."""
    consumer = committed_consumer(settings, settings.topic(topics.DEAD_LETTERS))
    await consumer.start()
    try:
        records = await read_all(consumer, timeout_s=60)
    finally:
        await consumer.stop()
    return sum(1 for r in records if dict(r.headers).get(ERRORS_STAGE) == b"region.process")


def values(records: list[Any]) -> list[bytes]:
    return [r.value for r in records]


async def unread_visible(settings: Settings, lags: list[PartitionLag]) -> list[PartitionLag]:
    """The partitions among ``lags`` with a committed record after the group's position.

    Offsets after the position that hold no such record are transaction markers and records
    of aborted transactions (a killed worker's): a read_committed reader skips them, and so
    the group never "consumes" them: its lag stays above 0 for good.
    """
    if not lags:
        return []
    reader = committed_consumer(settings)
    await reader.start()
    try:
        tps = {TopicPartition(x.topic, x.partition): x for x in lags}
        reader.assign(list(tps))
        for tp, lag in tps.items():
            reader.seek(tp, lag.position)
        got = await reader.getmany(timeout_ms=2000)
        return [tps[tp] for tp, records in got.items() if records]
    finally:
        await reader.stop()


async def wait_processed(run: Run, load: Load, *, timeout_s: float) -> None:
    """Every incident has an outcome and the group has consumed every input and internal
    topic to its last committed record (transaction markers and aborted records follow)."""
    assignments = run.settings.topic(topics.DISPATCH_ASSIGNMENTS)
    consumer = committed_consumer(run.settings, assignments)
    await consumer.start()
    decided: set[str] = set()
    status: dict[str, object] = {}

    async def probe() -> bool:
        run.assert_alive()
        for batch in (await consumer.getmany(timeout_ms=500, max_records=5000)).values():
            decided.update(Assignment.model_validate_json(r.value).incident_id for r in batch)
        status["incidents without outcome"] = len(load.incidents - decided)
        lags = await fetch_group_lags(
            run.settings.bootstrap,
            run.settings.app_id,
            client_kwargs(run.settings),
            deployment_topics(run.settings),
        )
        behind = await unread_visible(run.settings, [x for x in lags if x.lag > 1])
        status["lag"] = {f"{x.topic}:{x.partition}": x.lag for x in behind}
        return load.incidents <= decided and not behind

    try:
        await eventually(probe, timeout_s=timeout_s, interval_s=1.0, what="the input processed")
    except AssertionError as exc:
        logs = "\n".join(w.log_tail(20) for w in run.workers)
        raise AssertionError(f"{exc}: {status}\n{logs}") from None
    finally:
        await consumer.stop()


@dataclass
class Report:
    incidents: int
    assignments: int
    alerts: int
    region_events: int
    cases: int


async def check_run(run: Run, load: Load) -> Report:
    """Everything a read_committed consumer sees, checked against the input."""
    s = run.settings
    names = {
        "assignments": s.topic(topics.DISPATCH_ASSIGNMENTS),
        "alerts": s.topic(topics.ALERTS_RESPONSE),
        "region": s.internal_topic("region-events"),
    }
    records = await read_committed(s, *names.values())
    assert await region_failures(s) == 0
    got = {topic: values(rs) for topic, rs in records.items()}
    exactly_once = s.processing_guarantee == "exactly_once"
    # 0. At least once: a record may come twice, but only as the very same record under the
    #    same id; a consumer keeps the first (docs/consuming.md). Exactly once: never twice.
    assignment_records = deduplicated(got[names["assignments"]], "assignment_id", exactly_once)
    alert_records = deduplicated(
        got[names["alerts"]], ("alert_id", "severity", "kind"), exactly_once
    )
    decided = {  # when each decision was sent (the record's time: the worker's wall clock)
        orjson.loads(r.value)["assignment_id"]: r.timestamp for r in records[names["assignments"]]
    }
    reached = updates_reached(records[names["region"]])
    assignments = [Assignment.model_validate_json(v) for v in assignment_records]
    alerts = [ResponseAlert.model_validate_json(v) for v in alert_records]

    # 1. Each decision once (ids are unique after step 0): one id per (incident, slot, attempt).
    assert len({(a.incident_id, a.slot, a.attempt) for a in assignments}) == len(assignments)
    # 2. Nothing lost: every incident has its outcome, attempts of each slot run 1..n.
    by_incident: dict[str, list[Assignment]] = defaultdict(list)
    for a in assignments:
        by_incident[a.incident_id].append(a)
    assert set(by_incident) == load.incidents, "incidents without an outcome (or unknown ones)"
    for incident_id, records in by_incident.items():
        slots: dict[int, list[int]] = defaultdict(list)
        for a in records:
            slots[a.slot].append(a.attempt)
        for slot, attempts in slots.items():
            assert sorted(attempts) == list(range(1, len(attempts) + 1)), (incident_id, slot)
    # 3. No unit committed to two open incidents at once.
    overlaps = double_commitments(assignments, load, decided, reached)
    assert not overlaps, f"{len(overlaps)} units committed twice at once, e.g. {overlaps[:3]}"
    # 4. Every alert condition raised once (step 0); escalations under the same id; nothing
    #    resolved that was never raised.
    ids = {a.alert_id for a in alerts}
    orphans = [a.alert_id for a in alerts if a.resolves_alert_id not in (None, *ids)]
    assert not orphans, f"resolved alerts whose alert is missing: {orphans[:3]}"
    # 5. The internal region stream carries each input incident and update exactly once.
    events = [decode(v) for v in got[names["region"]]]
    seen_incidents = Counter(e.incident.incident_id for e in events if isinstance(e, IncidentEvent))
    seen_updates = Counter(
        e.update.event_id for e in events if isinstance(e, UpdateEvent) and e.update.event_id
    )
    assert set(seen_incidents) == load.incidents
    assert set(seen_updates) == load.update_ids
    if exactly_once:  # at least once, routing may forward a record again after a crash
        assert max(seen_incidents.values()) == 1, seen_incidents.most_common(3)
        assert max(seen_updates.values()) == 1, seen_updates.most_common(3)
    # 6. Clearance figures equal those computed from the input.
    zones = {a.incident_id: a.zone_id or UNKNOWN_ZONE for a in assignments}
    await check_clearance(run, load, zones)
    return Report(len(load.incidents), len(assignments), len(alerts), len(events), len(load.filed))


def deduplicated(values: list[bytes], key: str | tuple[str, ...], strict: bool) -> list[bytes]:
    """The records, each id once, as a consumer keeps them: the latest record of an id wins
    (records of one id share a key, so they arrive in order). ``strict``: no id may repeat.

    At least once, a repeat is normally the very same record; after a crash it can be a
    correction (the decision re-made on the recovered tables), which the worker's own state
    follows. Both are counted and printed for the closing figures.
    """
    fields = (key,) if isinstance(key, str) else key
    latest: dict[tuple[object, ...], bytes] = {}
    repeats = corrections = 0
    for value in values:
        body = orjson.loads(value)
        ident = tuple(body[f] for f in fields)
        if ident in latest:
            assert not strict, f"{ident} written twice:\n{latest[ident]!r}\n{value!r}"
            repeats += 1
            corrections += orjson.loads(latest[ident]) != body
        latest[ident] = value
    if repeats:
        print(f"\n{key}: {repeats} repeated record(s), {corrections} of them corrections")
    return list(latest.values())


def updates_reached(region_records: list[Any]) -> dict[UpdateKey, int]:
    """When each lifecycle update reached the region stream (its record's time, wall ms)."""
    reached: dict[UpdateKey, int] = {}
    for record in region_records:
        event = decode(record.value)
        if isinstance(event, UpdateEvent):
            u = event.update
            reached.setdefault((u.incident_id, u.kind.value, u.unit_id, u.at), record.timestamp)
    return reached


async def check_clearance(run: Run, load: Load, zones: dict[str, str]) -> None:
    """The latest ``metrics.clearance`` snapshots (7 days, the city and every zone) and
    ``GET /clearance`` agree with the case events of the input."""
    today = local_date(datetime.now(UTC), CITY.timezone)
    expected: dict[str, tuple[int, int]] = {}
    for case_type in CaseType:
        mine = [(c, i) for c, (t, i) in load.filed.items() if t == case_type.value]
        cleared = [(c, i) for c, i in mine if c in load.solved]
        expected[f"7d/{case_type.value}/all"] = (len(mine), len(cleared))
        for zone in {zones[i] for _, i in mine}:
            filed_here = sum(1 for _, i in mine if zones[i] == zone)
            cleared_here = sum(1 for _, i in cleared if zones[i] == zone)
            expected[f"7d/{case_type.value}/zone/{zone}"] = (filed_here, cleared_here)
    assert expected["7d/criminal/all"][0] > 0, "the load filed no criminal case"
    topic = run.settings.topic(topics.METRICS_CLEARANCE)
    consumer = committed_consumer(run.settings, topic)
    await consumer.start()
    latest: dict[str, ClearanceSnapshot] = {}

    async def snapshots_agree() -> bool:
        for batch in (await consumer.getmany(timeout_ms=500, max_records=5000)).values():
            for record in batch:
                snap = ClearanceSnapshot.model_validate_json(record.value or b"")
                latest[snap.kafka_key()] = snap
        figures = {
            key: (latest[key].filed, latest[key].cleared) if key in latest else None
            for key in expected
        }
        return figures == expected

    try:
        await eventually(snapshots_agree, timeout_s=30, what=f"snapshots equal to {expected}")
    finally:
        await consumer.stop()
    # /clearance on a worker (forwarded to the ledger's owner when it is not that worker)
    worker = run.workers[0]
    start = today - timedelta(days=6)
    for case_type in CaseType:
        query = f"/clearance?from={start}&to={today}&case_type={case_type.value}"
        status, text = await worker.get(query)
        assert status == 200, text
        body = orjson.loads(text)
        assert (body["filed"], body["cleared"]) == expected[f"7d/{case_type.value}/all"]


def print_report(name: str, run: Run, report: Report, began: float, load: Load) -> None:
    print(  # the figures for the closing note (pytest -s shows them)
        f"\n{name}: {report.incidents} incidents, {len(load.events)} input records, "
        f"{report.assignments} assignments, {report.alerts} alerts, {report.region_events} "
        f"region events, {report.cases} cases checked; {run.kills} kills; "
        f"{time.monotonic() - began:.0f} s; no duplicate, no loss"
    )


# --- the tests ------------------------------------------------------------------------------


@pytest.mark.timeout(480)  # minutes of load and recovery, not the default 180 s
async def test_three_kill_9_under_load_lose_and_double_nothing(new_run: Any) -> None:
    began = time.monotonic()
    run: Run = await new_run()
    load = make_load(21, 60, 500, across_the_evening_shift_change(60, CITY.timezone))
    worker = await run.start_worker()
    publishing = asyncio.create_task(publish_load(run.settings, load.events, SPEED))
    rng = random.Random(8)
    try:
        for _ in range(3):
            # a random moment while the input is still coming in or being worked off
            await asyncio.sleep(rng.uniform(3.0, 12.0))
            run.kill(worker)
            worker = await run.start_worker()
        await publishing
        await wait_processed(run, load, timeout_s=120)
        report = await check_run(run, load)
    finally:
        publishing.cancel()
    assert run.kills == 3
    print_report("kill -9 x3", run, report, began, load)


@pytest.mark.timeout(480)  # minutes of load and recovery, not the default 180 s
async def test_broker_stopped_and_restarted_mid_run(cluster: Cluster, new_run: Any) -> None:
    if cluster.broker is None:
        pytest.skip("an external cluster is configured: this test stops its own broker")
    began = time.monotonic()
    run: Run = await new_run()
    load = make_load(22, 30, 600, across_the_evening_shift_change(30, CITY.timezone))
    half = len(load.events) // 2
    await run.start_worker()
    # the first half as fast as it goes: a backlog is being worked off when the broker stops
    await publish_load(run.settings, load.events[:half], 0)
    broker.down(cluster.broker)
    await asyncio.sleep(3.0)  # the outage itself: the broker is down for a while, by design
    broker.up(cluster.broker)
    await publish_load(run.settings, load.events[half:], SPEED)
    await wait_processed(run, load, timeout_s=150)
    report = await check_run(run, load)
    print_report("broker restart", run, report, began, load)


@pytest.mark.timeout(480)  # minutes of load and recovery, not the default 180 s
async def test_second_worker_joins_and_leaves_mid_run(new_run: Any) -> None:
    began = time.monotonic()
    run: Run = await new_run()
    load = make_load(23, 30, 600, across_the_evening_shift_change(30, CITY.timezone))
    await run.start_worker()
    publishing = asyncio.create_task(publish_load(run.settings, load.events, SPEED))
    try:
        await asyncio.sleep(5.0)  # let the load run a while before the rebalance
        second = await run.start_worker(web_port=free_port(), data_dir=run.logs / "second-data")
        await asyncio.sleep(5.0)  # both workers share the load for a while
        second.stop()  # a clean leave: its partitions move back to the first worker
        run.workers.remove(second)
        await publishing
        await wait_processed(run, load, timeout_s=120)
        report = await check_run(run, load)
    finally:
        publishing.cancel()
    print_report("join and leave", run, report, began, load)
