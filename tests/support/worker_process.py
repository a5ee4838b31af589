"""A real worker in a subprocess (Faust binds to one event loop: never inside pytest's)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from tests.support.waiting import eventually


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class WorkerProcess:
    env: dict[str, str]
    log_path: Path
    web_port: int
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def start(self) -> None:
        self._log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streams", "worker"],
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    async def get(self, path: str) -> tuple[int, str]:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http,
            http.get(self.url + path) as resp,
        ):
            return resp.status, await resp.text()

    async def metric(self, series: str) -> float:
        """Sum of the /metrics samples whose line starts with ``series`` (a name, or a name and
        its first labels such as ``name{kind="x"``); 0 when there are none."""
        _, text = await self.get("/metrics")
        return sum(
            float(line.rpartition(" ")[2]) for line in text.splitlines() if line.startswith(series)
        )

    async def region_events(self, kind: str) -> float:
        """Events of ``kind`` the region core has processed (all outcomes), from /metrics."""
        return await self.metric(f'patrolflow_region_events_total{{kind="{kind}"')

    async def wait_ready(self, timeout_s: float = 90.0) -> None:
        async def probe() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"worker exited {self.proc.returncode}:\n{self.log_tail()}")
            try:
                status, _ = await self.get("/healthz")
            except (aiohttp.ClientError, TimeoutError):
                return False
            return status == 200

        try:
            await eventually(probe, timeout_s=timeout_s, what="worker /healthz 200")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n--- worker log ---\n{self.log_tail()}") from None

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "<no log>"

    def stop(self, timeout_s: float = 30.0) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        self._log.close()
        return self.proc.returncode
