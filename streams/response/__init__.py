"""The response-time engine: circle targets, intervals, alerts on ``alerts.response``.

Pure logic (no Faust, no Kafka), called by the region core next to dispatch, per region, in
event order. Rules for supervisors: ``docs/response.md``.
"""

from __future__ import annotations

from streams.response.config import (
    ResponseConfig,
    ResponseConfigError,
    default_response_config,
    load_response_config,
)
from streams.response.engine import RegionResponse, ResponseEffects
from streams.response.intervals import Interval, IntervalKind
from streams.response.records import AlertState, IncidentWatch, PostWatch, UnitWatch
from streams.response.targets import Target, target_for

__all__ = [
    "AlertState",
    "IncidentWatch",
    "Interval",
    "IntervalKind",
    "PostWatch",
    "RegionResponse",
    "ResponseConfig",
    "ResponseConfigError",
    "ResponseEffects",
    "Target",
    "UnitWatch",
    "default_response_config",
    "load_response_config",
    "target_for",
]
