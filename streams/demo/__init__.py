"""``patrolflow demo`` (issue 7): the city live on a real broker, in one command.

- :mod:`streams.demo.state`: the pure fold of records and ``/metrics`` into KPIs and recent lists.
- :mod:`streams.demo.view`: rich rendering of that state.
- :mod:`streams.demo.process`: the worker subprocess (start, readiness, stop).
- :mod:`streams.demo.deployment`: the run's own topic prefix and application id.
- :mod:`streams.demo.run`: the orchestration, signals and the summary.
"""

from __future__ import annotations

from streams.demo.run import DemoOptions, run_demo

__all__ = ["DemoOptions", "run_demo"]
