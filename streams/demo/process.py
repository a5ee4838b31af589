"""The demo's worker: ``patrolflow worker`` in a subprocess, started, probed and stopped.

Faust binds to one event loop and installs its own signal handlers, so the demo never runs it
in-process. The worker gets its own session (process group): a Ctrl-C in the terminal reaches
only the demo, which then stops the worker in order (after the simulator), and a SIGKILL of
the whole group after the deadline also takes any child the worker may have started. On
Linux the worker also gets SIGTERM when the demo dies without stopping it (``kill -9``).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import functools
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import aiohttp

__all__ = ["WorkerProcess", "free_port", "port_is_free"]


#: prctl(2) option: the signal a process gets when its parent dies.
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> Callable[[], object] | None:
    """A ``preexec_fn`` (Linux only) that asks for SIGTERM when the demo dies. The libc function
    is looked up here, in the parent: the child, a forked copy of a threaded process, only
    calls it (no loader or allocator locks between fork and exec)."""
    if sys.platform != "linux":
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return functools.partial(prctl, _PR_SET_PDEATHSIG, int(signal.SIGTERM))


def port_is_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@dataclass
class WorkerProcess:
    """One worker subprocess whose output goes to ``log_path``."""

    env: dict[str, str]
    log_path: Path
    host: str
    port: int
    proc: asyncio.subprocess.Process | None = field(default=None, repr=False)
    _log: IO[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"http://{host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return None if self.proc is None else self.proc.pid

    @property
    def exited(self) -> bool:
        return self.proc is not None and self.proc.returncode is not None

    async def start(self) -> None:
        self._log = self.log_path.open("ab")
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "streams",
            "worker",
            env=self.env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=self._log,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent(),
        )

    async def get(self, http: aiohttp.ClientSession, path: str) -> tuple[int, str]:
        async with http.get(self.url + path) as resp:
            return resp.status, await resp.text()

    async def ready(self, http: aiohttp.ClientSession) -> bool:
        """True once ``/healthz`` answers 200 (partitions assigned, tables recovered)."""
        try:
            status, _ = await self.get(http, "/healthz")
        except (aiohttp.ClientError, TimeoutError):
            return False
        return status == 200

    async def metrics(self, http: aiohttp.ClientSession) -> str | None:
        try:
            status, text = await self.get(http, "/metrics")
        except (aiohttp.ClientError, TimeoutError):
            return None
        return text if status == 200 else None

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "<no log>"
        return "\n".join(text.splitlines()[-lines:])

    def _signal_group(self, sig: signal.Signals) -> bool:
        """Signal the worker's process group; False when nothing of it is left."""
        assert self.proc is not None
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            return False
        return True

    async def stop(self, grace_s: float) -> tuple[int | None, float, bool]:
        """SIGTERM, then SIGKILL after ``grace_s``; also kills anything left in its group.
        Returns (exit code, seconds taken, whether SIGKILL was needed)."""
        began = time.monotonic()
        killed = False
        if self.proc is None:
            return None, 0.0, False
        if self.proc.returncode is None:
            self._signal_group(signal.SIGTERM)
            try:
                await asyncio.wait_for(asyncio.shield(self.proc.wait()), timeout=grace_s)
            except TimeoutError:
                killed = self._signal_group(signal.SIGKILL)
                await self.proc.wait()
        # The worker is gone; a child it left behind in its group is not: take it too.
        if self._signal_group(signal.SIGKILL):
            killed = True
        if self._log is not None:
            with contextlib.suppress(OSError):
                self._log.close()
        return self.proc.returncode, time.monotonic() - began, killed
