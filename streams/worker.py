"""Start a worker: import every agent, then hand over to Faust's worker (signals, logging, loop)."""

from __future__ import annotations

import faust

from streams.app import app, settings


def load_agents() -> None:
    """Importing a domain's agents module registers its agents on the app."""
    import streams.intake.agents
    import streams.ops  # noqa: F401


def run_worker() -> None:
    load_agents()
    worker = faust.Worker(app, loglevel=settings.log_level.upper(), quiet=True)
    worker.execute_from_commandline()
