"""The ``patrolflow bench`` sub-commands other than ``dispatch`` (registered by streams.cli).

Every command takes the same options; each applies to the sections that command runs.
Heavy imports happen only when a command runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import typer

COMMANDS: dict[str, tuple[tuple[str, ...], str]] = {
    "all": (
        ("ceiling", "throughput", "scale_out", "latency", "scale"),
        "Every section: ceiling, throughput, scale out, latency, scale (a few minutes).",
    ),
    "ceiling": (("ceiling",), "Raw aiokafka consumer reading + decoding pre-loaded inputs."),
    "throughput": (
        ("ceiling", "throughput"),
        "One worker through the whole pipeline, and its ratio to the ceiling.",
    ),
    "scale-out": (
        ("ceiling", "throughput", "scale_out"),
        "Two workers against one on the same pre-loaded, partitioned load.",
    ),
    "latency": (
        ("latency",),
        "Incident -> assignment p50/p95/p99 under background telemetry, both guarantees.",
    ),
    "scale": (
        ("scale",),
        "Decision time and worker RSS at 100 / 1,000 / 10,000 units + open incidents.",
    ),
}


def _floats(text: str) -> tuple[float, ...]:
    return tuple(float(x) for x in text.split(",") if x.strip())


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in text.split(",") if x.strip())


def _command(sections: tuple[str, ...]) -> Callable[..., None]:
    def command(
        out: Path = typer.Option(Path("bench-results"), help="Where the JSON (and logs) go."),
        smoke: bool = typer.Option(False, help="Tiny counts: seconds, for a quick check."),
        store: str | None = typer.Option(None, help="Table store: rocksdb (default) or memory."),
        seed: int | None = typer.Option(None),
        worker_env: list[str] = typer.Option(
            [], help="KEY=VALUE for the workers' environment (Faust reads e.g. PRODUCER_LINGER)."
        ),
        events: int | None = typer.Option(None, help="Pre-loaded records (default 20,000)."),
        units: int | None = typer.Option(None, help="Units in the pre-loaded mix (2,000)."),
        workers: int | None = typer.Option(None, help="Workers of the scale-out run (2)."),
        telemetry_rate: str | None = typer.Option(
            None, help="Background telemetry per second, comma-separated (2000)."
        ),
        incidents_per_s: float | None = typer.Option(None, help="Latency: incidents/s (10)."),
        latency_seconds: float | None = typer.Option(None, help="Latency: measured span (20)."),
        guarantees: str | None = typer.Option(
            None, help="Latency: at_least_once,exactly_once (both)."
        ),
        unit_steps: str | None = typer.Option(None, help="Scale: unit counts (100,1000,10000)."),
        open_incidents: int | None = typer.Option(None, help="Scale: open incidents (50,000)."),
    ) -> None:
        from streams.bench.runner import BenchConfig, main

        config = BenchConfig.smoke(out) if smoke else BenchConfig(out_dir=out)
        given: dict[str, Any] = {
            "store": store,
            "seed": seed,
            "events": events,
            "units": units,
            "scale_out_workers": workers,
            "incidents_per_s": incidents_per_s,
            "latency_s": latency_seconds,
            "open_incidents": open_incidents,
            "telemetry_rates": _floats(telemetry_rate) if telemetry_rate else None,
            "guarantees": tuple(guarantees.split(",")) if guarantees else None,
            "unit_steps": _ints(unit_steps) if unit_steps else None,
        }
        try:
            env = dict(kv.split("=", 1) for kv in worker_env)
        except ValueError:
            raise typer.BadParameter("KEY=VALUE", param_hint="--worker-env") from None
        config = replace(config, **{k: v for k, v in given.items() if v is not None})
        if env:
            config = replace(config, worker_env=env)
        main(config, sections)

    return command


def register(app: typer.Typer) -> None:
    for name, (sections, help_text) in COMMANDS.items():
        app.command(name, help=help_text)(_command(sections))
