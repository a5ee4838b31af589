"""``patrolflow demo``: broker, topics, a worker subprocess, the simulator and the live view.

Order of things: start the local broker unless one is configured (and stop it at the end only
if this run started it); create a fresh deployment's topics (:mod:`streams.demo.deployment`);
start ``patrolflow worker`` as a subprocess and wait for its ``/healthz``; then run, in this
process's event loop, the simulator publishing into the input topics (its event time starts
early enough never to overtake wall time at ``speed``), a consumer of ``incidents.reported``
and the output topics, a poller of the worker's ``/metrics``, and the view (a rich live screen
on a terminal, a plain line every few seconds otherwise).

It ends when ``duration`` is over (after a short drain), when the simulated span is over, or
on SIGINT/SIGTERM: the simulator stops, then the worker (SIGTERM, SIGKILL after a deadline, its
whole process group), its topics are deleted, the broker is stopped if this run started it,
the temporary data directory is removed, and a summary is printed. A second Ctrl-C skips the
worker's grace period.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Final

import aiohttp
from rich.console import Console, RenderableType
from rich.live import Live

from streams.city.model import City, load_city
from streams.demo.deployment import delete_topics, new_deployment
from streams.demo.feeds import (
    METRICS_EVERY_S,
    Progress,
    consume,
    poll_metrics,
    sim_config,
    simulate,
)
from streams.demo.options import DemoOptions
from streams.demo.process import WorkerProcess, free_port, port_is_free
from streams.demo.state import DemoState
from streams.demo.view import Header, render, rows_for
from streams.dispatch.policy import default_policy, load_policy
from streams.settings import Settings
from streams.sim import SimStats
from streams.sim.generator import START_MARGIN_S

__all__ = ["DemoOptions", "run_demo"]

#: How long the worker may take to report ready (fresh topics: up to a metadata refresh).
READY_TIMEOUT_S: Final = 180.0
#: After the simulator's last record: wait at most this long for the worker to take it all in.
DRAIN_S: Final = 10.0
#: Without a terminal, a status line this often.
PLAIN_EVERY_S: Final = 5.0
#: On a terminal, the screen is redrawn this often.
LIVE_EVERY_S: Final = 0.5
#: Clearance snapshots in the demo (the worker's default is 60 s: too slow to watch).
DEMO_SNAPSHOT_INTERVAL_S: Final = 15.0
#: The worker's live window in the demo. At N x speed the city's clock is its event time, which
#: starts minutes behind the wall clock and catches up to ``START_MARGIN_S`` of it. A window
#: inside the margin leaves the clock to event time for the whole run, so the demo's alerts
#: depend on the simulated events alone. (The default window is safe as well since ticks move
#: event time on by the wall time since the last read instead of jumping to the wall clock.)
DEMO_LIVE_WINDOW_S: Final = START_MARGIN_S / 2


class Stop:
    """Why the run stops: set once by a signal, the end of the run, or a failure."""

    def __init__(self) -> None:
        self.event = asyncio.Event()
        self.reason: str | None = None
        self.exit_code = 0
        self.signals = 0

    def set(self, reason: str, exit_code: int = 0) -> None:
        if self.reason is None:
            self.reason, self.exit_code = reason, exit_code
        self.event.set()

    def on_signal(self, sig: signal.Signals) -> None:
        self.signals += 1
        self.set(f"{sig.name}", 128 + sig.value)

    @property
    def hurry(self) -> bool:
        """A second signal: skip the worker's grace period."""
        return self.signals > 1


def _clearance_url(worker: WorkerProcess, city: City) -> str:
    today = datetime.now(city.timezone).date()
    first = today - timedelta(days=29)
    return f"{worker.url}/clearance?from={first.isoformat()}&to={today.isoformat()}"


class Run:
    """One demo run inside the event loop (see the module docstring)."""

    def __init__(self, options: DemoOptions, settings: Settings, console: Console) -> None:
        self.options = options
        self.console = console
        self.city = load_city(settings.city)
        self.data_dir = Path(tempfile.mkdtemp(prefix="patrolflow-demo-"))
        port = settings.web_port
        if not port_is_free(settings.web_host, port):
            port = free_port(settings.web_host)
            console.print(f"port {settings.web_port} is taken: the worker serves on {port}")
        # The demo's own defaults, unless set explicitly in the environment.
        explicit = os.environ.keys()
        self.deployment = new_deployment(
            settings,
            data_dir=self.data_dir / "tables",
            web_port=port,
            snapshot_interval_s=settings.clearance_snapshot_interval_s
            if "PATROLFLOW_CLEARANCE_SNAPSHOT_INTERVAL_S" in explicit
            else DEMO_SNAPSHOT_INTERVAL_S,
            live_window_s=settings.live_window_s
            if "PATROLFLOW_LIVE_WINDOW_S" in explicit
            else DEMO_LIVE_WINDOW_S,
        )
        s = self.deployment.settings
        self.worker = WorkerProcess(
            env=self.deployment.worker_env(dict(os.environ)),
            log_path=self.data_dir / "worker.log",
            host=s.web_host,
            port=s.web_port,
        )
        zone_at = self.city.region_of_point
        self.state = DemoState(locate=lambda lat, lon: zone_at(lat, lon)[1])
        self.progress = Progress()
        self.stop = Stop()
        self.began = time.monotonic()
        self.live_since: float | None = None
        self.stats: SimStats | None = None

    def say(self, text: str) -> None:
        self.console.print(text, highlight=False, soft_wrap=True)

    def elapsed(self) -> float:
        return time.monotonic() - (self.live_since or self.began)

    async def main(self) -> int:
        from streams.topics import create_topics

        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.stop.on_signal, sig)
        try:
            await create_topics(self.deployment.settings)
            self.say(
                f"topics: prefix {self.deployment.topic_prefix!r}, worker app id "
                f"{self.deployment.app_id!r} ("
                + ("kept" if self.options.keep_topics else "deleted")
                + " at the end)"
            )
            await self.worker.start()
            self.say(f"worker: pid {self.worker.pid}, log {self.worker.log_path}")
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http:
                if not await self._wait_ready(http):
                    return self.stop.exit_code
                self.say(f"metrics:   {self.worker.url}/metrics")
                self.say(f"clearance: {_clearance_url(self.worker, self.city)}")
                await self._live(http)
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
            # From here on a signal must not cut the clean-up short: it only hurries it.
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, self.stop.on_signal, sig)
            await self._shutdown()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
        return self.stop.exit_code

    async def _wait_ready(self, http: aiohttp.ClientSession) -> bool:
        began = time.monotonic()
        with self.console.status("waiting for the worker (partitions assigned, tables recovered)"):
            while not self.stop.event.is_set():
                if self.worker.exited:
                    self.say(f"worker exited ({self.worker.proc and self.worker.proc.returncode}):")
                    self.say(self.worker.log_tail())
                    self.stop.set("worker failed", 1)
                    return False
                if await self.worker.ready(http):
                    self.say(f"worker ready in {time.monotonic() - began:.1f} s")
                    return True
                if time.monotonic() - began > READY_TIMEOUT_S:
                    self.say(f"worker not ready after {READY_TIMEOUT_S:g} s:")
                    self.say(self.worker.log_tail())
                    self.stop.set("worker not ready", 1)
                    return False
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stop.event.wait(), 0.5)
        return False

    async def _live(self, http: aiohttp.ClientSession) -> None:
        opts = self.options
        settings = self.deployment.settings
        policy = load_policy(settings.dispatch_policy) if settings.dispatch_policy else None
        config = sim_config(opts)
        self.stats = SimStats(config, self.city, policy or default_policy())
        self.say(
            f"simulating {self.city.name} from "
            f"{config.start.astimezone(self.city.timezone).isoformat()} at {opts.speed:g}x, "
            f"seed {opts.seed}, {opts.calls_per_hour:g} calls/h: "
            + (f"{opts.duration_s:g} s" if opts.duration_s else "until Ctrl-C")
        )
        self.live_since = time.monotonic()
        sim = asyncio.create_task(
            simulate(config, opts, self.deployment, self.city, self.progress, self.stats),
            name="simulator",
        )
        helpers = [
            asyncio.create_task(consume(self.deployment, self.state), name="view-consumer"),
            asyncio.create_task(poll_metrics(self.worker, http, self.state), name="metrics"),
        ]
        view = self._view_task()
        try:
            await self._until_done(sim, helpers)
        finally:
            for task in (sim, *helpers, view):
                task.cancel()
            await asyncio.gather(sim, *helpers, view, return_exceptions=True)
            if sim.done() and not sim.cancelled() and sim.exception() is not None:
                self.say(f"simulator failed: {sim.exception()!r}")

    async def _until_done(self, sim: asyncio.Task[None], helpers: list[asyncio.Task[None]]) -> None:
        stop = self.stop
        while not stop.event.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.event.wait(), 0.5)
            if self.worker.exited:
                self.say(f"the worker exited ({self.worker.proc and self.worker.proc.returncode})")
                self.say(self.worker.log_tail())
                stop.set("worker exited", 1)
            for task in helpers:
                if task.done() and not task.cancelled() and task.exception() is not None:
                    stop.set(f"{task.get_name()} failed: {task.exception()!r}", 1)
            if sim.done() and not stop.event.is_set():
                if sim.exception() is not None:
                    stop.set(f"simulator failed: {sim.exception()!r}", 1)
                    break
                self.progress.done = True
                await self._drain()
                stop.set("duration over" if self.options.duration_s else "simulated span over")

    async def _drain(self) -> None:
        """Give the worker a moment to take in (and answer) the last records."""
        deadline = time.monotonic() + DRAIN_S
        while time.monotonic() < deadline and not self.stop.event.is_set():
            if self.state.worker.records_in >= self.progress.sent:
                await asyncio.sleep(2 * METRICS_EVERY_S)  # its outputs, and one more scrape
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.event.wait(), 0.5)

    def _header(self) -> Header:
        return Header(
            city=self.city.name,
            tz=self.city.timezone,
            speed=f"{self.options.speed:g}x",
            elapsed_s=self.elapsed(),
            duration_s=self.options.duration_s,
            metrics_url=f"{self.worker.url}/metrics",
            clearance_url=f"{self.worker.url}/clearance",
            events_sent=self.progress.sent,
            event_time=self.progress.event_time,
        )

    def _view_task(self) -> asyncio.Task[None]:
        if self.console.is_terminal and not self.options.plain:
            return asyncio.create_task(self._live_view(), name="view")
        return asyncio.create_task(self._plain_view(), name="view")

    async def _live_view(self) -> None:
        # Refreshed from the event loop, not by Live's own thread: the fold is not thread-safe.
        def screen() -> RenderableType:
            rows = rows_for(self.console.size.height, self.state.recent)
            return render(self.state, self._header(), rows)

        with Live(screen(), console=self.console, auto_refresh=False, transient=False) as live:
            while True:
                await asyncio.sleep(LIVE_EVERY_S)
                live.update(screen(), refresh=True)

    async def _plain_view(self) -> None:
        while True:
            await asyncio.sleep(PLAIN_EVERY_S)
            self.say(self.state.status_line(self.elapsed()))

    async def _shutdown(self) -> None:
        reason = self.stop.reason or "done"
        self.say(f"stopping ({reason}): worker (SIGTERM, SIGKILL after {self._grace():g} s)")
        code, seconds, killed = await self._stop_worker()
        how = "killed" if killed else f"exited {code}"
        self.say(f"worker {how} after {seconds:.1f} s")
        if not self.options.keep_topics:
            try:
                deleted = await delete_topics(self.deployment)
                self.say(f"deleted {len(deleted)} topics of this run")
            except Exception as exc:  # report and carry on: the rest must still be cleaned up
                self.say(f"could not delete the run's topics: {type(exc).__name__}: {exc}")
        shutil.rmtree(self.data_dir, ignore_errors=True)
        for line in self._sim_lines():
            self.say(f"simulator: {line}")
        if self.progress.errors:
            errors, first = self.progress.errors, self.progress.first_error
            self.say(f"simulator: {errors} records not sent, first error: {first}")
        self.say("summary:")
        for line in self.state.summary_lines(self.elapsed()):
            self.say(f"  {line}")

    def _sim_lines(self) -> list[str]:
        """The simulator's statistics against its configuration when it ran its whole span;
        what it sent otherwise (rates over a span cut short would mislead)."""
        stats, progress = self.stats, self.progress
        if stats is None or not stats.events:
            return []
        if progress.done:
            return stats.lines()
        covered = 0.0
        if progress.event_time is not None:
            covered = (progress.event_time - stats.config.start).total_seconds()
        sent = ", ".join(f"{t} {n:,}" for t, n in sorted(stats.by_topic.items()))
        return [f"{stats.events:,} events ({sent}) over {covered:,.0f} s of city time"]

    def _grace(self) -> float:
        return 0.0 if self.stop.hurry else self.options.stop_grace_s

    async def _stop_worker(self) -> tuple[int | None, float, bool]:
        stopping = asyncio.create_task(self.worker.stop(self._grace()))
        # A second Ctrl-C while the worker shuts down: kill it now.
        while not stopping.done():
            await asyncio.wait({stopping}, timeout=0.2)
            if self.stop.hurry and not stopping.done() and not self.worker.exited:
                stopping.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await stopping
                return await self.worker.stop(0.0)
        return stopping.result()


def run_demo(options: DemoOptions, settings: Settings | None = None) -> int:
    """The whole demo; returns the exit code (0, 130 on SIGINT, 143 on SIGTERM, 1 on failure)."""
    from streams import broker

    settings = settings if settings is not None else Settings()
    console = Console(highlight=False)
    signals: list[int] = []

    # Outside the event loop, SIGTERM would end the process at once: make it an interruption
    # like Ctrl-C, so that what was started so far is stopped.
    def interrupt(signum: int, frame: FrameType | None) -> None:
        signals.append(signum)
        raise KeyboardInterrupt

    # While the broker this run started is being stopped, a signal must not cut that short.
    def note(signum: int, frame: FrameType | None) -> None:
        signals.append(signum)
        console.print("stopping the broker, one moment")

    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    started_broker = False
    code = 1
    try:
        if settings.uses_local_broker:
            # Set before up(): interrupted while starting it, this run still stops it.
            started_broker = not broker.status(settings).reachable
            state = broker.up(settings)
            started_broker = state.started
            console.print(f"broker: {state.bootstrap} ({state.outcome})")
        else:
            console.print(f"broker: {settings.bootstrap} (configured)")
        run = Run(options, settings, console)
        code = asyncio.run(run.main())
    except KeyboardInterrupt:
        console.print("interrupted")
        code = 128 + (signals[0] if signals else signal.SIGINT.value)
    finally:
        for sig in previous:
            signal.signal(sig, note)
        try:
            if started_broker:
                broker.down(settings)
                console.print("broker stopped (this run started it)")
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
    return code
