"""``patrolflow bench``: run the chosen sections, print the tables, write the JSON.

Every section is bounded in count and time (``BenchConfig``); ``BenchConfig.smoke()`` is the
seconds-long version the integration test runs. The local broker is started when none is
configured and none answers, and stopped afterwards; topics of the run are deleted.
"""

from __future__ import annotations

import asyncio
import logging
import random
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from streams import broker
from streams.bench import ceiling, latency, load, report, scale, throughput
from streams.bench.deploy import create, delete_topics, fresh_settings, run_id
from streams.city.model import load_city
from streams.dispatch.bench import machine
from streams.settings import Settings

SECTIONS = ("ceiling", "throughput", "scale_out", "latency", "scale")


@dataclass(frozen=True)
class BenchConfig:
    out_dir: Path = Path("bench-results")
    seed: int = 7
    store: str = "rocksdb"  # the production default; "memory" is what tests use
    #: Extra environment of the workers: Faust reads some settings from it (PRODUCER_LINGER...).
    worker_env: dict[str, str] = field(default_factory=dict)
    # ceiling, throughput, scale out: one pre-loaded mix
    events: int = 20_000
    units: int = 2_000
    telemetry_per_incident: int = 200
    scale_out_workers: int = 2
    throughput_timeout_s: float = 300.0
    # latency
    guarantees: tuple[str, ...] = ("at_least_once", "exactly_once")
    telemetry_rates: tuple[float, ...] = (2000.0,)
    latency_units: int = 2_000
    incidents_per_s: float = 10.0
    latency_s: float = 20.0
    warm_up_s: float = 3.0
    drain_s: float = 15.0
    # scale
    unit_steps: tuple[int, ...] = (100, 1_000, 10_000)
    open_incidents: int = 50_000
    decisions: int = 2_000
    step_timeout_s: float = 300.0

    @classmethod
    def smoke(cls, out_dir: Path) -> BenchConfig:
        """Tiny counts: the whole bench in well under a minute (the integration test)."""
        return cls(
            out_dir=out_dir,
            store="memory",
            events=600,
            units=50,
            telemetry_per_incident=20,
            throughput_timeout_s=90,
            telemetry_rates=(50.0,),
            latency_units=50,
            incidents_per_s=5.0,
            latency_s=2.0,
            warm_up_s=1.0,
            drain_s=30.0,
            unit_steps=(10, 50),
            open_incidents=30,
            decisions=50,
            step_timeout_s=60,
        )


async def run(config: BenchConfig, sections: tuple[str, ...] = SECTIONS) -> dict[str, Any]:
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        raise ValueError(f"unknown sections {sorted(unknown)}; known: {', '.join(SECTIONS)}")
    base = Settings()
    started_broker = False
    if base.uses_local_broker and not broker.status(base).reachable:
        started_broker = broker.up(base).started
    results: dict[str, Any] = {"meta": _meta(config, base, sections)}
    city = load_city(base.city)
    log_dir = config.out_dir / "logs"
    prefixes: list[str] = []
    try:
        with tempfile.TemporaryDirectory(prefix="patrolflow-bench-") as tmp:
            root = Path(tmp)

            def deployment(prefix: str, **overrides: object) -> Settings:
                settings = fresh_settings(
                    base, root, prefix=prefix, store=config.store, **overrides
                )
                prefixes.extend([prefix, settings.app_id])
                return settings

            if {"ceiling", "throughput", "scale_out"} & set(sections):
                await _pipeline(config, sections, deployment, city, log_dir, results)
            if "latency" in sections:
                results["latency"] = [
                    await latency.run(
                        deployment(f"bench-{run_id()}.", processing_guarantee=guarantee),
                        city=city,
                        log_dir=log_dir,
                        units=config.latency_units,
                        telemetry_per_s=rate,
                        incidents_per_s=config.incidents_per_s,
                        duration_s=config.latency_s,
                        warm_up_s=config.warm_up_s,
                        drain_s=config.drain_s,
                        seed=config.seed,
                        extra_env=config.worker_env,
                    )
                    for rate in config.telemetry_rates
                    for guarantee in config.guarantees
                ]
            if "scale" in sections:
                started = time.perf_counter()
                decisions = scale.decision_times(config.unit_steps, config.decisions, config.seed)
                memory = await scale.run(
                    deployment(f"bench-{run_id()}."),
                    city=city,
                    log_dir=log_dir,
                    unit_steps=config.unit_steps,
                    incidents=config.open_incidents,
                    step_timeout_s=config.step_timeout_s,
                    seed=config.seed,
                    extra_env=config.worker_env,
                )
                results["scale"] = {
                    "decisions": decisions,
                    **memory,
                    "seconds": time.perf_counter() - started,
                }
    finally:
        if prefixes:
            await delete_topics(base.bootstrap, *prefixes)
        if started_broker:
            broker.down(base)
    results["targets"] = report.targets(results)
    return results


async def _pipeline(
    config: BenchConfig,
    sections: tuple[str, ...],
    deployment: Any,
    city: Any,
    log_dir: Path,
    results: dict[str, Any],
) -> None:
    """Pre-load one mix; the ceiling, one worker and N workers all read those same records."""
    prefix = f"bench-{run_id()}."
    first: Settings = deployment(prefix)
    await create(first)
    rng = random.Random(config.seed)
    units = load.fleet(config.units, city, rng)
    records = load.mixed(
        config.events,
        units=units,
        city=city,
        telemetry_per_incident=config.telemetry_per_incident,
        seed=config.seed,
        end=datetime.now(UTC),
    )
    preload_s = await load.publish(first, records)
    mix = load.counts(records)
    del records
    results["ceiling"] = await ceiling.run(first) | {
        "preload_s": preload_s,
        "preload_per_s": config.events / preload_s if preload_s else 0.0,
        "mix": mix,
    }
    ceiling_rate = results["ceiling"]["messages_per_s"]

    async def workers(n: int, settings: Settings) -> dict[str, Any]:
        out = await throughput.run(
            settings,
            workers=n,
            expected=config.events,
            log_dir=log_dir,
            timeout_s=config.throughput_timeout_s,
            extra_env=config.worker_env,
        )
        out["ratio_to_ceiling"] = out["events_per_s"] / ceiling_rate if ceiling_rate else None
        return out

    if "throughput" in sections or "scale_out" in sections:
        one = await workers(1, first)
        results["throughput"] = one
    if "scale_out" in sections:
        # Same input topics (same prefix), a new group: the same records once more.
        many = await workers(config.scale_out_workers, deployment(prefix))
        many["speedup"] = (
            many["events_per_s"] / one["events_per_s"] if one["events_per_s"] else None
        )
        results["scale_out"] = many


def _meta(config: BenchConfig, base: Settings, sections: tuple[str, ...]) -> dict[str, Any]:
    return {
        "started": datetime.now(UTC).isoformat(),
        "sections": list(sections),
        "machine": machine(),
        "bootstrap": base.bootstrap,
        "kafka_version": base.kafka_version if base.uses_local_broker else "external",
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(config).items()},
    }


def main(config: BenchConfig, sections: tuple[str, ...]) -> Path:
    """Run, print, write; returns the JSON file written."""
    from rich.console import Console

    # A topic just created has no leader for a moment: aiokafka retries and warns each time.
    logging.getLogger("aiokafka").setLevel(logging.ERROR)
    results = asyncio.run(run(config, sections))
    report.render(results, Console())
    path = report.write(results, config.out_dir)
    Console().print(f"results: {path}")
    return path


__all__ = ["SECTIONS", "BenchConfig", "main", "run"]
