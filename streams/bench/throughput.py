"""Throughput: workers processing a pre-loaded mix end to end, timed from ready to drained.

The clock starts when every worker answers ready (partitions assigned, tables recovered); the
events the region core had already applied by then are subtracted. It stops when the region
core has applied every input record (telemetry, incidents, updates: decoded, routed by
incident or unit, re-keyed by region, applied to the tables; the metric is polled every
0.25 s). Then the consumer group's committed offsets on the input topics must reach their end
offsets too (``fetch_group_lags``); that moment is reported beside it (Faust commits every
~2.8 s, so it trails by up to that much).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from schemas import topics
from streams.bench.deploy import free_port
from streams.bench.worker import BenchWorker, start_ready, wait_until
from streams.observability.lag import fetch_group_lags
from streams.settings import Settings


def workers_for(
    settings: Settings, count: int, log_dir: Path, extra_env: dict[str, str] | None = None
) -> list[BenchWorker]:
    """``count`` workers of one deployment: one group, own web ports and data dirs."""
    out = []
    for k in range(count):
        own = settings.model_copy(
            update={"web_port": free_port(), "data_dir": settings.data_dir / f"w{k}"}
        )
        out.append(BenchWorker(own, log_dir / f"{settings.app_id}-w{k}.log", extra_env))
    return out


async def run(
    settings: Settings,
    *,
    workers: int,
    expected: int,
    log_dir: Path,
    timeout_s: float,
    extra_env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Process ``expected`` pre-loaded input records with ``workers`` workers of ``settings``."""
    procs = workers_for(settings, workers, log_dir, extra_env)
    inputs = {settings.topic(t) for t in topics.INPUT_TOPICS}
    launched = time.monotonic()
    try:
        ready = await start_ready(procs)
        cpu0 = [w.cpu_seconds() for w in procs]
        applied0 = sum([await w.events_applied() for w in procs])
        applied = applied0

        async def drained() -> bool:
            nonlocal applied
            applied = sum([await w.events_applied() for w in procs])
            return applied >= expected

        complete = True
        try:
            done = await wait_until(
                drained, timeout_s=timeout_s, interval_s=0.25, what="pipeline drained"
            )
        except TimeoutError:
            complete, done = False, time.monotonic()
        cpu = [w.cpu_seconds() - c for w, c in zip(procs, cpu0, strict=True)]
        rss = [w.rss_bytes() for w in procs]

        async def committed() -> bool:
            lags = await fetch_group_lags(settings.bootstrap, settings.app_id)
            ours = [x for x in lags if x.topic in inputs]
            return bool(ours) and all(x.lag == 0 for x in ours)

        try:
            committed_at: float | None = await wait_until(
                committed, timeout_s=30, interval_s=0.25, what="input offsets committed"
            )
        except TimeoutError:
            committed_at = None
    finally:
        for w in procs:
            w.stop()
    seconds = done - ready
    events = applied - applied0
    clock_from = "ready"
    if events == 0 and applied0 > 0:
        # Drained before the workers even said ready (a tiny load, the smoke run): time it
        # from launch instead, start-up included, a lower bound rather than "0 events/s".
        seconds, events, clock_from = done - launched, applied0, "launch"
    return {
        "workers": workers,
        "events": int(events),
        "events_total": expected,
        "applied_before_ready": int(applied0),
        "seconds": seconds,
        "clock_from": clock_from,
        "events_per_s": events / seconds if seconds > 0 else 0.0,
        "complete": complete and applied >= expected,
        "committed_seconds": None if committed_at is None else committed_at - ready,
        "worker_cpu_share": [c / seconds if seconds > 0 else 0.0 for c in cpu],
        "worker_rss_mb": [r / 2**20 for r in rss],
    }
