"""``patrolflow demo`` as a user runs it, against the session's real broker: it produces
assignments and alerts (in its output and on the topics), ends by itself after --duration or
on Ctrl-C/SIGTERM, and leaves no process behind and its web port free.

The demo gets ``PATROLFLOW_KAFKA_BOOTSTRAP``, so it uses the running broker and never stops it,
and a topic prefix and application id of this test, so its topics are found (``--keep-topics``)
and deleted here afterwards.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient

from schemas import topics
from schemas.alerts import ResponseAlert
from schemas.dispatch import Assignment
from tests.support.waiting import eventually
from tests.support.worker_process import free_port

pytestmark = pytest.mark.integration

PERSONAL = re.compile(r"caller_phone|\+86-000-|\[SIMULATED\]")


def _parents() -> dict[int, int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # gone meanwhile
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses
        parents[int(entry.name)] = int(stat.rpartition(")")[2].split()[1])
    return parents


def descendants(pid: int) -> set[int]:
    parents = _parents()
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        children = {child for child, parent in parents.items() if parent in frontier}
        frontier = children - found
        found |= children
    return found


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def port_free(port: int) -> bool:
    import socket

    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


@dataclass
class Demo:
    """``patrolflow demo`` in its own session, like a command typed in a terminal."""

    args: list[str]
    env: dict[str, str]
    log: Path
    web_port: int
    proc: subprocess.Popen[bytes] | None = None
    seen: set[int] = field(default_factory=set)

    def start(self) -> None:
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "streams", "demo", "--plain", "--keep-topics", *self.args],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    @property
    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def watch(self) -> int | None:
        """Remember the demo's process tree (the worker and anything else); its exit code."""
        assert self.proc is not None
        self.seen |= descendants(self.proc.pid)
        return self.proc.poll()

    async def wait(self, timeout_s: float) -> int:
        def done() -> bool:
            return self.watch() is not None

        async def probe() -> bool:
            return done()

        await eventually(probe, timeout_s=timeout_s, interval_s=0.5, what="the demo to end")
        assert self.proc is not None
        assert self.proc.returncode is not None
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        for pid in self.seen:  # a failed test must not leave a worker behind either
            if alive(pid):
                os.kill(pid, signal.SIGKILL)

    def assert_nothing_left(self) -> None:
        assert self.seen, "the demo started no worker"
        left = sorted(pid for pid in self.seen if alive(pid))
        assert not left, f"processes left behind: {left}\n{self.output[-3000:]}"
        assert port_free(self.web_port), f"web port {self.web_port} still taken"


@pytest.fixture
async def demo_env(kafka_bootstrap: str) -> AsyncIterator[tuple[dict[str, str], str, str]]:
    run = uuid.uuid4().hex[:10]
    prefix, app_id = f"t{run}.", f"patrolflow-test-{run}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PATROLFLOW_")}
    env |= {
        "PATROLFLOW_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "PATROLFLOW_TOPIC_PREFIX": prefix,
        "PATROLFLOW_APP_ID": app_id,
        "PATROLFLOW_WEB_PORT": str(free_port()),
        "PATROLFLOW_TOPIC_PARTITIONS": "2",
        "PATROLFLOW_OUTPUT_PARTITIONS": "2",
        "PATROLFLOW_INTERNAL_PARTITIONS": "2",
        "COLUMNS": "200",
    }
    yield env, prefix, app_id
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        ours = [t for t in await admin.list_topics() if t.startswith((prefix, f"{app_id}-"))]
        if ours:
            await admin.delete_topics(ours)
    finally:
        await admin.close()


async def read_topic(bootstrap: str, topic: str, timeout_s: float = 30.0) -> list[bytes]:
    """Every record of ``topic`` up to its end offsets now."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        isolation_level="read_committed",
    )
    await consumer.start()
    try:
        parts = sorted(consumer.assignment())  # without a group: every partition, at start
        assert parts, f"no topic {topic}"
        ends = await consumer.end_offsets(parts)
        got: list[bytes] = []
        deadline = time.monotonic() + timeout_s
        while [tp for tp in parts if await consumer.position(tp) < ends[tp]]:
            assert time.monotonic() < deadline, f"could not read {topic} to its end"
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                got.extend(r.value for r in records if r.value is not None)
        return got
    finally:
        await consumer.stop()


def summary_count(output: str, what: str) -> int:
    found = re.search(rf"^\s*{what}: (\d+) ", output, re.MULTILINE)
    assert found, f"no '{what}:' line in the summary:\n{output[-3000:]}"
    return int(found.group(1))


def demo_prefix(output: str) -> str:
    found = re.search(r"topics: prefix '([^']+)'", output)
    assert found, output[-3000:]
    return found.group(1)


@pytest.mark.timeout(300)
async def test_the_demo_runs_for_its_duration_and_leaves_nothing_behind(
    tmp_path: Path, kafka_bootstrap: str, demo_env: tuple[dict[str, str], str, str]
) -> None:
    env, _, _ = demo_env
    demo = Demo(
        ["--duration", "60s", "--calls-per-hour", "480"],
        env,
        tmp_path / "demo.log",
        int(env["PATROLFLOW_WEB_PORT"]),
    )
    demo.start()
    try:
        code = await demo.wait(timeout_s=240)
    finally:
        demo.kill()
    output = demo.output
    assert code == 0, output[-3000:]
    assert "stopping (duration over)" in output
    assert f"http://127.0.0.1:{demo.web_port}/metrics" in output
    assert f"http://127.0.0.1:{demo.web_port}/clearance?from=" in output
    incidents = summary_count(output, "incidents")
    assignments = summary_count(output, "assignments")
    alerts = summary_count(output, "alerts")
    assert incidents > 0
    assert assignments > 0
    assert alerts > 0
    assert re.search(r"^\[ *\d+\.\d s\] incidents \d+ \|", output, re.MULTILINE)  # plain view
    assert not PERSONAL.search(output)
    demo.assert_nothing_left()
    # the broker the demo did not start is still up
    assert "broker stopped" not in output

    prefix = demo_prefix(output)
    on_topic = {
        Assignment.model_validate_json(v).assignment_id
        for v in await read_topic(kafka_bootstrap, prefix + topics.DISPATCH_ASSIGNMENTS)
    }
    raised = {
        (a.alert_id, a.kind)
        for a in map(
            ResponseAlert.model_validate_json,
            await read_topic(kafka_bootstrap, prefix + topics.ALERTS_RESPONSE),
        )
    }
    # the view read them from these topics: all it counted is there
    assert len(on_topic) >= assignments > 0
    assert len(raised) >= alerts > 0


@pytest.mark.timeout(240)
@pytest.mark.parametrize(("sig", "codes"), [(signal.SIGINT, {0, 130}), (signal.SIGTERM, {0, 143})])
async def test_a_signal_in_the_middle_stops_everything_cleanly(
    tmp_path: Path,
    demo_env: tuple[dict[str, str], str, str],
    sig: signal.Signals,
    codes: set[int],
) -> None:
    env, _, _ = demo_env
    demo = Demo([], env, tmp_path / "demo.log", int(env["PATROLFLOW_WEB_PORT"]))
    demo.start()
    try:

        async def running() -> bool:
            # the simulator runs and a status line came out: well into the demo
            demo.watch()
            assert demo.proc is not None
            if demo.proc.poll() is not None:
                raise AssertionError(f"the demo ended early:\n{demo.output[-3000:]}")
            return "simulating" in demo.output and "] incidents" in demo.output

        await eventually(running, timeout_s=150, interval_s=0.5, what="the demo to run")
        assert demo.proc is not None
        # like a terminal's Ctrl-C: the signal goes to the demo's whole process group
        os.killpg(demo.proc.pid, sig)
        code = await demo.wait(timeout_s=60)
    finally:
        demo.kill()
    output = demo.output
    assert code in codes, output[-3000:]
    assert f"stopping ({sig.name})" in output
    assert "summary:" in output
    assert re.search(r"^worker (exited|killed)", output, re.MULTILINE)
    demo.assert_nothing_left()


@pytest.mark.timeout(240)
async def test_a_killed_demo_takes_its_worker_with_it(
    tmp_path: Path, demo_env: tuple[dict[str, str], str, str]
) -> None:
    """kill -9 of the demo alone (no clean-up can run): the worker still goes (Linux)."""
    env, _, _ = demo_env
    demo = Demo([], env, tmp_path / "demo.log", int(env["PATROLFLOW_WEB_PORT"]))
    demo.start()
    try:

        async def worker_started() -> bool:
            demo.watch()
            return bool(demo.seen) and "worker ready" in demo.output

        await eventually(worker_started, timeout_s=150, interval_s=0.5, what="a ready worker")
        assert demo.proc is not None
        os.kill(demo.proc.pid, signal.SIGKILL)  # the demo only, not its worker's session
        demo.proc.wait(timeout=10)

        async def gone() -> bool:
            return not any(alive(pid) for pid in demo.seen)

        await eventually(gone, timeout_s=60, interval_s=0.5, what="the orphaned worker to stop")
    finally:
        demo.kill()
        # nobody was left to remove the run's temporary directory: do it here
        found = re.search(r"^worker: pid \d+, log (\S+)/worker\.log$", demo.output, re.MULTILINE)
        if found:
            shutil.rmtree(found.group(1), ignore_errors=True)
    demo.assert_nothing_left()
