"""Start a worker: import every agent, then hand over to Faust's worker (signals, logging, loop)."""

from __future__ import annotations

import importlib

import faust

from streams.app import app, settings

#: Importing a module registers its agents, tables, timers and pages on the app.
AGENT_MODULES = (
    "streams.intake.agents",
    "streams.region.agents",
    "streams.clearance.agents",
    "streams.observability.agents",
    "streams.ops",
)


def load_agents() -> None:
    for name in AGENT_MODULES:
        importlib.import_module(name)


def run_worker() -> None:
    load_agents()
    # Before Faust starts: its internal topics must be in the first assignment (see topics.py).
    from streams.topics import prepare_worker_topics

    created = prepare_worker_topics(app, settings)
    if created:
        print(f"patrolflow: created {len(created)} internal topics", flush=True)
    worker = faust.Worker(app, loglevel=settings.log_level.upper(), quiet=True)
    if settings.processing_guarantee == "exactly_once":
        from streams.transactions import install

        install(app)
    worker.execute_from_commandline()
