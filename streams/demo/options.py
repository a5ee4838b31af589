"""The options of ``patrolflow demo``."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DemoOptions"]


@dataclass(frozen=True)
class DemoOptions:
    speed: float = 5.0
    #: Wall-clock seconds of simulation (after the worker is ready); None: until stopped.
    duration_s: float | None = None
    seed: int = 7
    calls_per_hour: float = 240.0
    #: Scales case filing and solving lags (days to weeks) so that cases of cleared incidents
    #: are filed and solved within a demo's reach.
    case_time_scale: float = 0.002
    #: Force the plain status lines even on a terminal.
    plain: bool = False
    #: Leave the run's topics on the cluster (the test reads them afterwards).
    keep_topics: bool = False
    #: SIGTERM-to-SIGKILL deadline for the worker.
    stop_grace_s: float = 20.0
