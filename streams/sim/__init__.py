"""The demo city's simulator, and record and replay (issue 7).

- :mod:`streams.sim.model`: the simulated world (pure): units with shifts, movement, calls and
  the units' side of every incident's lifecycle.
- :mod:`streams.sim.generator`: the deterministic event generator (pure): :class:`SimConfig`
  in, :class:`SimEvent` ``(topic, key, value, event_time)`` out, in event-time order.
- :mod:`streams.sim.sinks`: JSON Lines files, publishing to Kafka paced by event time, and
  :func:`simulate_main` (``patrolflow simulate``).
- :mod:`streams.sim.replay`: :func:`replay` and :func:`replay_main` (``patrolflow replay``).

Importing this package does not import aiokafka; the Kafka client is loaded when publishing.
"""

from __future__ import annotations

from streams.sim.generator import (
    SimEvent,
    SimStats,
    default_start,
    format_speed,
    generate,
    parse_duration,
    parse_speed,
    parse_start,
)
from streams.sim.model import SimConfig
from streams.sim.replay import replay, replay_main
from streams.sim.sinks import Summary, publish, simulate_main, to_jsonl

__all__ = [
    "SimConfig",
    "SimEvent",
    "SimStats",
    "Summary",
    "default_start",
    "format_speed",
    "generate",
    "parse_duration",
    "parse_speed",
    "parse_start",
    "publish",
    "replay",
    "replay_main",
    "simulate_main",
    "to_jsonl",
]
