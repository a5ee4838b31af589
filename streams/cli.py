"""The ``patrolflow`` command: broker, topics, worker, schemas and the demo."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from streams.settings import Settings

cli = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
kafka_cli = typer.Typer(no_args_is_help=True, help="The local Kafka broker (KRaft, from Maven).")
topics_cli = typer.Typer(no_args_is_help=True, help="patrolflow's topics on the cluster.")
schemas_cli = typer.Typer(no_args_is_help=True, help="Wire contracts: JSON Schema and AsyncAPI.")
cli.add_typer(kafka_cli, name="kafka")
cli.add_typer(topics_cli, name="topics")
cli.add_typer(schemas_cli, name="schemas")


@kafka_cli.command("up")
def kafka_up() -> None:
    """Resolve Kafka with Maven, format storage and start a broker on 127.0.0.1 (idempotent)."""
    from streams import broker

    settings = Settings()
    if not settings.uses_local_broker:
        typer.echo(
            f"PATROLFLOW_KAFKA_BOOTSTRAP is set: using {settings.bootstrap}, starting nothing"
        )
        return
    state = broker.up(settings)
    typer.echo(f"{state.bootstrap} {state.outcome} (pid {state.pid}, log {state.log_file})")


@kafka_cli.command("status")
def kafka_status() -> None:
    """Print the bootstrap address; exit 0 only when the broker answers a metadata request."""
    from streams import broker

    status = broker.status(Settings())
    typer.echo(f"{status.bootstrap} {'up' if status.reachable else 'down'}")
    raise typer.Exit(0 if status.reachable else 1)


@kafka_cli.command("down")
def kafka_down() -> None:
    """Stop the local broker (idempotent)."""
    from streams import broker

    settings = Settings()
    if not settings.uses_local_broker:
        typer.echo("PATROLFLOW_KAFKA_BOOTSTRAP is set: nothing of ours to stop")
        return
    stopped = broker.down(settings)
    typer.echo("stopped" if stopped else "not running")


@topics_cli.command("create")
def topics_create() -> None:
    """Create every topic with the configured partition counts (idempotent)."""
    from streams.topics import create_topics_sync

    for name, outcome in create_topics_sync(Settings()).items():
        typer.echo(f"{outcome:8} {name}")


@schemas_cli.command("export")
def schemas_export() -> None:
    """Regenerate the committed JSON Schemas and the AsyncAPI document."""
    from schemas.export import export_all

    for path in export_all():
        typer.echo(str(path))


@cli.command("worker")
def worker() -> None:
    """Run a stream-processing worker (web server on PATROLFLOW_WEB_PORT)."""
    from streams.worker import run_worker

    sys.argv = [sys.argv[0]]  # Faust's worker reads argv; ours are already parsed
    run_worker()


bench_cli = typer.Typer(no_args_is_help=True, help="Benchmarks: commands that print figures.")
cli.add_typer(bench_cli, name="bench")


@bench_cli.command("dispatch")
def bench_dispatch(
    units: str = typer.Option("100,1000,10000", help="comma-separated unit counts"),
    decisions: int = typer.Option(2000, help="decisions timed per unit count"),
    seed: int = typer.Option(7),
) -> None:
    """Decision time of dispatch selection with 100, 1,000 and 10,000 units in one region."""
    from streams.dispatch.bench import main as bench_main

    bench_main(["--units", units, "--decisions", str(decisions), "--seed", str(seed)])


def _register_bench_commands() -> None:
    # bench all / ceiling / throughput / scale-out / latency / scale (issue 9): streams.bench
    from streams.bench.command import register

    register(bench_cli)


_register_bench_commands()


@cli.command("simulate")
def simulate(
    duration: str = typer.Option("1h", help="Simulated span: 3600, 90s, 30m, 1h30m, 2d."),
    speed: str = typer.Option(
        "1", help="N x real time (10 or 10x); 0 or max: as fast as possible."
    ),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Write JSON Lines here ('-': stdout; *.gz: compressed)."
    ),
    publish: bool | None = typer.Option(
        None, "--publish/--no-publish", help="Publish to the input topics (default: unless --out)."
    ),
    seed: int = typer.Option(7, help="Same seed and options: the same events, byte for byte."),
    start: str | None = typer.Option(
        None,
        help="First event time, ISO 8601 (no offset: the city's time). Default: early enough "
        "that event time never overtakes wall time at --speed.",
    ),
    calls_per_hour: float = typer.Option(20.0, help="Mean 110 calls per hour over a day."),
    telemetry_interval: float = typer.Option(10.0, help="Seconds between on-duty unit reports."),
    invalid_share: float = typer.Option(0.30, help="Share of invalid calls."),
    non_police_share: float = typer.Option(0.15, help="Share of non-police calls."),
    bad_share: float = typer.Option(0.0, help="Share of extra malformed records (dead letters)."),
    case_time_scale: float = typer.Option(
        1.0, help="Scales case filing and solving lags (days to weeks); e.g. 0.01 for demos."
    ),
    max_events: int | None = typer.Option(None, help="Stop after this many records."),
    max_seconds: float | None = typer.Option(None, help="Stop after this many wall seconds."),
    progress: bool = typer.Option(True, "--progress/--no-progress"),
) -> None:
    """Simulate the city's 110 calls, patrol units and incidents: publish or record them."""
    from streams.city.model import load_city
    from streams.sim import parse_duration, parse_speed, parse_start, simulate_main

    settings = Settings()
    try:
        duration_s, speed_x = parse_duration(duration), parse_speed(speed)
        first = None if start is None else parse_start(start, load_city(settings.city).timezone)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    raise typer.Exit(
        simulate_main(
            seed=seed,
            start=first,
            duration_s=duration_s,
            speed=speed_x,
            out=out,
            publish_to_kafka=publish,
            settings=settings,
            telemetry_interval_s=telemetry_interval,
            calls_per_hour=calls_per_hour,
            invalid_share=invalid_share,
            non_police_share=non_police_share,
            bad_share=bad_share,
            case_time_scale=case_time_scale,
            max_events=max_events,
            max_seconds=max_seconds,
            progress=progress,
        )
    )


@cli.command("replay")
def replay(
    file: Path = typer.Argument(..., help="A JSON Lines recording (patrolflow simulate --out)."),
    speed: str = typer.Option(
        "1", help="N x as recorded (10 or 10x); 0 or max: as fast as possible."
    ),
    max_events: int | None = typer.Option(None, help="Stop after this many records."),
    max_seconds: float | None = typer.Option(None, help="Stop after this many wall seconds."),
    progress: bool = typer.Option(True, "--progress/--no-progress"),
) -> None:
    """Publish a recording into the topics, keeping its event time and order."""
    from streams.sim import parse_speed, replay_main

    try:
        speed_x = parse_speed(speed)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--speed") from None
    raise typer.Exit(
        replay_main(
            file,
            speed=speed_x,
            settings=Settings(),
            progress=progress,
            max_events=max_events,
            max_seconds=max_seconds,
        )
    )


@cli.command("demo")
def demo(
    speed: str = typer.Option("5", help="N x real time (5 or 5x): city time runs N times faster."),
    duration: str | None = typer.Option(
        None,
        help="End by itself after this long (90s, 5m, 1h); default: until Ctrl-C "
        "(or the end of 24 h of city time).",
    ),
    seed: int = typer.Option(7, help="The simulator's seed (same seed: the same city traffic)."),
    calls_per_hour: float = typer.Option(240.0, help="Mean 110 calls per hour of city time."),
    plain: bool = typer.Option(
        False, help="Print a status line every 5 s instead of the live view."
    ),
    keep_topics: bool = typer.Option(False, help="Leave this run's topics on the cluster."),
) -> None:
    """The city live: broker (if none is configured), topics, a worker, the simulator, a view.

    Shows incidents coming in, assignments, alerts and KPIs; prints where /metrics and
    /clearance are. Ctrl-C (or the end of --duration) stops everything it started.
    """
    from streams.demo import DemoOptions, run_demo
    from streams.sim import parse_duration, parse_speed

    try:
        speed_x = parse_speed(speed)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--speed") from None
    if speed_x <= 0:
        raise typer.BadParameter("the demo needs a finite speed (e.g. 5)", param_hint="--speed")
    try:
        duration_s = None if duration is None else parse_duration(duration)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--duration") from None
    options = DemoOptions(
        speed=speed_x,
        duration_s=duration_s,
        seed=seed,
        calls_per_hour=calls_per_hour,
        plain=plain,
        keep_topics=keep_topics,
    )
    raise typer.Exit(run_demo(options))


def main() -> None:
    cli()
