"""A worker subprocess for the bench: start, wait until ready, read /metrics and RSS, stop.

The same approach as the integration tests' worker (``tests/support/worker_process.py``): Faust
binds to one event loop, so a worker always runs in a process of its own. Bench code never
imports the tests, hence this small twin.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import IO

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from streams.bench.deploy import worker_env
from streams.settings import Settings

#: The region core's counter of processed events: the end of the pipeline.
REGION_EVENTS = "patrolflow_region_events"
INPUT_KINDS = frozenset({"telemetry", "incident", "update"})


class BenchWorker:
    def __init__(
        self, settings: Settings, log_path: Path, extra_env: dict[str, str] | None = None
    ) -> None:
        self.settings, self.log_path = settings, log_path
        #: Faust reads some of its settings from the environment (``PRODUCER_LINGER``,
        #: ``BROKER_COMMIT_INTERVAL`` ...): how the bench tries tunings without code changes.
        self.extra_env = dict(extra_env or {})
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.settings.web_port}"

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streams", "worker"],
            env=worker_env(self.settings) | self.extra_env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    async def _get(self, path: str) -> tuple[int, str]:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http,
            http.get(self.url + path) as resp,
        ):
            return resp.status, await resp.text()

    async def ready(self) -> bool:
        if self.proc is None or self.proc.poll() is not None:
            code = None if self.proc is None else self.proc.returncode
            raise RuntimeError(f"worker exited ({code}); log: {self.log_path}\n{self.log_tail()}")
        try:
            status, _ = await self._get("/healthz")
        except (aiohttp.ClientError, TimeoutError):
            return False
        return status == 200

    async def samples(self, name: str) -> list[tuple[str, dict[str, str], float]]:
        """Samples of metric family ``name`` (counters without ``_total``): (sample name,
        labels, value); a histogram's are its ``_bucket``, ``_count`` and ``_sum``."""
        _, text = await self._get("/metrics")
        return [
            (s.name, dict(s.labels), s.value)
            for family in text_string_to_metric_families(text)
            if family.name == name
            for s in family.samples
            if not s.name.endswith("_created")
        ]

    async def events_applied(self) -> float:
        """Input events (telemetry, incidents, updates) the region core has processed."""
        samples = await self.samples(REGION_EVENTS)
        return sum(v for _, labels, v in samples if labels.get("kind") in INPUT_KINDS)

    def rss_bytes(self) -> int:
        """Resident set size of the worker process (Linux /proc; 0 where there is none)."""
        if self.proc is None:
            return 0
        try:
            status = Path(f"/proc/{self.proc.pid}/status").read_text()
        except OSError:
            return 0
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        return 0

    def cpu_seconds(self) -> float:
        """User + system CPU time the worker has used so far (Linux /proc; 0 elsewhere)."""
        if self.proc is None:
            return 0.0
        try:
            stat = Path(f"/proc/{self.proc.pid}/stat").read_text()
        except OSError:
            return 0.0
        fields = stat.rpartition(")")[2].split()
        # utime and stime are fields 14 and 15 of proc(5); fields[0] here is field 3.
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "<no log>"

    def stop(self, timeout_s: float = 30.0) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        if self._log is not None:
            self._log.close()
            self._log = None


async def wait_until(
    probe: Callable[[], Awaitable[bool]], *, timeout_s: float, interval_s: float = 0.1, what: str
) -> float:
    """Await ``probe()`` until true; returns the monotonic time it became so."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await probe():
            return time.monotonic()
        await asyncio.sleep(interval_s)
    raise TimeoutError(f"timed out after {timeout_s:.0f} s waiting for {what}")


async def start_ready(workers: list[BenchWorker], timeout_s: float = 120.0) -> float:
    """Start ``workers`` together; returns the monotonic time all of them answered ready."""
    for worker in workers:
        worker.start()

    async def all_ready() -> bool:
        return all([await w.ready() for w in workers])

    try:
        return await wait_until(all_ready, timeout_s=timeout_s, what="workers ready")
    except BaseException:
        for worker in workers:
            worker.stop()
        raise
