"""Configuration of the response-time engine: circles, targets, alert thresholds. Pure.

Defaults (see ``docs/response.md``) and why:

- ``circle_reach_m`` ``{60: 500, 180: 1500, 300: 2500}``: a circle is the set of places a unit
  at the post reaches within the target. Dispatch estimates an urban ETA as straight-line
  distance x 1.3 (detour) / 11 m/s (a patrol car), i.e. about 8.5 m of straight line per
  second of target: 508 m, 1523 m, 2538 m, rounded down so that the promise stays honest.
- ``priority_tighten`` ``{1: 1.0, 2: 1.0, 3: 1.0}``: the bureau's circles apply to every
  call; a centre that wants emergencies faster sets e.g. ``{1: 0.8}``.
- ``unassigned_delay_s`` 0: ``../shared/decisions.md`` ("the unassigned alert follows
  dispatch's unassigned record after a configurable delay, default 0 s").
- ``ack_overdue_s`` 30 and ``telemetry_stale_s`` 120: the acknowledgement timeout and the
  telemetry staleness of ``decisions.md`` ("Unit status").
- ``severity_ladder`` warning at 1x, critical at 2x the limit: the issue's example.
- ``arrival_radius_m`` 100, ``arrival_max_speed_mps`` 1: a car parked at the scene (GPS error
  in a city is tens of metres; 1 m/s is walking pace, below any driving).
- ``arrival_mismatch_m`` 500: farther than the 1-minute circle is not "at the scene".
- ``post_radius_m`` 150: the same radius dispatch uses to call a unit "at its post".
- ``post_grace_s`` 120: a shift handover on the spot takes a minute or two.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, Final

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from schemas.alerts import Severity

__all__ = [
    "DEFAULT_CIRCLE_REACH_M",
    "SEVERITY_RANK",
    "ResponseConfig",
    "ResponseConfigError",
    "default_response_config",
    "load_response_config",
]

#: Straight-line reach of the 1-, 3- and 5-minute circles around a post, metres.
DEFAULT_CIRCLE_REACH_M: Final[Mapping[int, float]] = MappingProxyType(
    {60: 500.0, 180: 1500.0, 300: 2500.0}
)
#: Severities in escalation order.
SEVERITY_RANK: Final[Mapping[Severity, int]] = MappingProxyType(
    {Severity.INFO: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}
)
_DEFAULT_LADDER: Final = ((1.0, Severity.WARNING), (2.0, Severity.CRITICAL))


class ResponseConfigError(ValueError):
    """A response configuration that cannot be used; lists every problem."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source, self.problems = source, problems
        super().__init__(f"{source}: " + "; ".join(problems))


@dataclass(frozen=True)
class ResponseConfig:
    """Targets and thresholds of the response-time engine. Validated on construction.

    Every limit is in seconds of event time, every distance in metres.
    """

    #: Circle target (s) -> straight-line reach (m) around every post. A location's target is
    #: the smallest target whose circle of some post contains it.
    circle_reach_m: Mapping[int, float] = field(
        default_factory=lambda: dict(DEFAULT_CIRCLE_REACH_M)
    )
    #: Priority -> factor on the target (<= 1: a priority may only tighten). Missing: 1.
    priority_tighten: Mapping[int, float] = field(default_factory=lambda: {1: 1.0, 2: 1.0, 3: 1.0})
    #: Seconds after dispatch's ``unassigned`` (or ``unfilled``/``out_of_area``) record.
    unassigned_delay_s: float = 0.0
    #: An assigned unit that has not acknowledged within this time is overdue.
    ack_overdue_s: float = 30.0
    #: (multiple of the condition's limit, severity), in escalation order.
    severity_ladder: tuple[tuple[float, Severity], ...] = _DEFAULT_LADDER
    #: An assigned unit stopped this close to the scene has arrived (inferred from GPS).
    arrival_radius_m: float = 100.0
    #: "Stopped": reported speed (or speed between its last two fixes) at most this.
    arrival_max_speed_mps: float = 1.0
    #: A reported arrival whose unit's last fix is farther than this from the scene is flagged.
    arrival_mismatch_m: float = 500.0
    #: A unit within this distance of a post covers it.
    post_radius_m: float = 150.0
    #: A staffed post may be uncovered this long (shift handover) before it is an alert.
    post_grace_s: float = 120.0
    #: An on-duty unit silent longer than this is stale (and no longer covers a post).
    telemetry_stale_s: float = 120.0
    #: Target of an incident outside every zone (the national suburban norm).
    out_of_area_target_s: int = 600

    def __post_init__(self) -> None:
        problems: list[str] = []
        reach = _int_keyed(self.circle_reach_m, "circle_reach_m", problems)
        tighten = _int_keyed(self.priority_tighten, "priority_tighten", problems)
        previous = 0.0
        for target_s, metres in sorted(reach.items()):
            if not 0 < target_s <= 86_400:
                problems.append(f"circle_reach_m: target {target_s} s is not in 1..86400")
            if not (math.isfinite(metres) and metres > 0):
                problems.append(f"circle_reach_m.{target_s}: must be positive, not {metres}")
            elif metres < previous:
                problems.append(f"circle_reach_m.{target_s}: a looser circle cannot be smaller")
            else:
                previous = metres
        for priority, factor in sorted(tighten.items()):
            if not (math.isfinite(factor) and 0 < factor <= 1):
                problems.append(f"priority_tighten.{priority}: must be in (0, 1], not {factor}")
        ladder = tuple((float(m), Severity(s)) for m, s in self.severity_ladder)
        if not ladder:
            problems.append("severity_ladder: needs at least one step")
        for (m1, s1), (m2, s2) in pairwise(ladder):
            if not m2 > m1:
                problems.append("severity_ladder: multiples must increase")
            if not SEVERITY_RANK[s2] > SEVERITY_RANK[s1]:
                problems.append("severity_ladder: severities must increase")
        if any(not (math.isfinite(m) and m > 0) for m, _ in ladder):
            problems.append("severity_ladder: multiples must be positive")
        for name in ("ack_overdue_s", "telemetry_stale_s", "arrival_radius_m", "post_radius_m"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                problems.append(f"{name}: must be positive, not {value}")
        for name in (
            "unassigned_delay_s",
            "arrival_max_speed_mps",
            "arrival_mismatch_m",
            "post_grace_s",
        ):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                problems.append(f"{name}: must be a non-negative number, not {value}")
        if not 0 < self.out_of_area_target_s <= 86_400:
            problems.append(
                f"out_of_area_target_s: must be in 1..86400, not {self.out_of_area_target_s}"
            )
        if problems:
            raise ResponseConfigError("response config", problems)
        object.__setattr__(self, "circle_reach_m", MappingProxyType(dict(sorted(reach.items()))))
        object.__setattr__(
            self, "priority_tighten", MappingProxyType(dict(sorted(tighten.items())))
        )
        object.__setattr__(self, "severity_ladder", ladder)

    def tighten(self, priority: int) -> float:
        return self.priority_tighten.get(priority, 1.0)


def _int_keyed(mapping: Mapping[Any, float], name: str, problems: list[str]) -> dict[int, float]:
    out: dict[int, float] = {}
    for key, value in mapping.items():
        try:
            out[int(key)] = float(value)
        except (TypeError, ValueError):
            problems.append(f"{name}: {key!r}: {value!r} is not an integer key with a number")
    return out


def default_response_config() -> ResponseConfig:
    return ResponseConfig()


_Positive = Annotated[float, Field(gt=0.0, allow_inf_nan=False)]
_NonNegative = Annotated[float, Field(ge=0.0, allow_inf_nan=False)]


class _ConfigFile(BaseModel):
    """A JSON response config: every key optional, unknown keys rejected (typos)."""

    model_config = ConfigDict(extra="forbid")

    circle_reach_m: dict[int, _Positive] | None = None
    priority_tighten: dict[int, _Positive] | None = None
    unassigned_delay_s: _NonNegative | None = None
    ack_overdue_s: _Positive | None = None
    severity_ladder: list[tuple[_Positive, Severity]] | None = None
    arrival_radius_m: _Positive | None = None
    arrival_max_speed_mps: _NonNegative | None = None
    arrival_mismatch_m: _NonNegative | None = None
    post_radius_m: _Positive | None = None
    post_grace_s: _NonNegative | None = None
    telemetry_stale_s: _Positive | None = None
    out_of_area_target_s: Annotated[int, Field(gt=0, le=86_400)] | None = None


def load_response_config(path: Path | str) -> ResponseConfig:
    """Read a JSON object of overrides (keys as in :class:`ResponseConfig`; missing keys keep
    their defaults), e.g. ``{"priority_tighten": {"1": 0.8}, "post_grace_s": 180}``."""
    source = str(path)
    try:
        data = json.loads(Path(path).read_bytes())
    except OSError as exc:
        raise ResponseConfigError(
            source, [f"cannot read the file: {exc.strerror or exc}"]
        ) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ResponseConfigError(source, [f"not valid JSON: {exc}"]) from None
    try:
        parsed = _ConfigFile.model_validate(data)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}"
            for err in exc.errors()
        ]
        raise ResponseConfigError(source, problems) from None
    overrides: dict[str, Any] = {
        name: value for name, value in parsed.model_dump().items() if value is not None
    }
    if "severity_ladder" in overrides:
        overrides["severity_ladder"] = tuple(
            (float(m), Severity(s)) for m, s in overrides["severity_ladder"]
        )
    try:
        return ResponseConfig(**overrides)
    except ResponseConfigError as exc:
        raise ResponseConfigError(source, exc.problems) from None
