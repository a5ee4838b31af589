"""Scale: decision time and worker memory with 100, 1,000, 10,000 units and 50,000 open incidents.

Decision time by unit count is the dispatch selection benchmark (``streams.dispatch.bench``:
``choose()`` alone, in this process). Memory is the resident set of one real worker, measured
after the region core has applied each step: units reporting (100, then 1,000, then 10,000),
then incidents that stay open (nobody closes them; the acknowledgement timeout is set to a day
so committed units are not re-dispatched in a loop). With 10,000 units most of 50,000 incidents
find no free unit and wait as unassigned, which is the state a command centre fears. The
worker's own decision-time histogram during the incident step is read from its /metrics.
"""

from __future__ import annotations

import contextlib
import json
import random
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from streams.bench import load
from streams.bench.deploy import create
from streams.bench.stats import histogram_quantile
from streams.bench.worker import BenchWorker, start_ready, wait_until
from streams.city.model import City
from streams.dispatch import bench as decision_bench
from streams.dispatch.policy import default_policy, policy_to_json
from streams.settings import Settings

DECISION_HISTOGRAM = "patrolflow_dispatch_decision_seconds"


def decision_times(unit_counts: Sequence[int], decisions: int, seed: int) -> list[dict[str, Any]]:
    return decision_bench.run(unit_counts, decisions, seed)


async def _decisions(worker: BenchWorker) -> tuple[float, float, list[tuple[float, float]]]:
    """(count, sum, cumulative buckets) of the worker's decision-time histogram."""
    count = total = 0.0
    buckets: list[tuple[float, float]] = []
    for name, labels, value in await worker.samples(DECISION_HISTOGRAM):
        if name.endswith("_bucket"):
            buckets.append((float(labels["le"]), value))
        elif name.endswith("_count"):
            count = value
        elif name.endswith("_sum"):
            total = value
    return count, total, buckets


async def run(
    settings: Settings,
    *,
    city: City,
    log_dir: Path,
    unit_steps: Sequence[int],
    incidents: int,
    step_timeout_s: float,
    seed: int = 7,
    extra_env: dict[str, str] | None = None,
) -> dict[str, Any]:
    policy_file = settings.data_dir.parent / f"{settings.app_id}-policy.json"
    policy_file.parent.mkdir(parents=True, exist_ok=True)
    policy = policy_to_json(default_policy())
    policy["ack_timeout_s"] = 86_400.0
    policy_file.write_text(json.dumps(policy))
    settings = settings.model_copy(update={"dispatch_policy": policy_file})
    await create(settings)
    rng = random.Random(seed)
    fleet = load.fleet(max(unit_steps), city, rng, tag="scale")
    worker = BenchWorker(settings, log_dir / f"{settings.app_id}.log", extra_env)
    steps: list[dict[str, Any]] = []
    try:
        await start_ready([worker])
        steps.append({"units": 0, "open_incidents": 0, "rss_mb": worker.rss_bytes() / 2**20})
        sent = 0
        client = load.producer(settings)
        await client.start()
        try:
            for target in unit_steps:
                now = datetime.now(UTC)
                await load.publish(
                    settings, (load.telemetry(u, now) for u in fleet[sent:target]), client=client
                )
                sent = target
                reached = await _settle(worker, sent, step_timeout_s)
                steps.append(
                    {
                        "units": target,
                        "open_incidents": 0,
                        "applied": reached,
                        "rss_mb": worker.rss_bytes() / 2**20,
                    }
                )
            sampler = load.CitySampler(city, rng)
            start = datetime.now(UTC) - timedelta(seconds=1)
            # Event times a millisecond apart ending now: well inside the ack timeout of a day.
            calls = (
                load.incident(
                    f"scale-{seed}-{i:06d}",
                    start - timedelta(milliseconds=incidents - i),
                    sampler,
                    rng,
                )
                for i in range(incidents)
            )
            started = time.perf_counter()
            await load.publish(settings, calls, client=client)
            reached = await _settle(worker, sent + incidents, step_timeout_s)
            took = time.perf_counter() - started
        finally:
            await client.stop()
        count, total, buckets = await _decisions(worker)
        opened = 0.0

        async def gauge_caught_up() -> bool:
            # The open-incidents gauge is refreshed on each clock tick (every second).
            nonlocal opened
            opened = await _open_incidents(worker)
            return opened >= reached - sent

        with contextlib.suppress(TimeoutError):
            await wait_until(gauge_caught_up, timeout_s=10, interval_s=0.5, what="gauge")
        steps.append(
            {
                "units": sent,
                "open_incidents": int(opened),
                "incidents_sent": incidents,
                "applied": reached,
                "rss_mb": worker.rss_bytes() / 2**20,
                "incidents_per_s": (reached - sent) / took if took > 0 else 0.0,
            }
        )
    finally:
        worker.stop()
    return {
        "steps": steps,
        "worker_decisions": int(count),
        "worker_decision_mean_us": total / count * 1e6 if count else None,
        "worker_decision_p50_us": histogram_quantile(0.5, buckets) * 1e6,
        "worker_decision_p99_us": histogram_quantile(0.99, buckets) * 1e6,
    }


async def _settle(worker: BenchWorker, expected: int, timeout_s: float) -> int:
    """Wait until the region core applied ``expected`` events (or the step's time is up)."""
    applied = 0.0

    async def done() -> bool:
        nonlocal applied
        applied = await worker.events_applied()
        return applied >= expected

    with contextlib.suppress(TimeoutError):
        await wait_until(done, timeout_s=timeout_s, interval_s=0.5, what="step applied")
    return int(applied)


async def _open_incidents(worker: BenchWorker) -> float:
    """Open incidents by the worker's gauge (refreshed on each clock tick)."""
    return sum(v for _, _, v in await worker.samples("patrolflow_dispatch_open_incidents"))
