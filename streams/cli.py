"""The ``patrolflow`` command: broker, topics, worker, schemas and the demo."""

from __future__ import annotations

import sys

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


@cli.command("demo")
def demo() -> None:
    """Start the local broker if none is configured, create the topics and run a worker.

    Ctrl-C stops the worker and the broker this command started; nothing is left behind.
    """
    from streams import broker
    from streams.topics import create_topics_sync

    settings = Settings()
    started = False
    if settings.uses_local_broker:
        state = broker.up(settings)
        started = state.started
        typer.echo(f"broker: {state.bootstrap} ({state.outcome})")
    try:
        create_topics_sync(settings)
        typer.echo(f"worker: http://{settings.web_host}:{settings.web_port}/metrics and /healthz")
        worker()
    finally:
        if started:
            broker.down(settings)
            typer.echo("broker stopped")


def main() -> None:
    cli()
