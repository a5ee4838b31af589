"""The deterministic event generator: a :class:`SimConfig` in, Kafka-ready events out.

Pure: no Kafka, no wall clock (except :func:`default_start`, which is given ``now`` in tests).
:func:`generate` runs the simulated world (:mod:`streams.sim.model`) and yields
:class:`SimEvent` ``(topic, key, value, event_time)`` tuples in event-time order, where
``topic`` is the canonical topic name (without a deployment's prefix), ``key`` the incident or
unit id, ``value`` the record's UTF-8 JSON bytes (every value validates against
:mod:`schemas.incidents` / :mod:`schemas.units`, and carries a unique ``event_id``), and
``event_time`` the record's own time (``reported_at`` / ``at``), which sinks use as the Kafka
record timestamp.

Same config, city and policy => the same events, byte for byte (on the same Python version:
the generator relies on :class:`random.Random`). With ``bad_share`` > 0 deliberately bad
records (not JSON, wrong types, unknown enum values, missing fields) are *added* after a share
of the good ones; the good records stay exactly what they would be without them.
"""

from __future__ import annotations

import copy
import math
import random
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Final, NamedTuple, Protocol
from zoneinfo import ZoneInfo

import orjson

from schemas import topics
from schemas.incidents import IncidentCategory
from streams.city.model import City, load_city
from streams.dispatch.policy import DispatchPolicy, default_policy
from streams.sim.model import EPOCH, SimConfig, World, to_ms

__all__ = [
    "BAD_KINDS",
    "SimConfig",
    "SimEvent",
    "SimStats",
    "default_start",
    "format_speed",
    "generate",
    "is_max_speed",
    "parse_duration",
    "parse_speed",
    "parse_start",
]

#: The kinds of deliberately bad records ``bad_share`` adds.
BAD_KINDS: Final = ("not_json", "wrong_type", "unknown_enum", "missing_field")
#: Event time stays at least this far behind wall time with the default start.
START_MARGIN_S: Final = 10.0


class SimEvent(NamedTuple):
    """One record: canonical topic, key, value bytes and event time (timezone-aware)."""

    topic: str
    key: str | None
    value: bytes
    event_time: datetime

    @property
    def timestamp_ms(self) -> int:
        """The Kafka record timestamp: event time in milliseconds since the epoch."""
        return to_ms(self.event_time)


# --- speed, start and duration ------------------------------------------------------------------


def is_max_speed(speed: float) -> bool:
    """Speed 0 (or infinity) means as fast as possible."""
    return speed <= 0 or math.isinf(speed)


def parse_speed(text: str | float) -> float:
    """``"1"`` real time, ``"10"`` or ``"10x"`` ten times faster, ``"0"`` or ``"max"`` as fast
    as possible (returned as 0.0)."""
    if isinstance(text, int | float):
        value = float(text)
    else:
        cleaned = text.strip().lower()
        if cleaned in ("max", "inf", "0"):
            return 0.0
        cleaned = cleaned.removesuffix("x")
        try:
            value = float(cleaned)
        except ValueError:
            raise ValueError(f"speed must be a number, 'Nx' or 'max', not {text!r}") from None
    if math.isnan(value) or value < 0:
        raise ValueError(f"speed must be >= 0, not {text!r}")
    return 0.0 if is_max_speed(value) else value


def format_speed(speed: float) -> str:
    return "max" if is_max_speed(speed) else f"{speed:g}x"


_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([dhms]?)")
_UNIT_S: Final = {"d": 86_400.0, "h": 3600.0, "m": 60.0, "s": 1.0, "": 1.0}


def parse_duration(text: str | float) -> float:
    """Seconds from ``"3600"``, ``"90s"``, ``"30m"``, ``"1h"``, ``"1h30m"`` or ``"2d"``."""
    if isinstance(text, int | float):
        seconds = float(text)
    else:
        compact = text.strip().lower().replace(" ", "")
        parts = _DURATION.findall(compact)
        if not compact or "".join(n + u for n, u in parts) != compact:
            raise ValueError(f"not a duration: {text!r} (try 3600, 90s, 30m, 1h30m, 2d)")
        seconds = sum(float(n) * _UNIT_S[u] for n, u in parts)
    if not (math.isfinite(seconds) and seconds > 0):
        raise ValueError(f"duration must be positive, not {text!r}")
    return seconds


def default_start(
    duration_s: float,
    speed: float,
    *,
    now: datetime | None = None,
    margin_s: float = START_MARGIN_S,
) -> datetime:
    """The start of event time such that, published at ``speed`` from ``now`` on, event time
    never overtakes wall time: ``now - duration x (1 - 1/speed) - margin`` (the whole duration
    at max speed; just the margin at real time or slower), floored to the second, in UTC.

    At the end of the run event time has caught up to within ``margin_s`` of wall time. Kafka
    4 brokers reject record timestamps more than an hour ahead; patrolflow dead-letters event
    times more than 24 h ahead.
    """
    wall = now if now is not None else datetime.now(UTC)
    if wall.tzinfo is None or wall.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    lag = duration_s if is_max_speed(speed) else max(0.0, duration_s * (1.0 - 1.0 / speed))
    start = wall.astimezone(UTC) - timedelta(seconds=lag + margin_s)
    return start.replace(microsecond=0)


def parse_start(text: str, tz: ZoneInfo | None = None) -> datetime:
    """An ISO 8601 date-time; without an offset it is local time in ``tz`` (the city's)."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"start must be an ISO 8601 date-time such as 2025-05-09T19:00:00+08:00, not {text!r}"
        ) from None
    if value.tzinfo is None:
        if tz is None:
            raise ValueError(f"start {text!r} has no UTC offset and no timezone was given")
        value = value.replace(tzinfo=tz)
    return value


# --- the generator ------------------------------------------------------------------------------


def run_id(config: SimConfig) -> str:
    """The prefix of every ``event_id`` of a run: seed and start (UTC)."""
    return f"sim{config.seed}-{config.start.astimezone(UTC):%Y%m%dT%H%M%SZ}"


def generate(
    config: SimConfig, *, city: City | None = None, policy: DispatchPolicy | None = None
) -> Iterator[SimEvent]:
    """The events of a simulation in event-time order (lazily: a day of the demo city is a
    few million events; memory stays flat). ``city``: default the built-in demo city;
    ``policy``: default :func:`~streams.dispatch.policy.default_policy` (forces per category
    and their speeds)."""
    world = World(config, city if city is not None else load_city(None), policy or default_policy())
    prefix = run_id(config)
    bad_rng = random.Random(f"{config.seed}:bad")
    bad_share = config.bad_share
    dumps = orjson.dumps
    bad = 0
    last_ms = -1
    event_time = EPOCH
    for good, (at_ms, topic, key, payload) in enumerate(world.events(), start=1):
        payload["event_id"] = f"{prefix}-{good:07d}"
        if at_ms != last_ms:
            last_ms, event_time = at_ms, EPOCH + timedelta(milliseconds=at_ms)
        yield SimEvent(topic, key, dumps(payload), event_time)
        if bad_share and bad_rng.random() < bad_share:
            bad += 1
            value = _bad_value(bad_rng, topic, payload, f"{prefix}-bad-{bad:06d}")
            yield SimEvent(topic, key, value, event_time)


def _bad_value(rng: random.Random, topic: str, payload: dict[str, Any], event_id: str) -> bytes:
    kind = rng.choice(BAD_KINDS)
    record = copy.deepcopy(payload)
    record["event_id"] = event_id
    if kind == "not_json":
        text = orjson.dumps(record)
        return text[: max(1, len(text) // 2)]  # a truncated write
    wrong: object
    if topic == topics.UNITS_TELEMETRY:
        field_name, wrong, unknown = "speed_mps", "fast", ("status", "teleporting")
        missing = "location"
    elif topic == topics.INCIDENTS_REPORTED:
        field_name, wrong, unknown = "priority", "high", ("category", "alien_visit")
        missing = "location"
    else:
        field_name, wrong, unknown = "at", 1_700_000_000, ("kind", "beamed_up")
        missing = "kind"
    if kind == "wrong_type":
        record[field_name] = wrong
    elif kind == "unknown_enum":
        record[unknown[0]] = unknown[1]
    else:
        record.pop(missing, None)
    return orjson.dumps(record)


# --- statistics ---------------------------------------------------------------------------------


class RecordLike(Protocol):
    """What statistics read of a record (a :class:`SimEvent` or a recorded one)."""

    @property
    def topic(self) -> str: ...
    @property
    def value(self) -> bytes: ...
    @property
    def timestamp_ms(self) -> int: ...


@dataclass
class SimStats:
    """What a run produced, next to what its config asked for. Feed it the events with
    :meth:`observe` (a pass-through) or :meth:`add`; print :meth:`lines`."""

    config: SimConfig
    city: City
    policy: DispatchPolicy = field(default_factory=default_policy)
    events: int = 0
    bad: int = 0
    by_topic: Counter[str] = field(default_factory=Counter)
    categories: Counter[str] = field(default_factory=Counter)
    calls_by_hour: list[int] = field(default_factory=lambda: [0] * 24)
    updates: Counter[str] = field(default_factory=Counter)
    first_ms: int | None = None
    last_ms: int | None = None
    _status: dict[str, str] = field(default_factory=dict, repr=False)
    _samples: list[tuple[int, int]] = field(default_factory=list, repr=False)
    _next_sample: int | None = field(default=None, repr=False)

    #: Units on duty are sampled every this many ms of event time.
    SAMPLE_MS: ClassVar[int] = 300_000

    def observe(self, events: Iterable[SimEvent]) -> Iterator[SimEvent]:
        for event in events:
            self.add(event)
            yield event

    def add(self, event: RecordLike) -> None:
        self.events += 1
        self.by_topic[event.topic] += 1
        at = event.timestamp_ms
        if self.first_ms is None:
            self.first_ms = at
            self._next_sample = to_ms(self.config.start) + self.SAMPLE_MS // 2
        self.last_ms = at
        while self._next_sample is not None and at >= self._next_sample:
            on = sum(1 for s in self._status.values() if s != "off_duty")
            self._samples.append((self._next_sample, on))
            self._next_sample += self.SAMPLE_MS
        try:
            record = orjson.loads(event.value)
        except orjson.JSONDecodeError:
            self.bad += 1
            return
        if not isinstance(record, dict) or str(record.get("event_id", "")).count("-bad-"):
            self.bad += 1
            return
        if event.topic == topics.INCIDENTS_REPORTED:
            self.categories[str(record["category"])] += 1
            local = datetime.fromisoformat(record["reported_at"]).astimezone(self.city.timezone)
            self.calls_by_hour[local.hour] += 1
        elif event.topic == topics.INCIDENTS_UPDATES:
            self.updates[str(record["kind"])] += 1
        elif event.topic == topics.UNITS_TELEMETRY:
            self._status[str(record["unit_id"])] = str(record["status"])

    @property
    def calls(self) -> int:
        return sum(self.categories.values())

    @property
    def hours(self) -> float:
        return self.config.duration_s / 3600.0

    def expected_calls(self) -> float:
        """Calls the daily profile expects over the simulated span (minute by minute)."""
        start = self.config.start
        total = 0.0
        minutes = max(1, round(self.config.duration_s / 60))
        for m in range(minutes):
            local = (start + timedelta(minutes=m)).astimezone(self.city.timezone)
            total += self.config.hourly_rate(local.hour) / 60.0
        return total * (self.config.duration_s / 60.0) / minutes

    def category_share(self, category: IncidentCategory | str) -> float:
        calls = self.calls
        return self.categories[str(category)] / calls if calls else 0.0

    def units_on_duty(self) -> float | None:
        """Mean number of units reporting a status other than ``off_duty`` (sampled every 5
        minutes of event time, after every unit's first report)."""
        samples = [n for t, n in self._samples if t >= to_ms(self.config.start) + 60_000]
        return sum(samples) / len(samples) if samples else None

    def roster_on_duty(self) -> float | None:
        """The same samples from the roster's plan (what the config asks for)."""
        times = [t for t, _ in self._samples if t >= to_ms(self.config.start) + 60_000]
        if not times:
            return None
        world = World(self.config, self.city, self.policy)
        return sum(world.on_duty_count(t) for t in times) / len(times)

    def lines(self) -> list[str]:
        """A human summary: events, calls per hour, category mix, units on duty."""
        config = self.config
        tz = self.city.timezone
        start = config.start.astimezone(tz)
        end = config.end.astimezone(tz)
        topics_text = ", ".join(f"{t} {n:,}" for t, n in sorted(self.by_topic.items()))
        out = [
            f"simulated {start:%Y-%m-%d %H:%M:%S} .. {end:%Y-%m-%d %H:%M:%S} {start:%z} "
            f"({config.duration_s / 3600:.2f} h, seed {config.seed}): {self.events:,} events "
            f"({topics_text}), {self.bad:,} deliberately bad",
            f"calls: {self.calls:,} = {self.calls / self.hours:.1f}/h "
            f"(expected {self.expected_calls() / self.hours:.1f}/h; "
            f"{config.calls_per_hour:g}/h over a whole day)",
        ]
        shares = config.category_shares()
        mix = ", ".join(
            f"{c.value} {self.category_share(c):.0%} ({shares[c]:.0%})"
            for c in sorted(shares, key=lambda c: -shares[c])
        )
        out.append(f"category mix (configured): {mix}")
        on, planned = self.units_on_duty(), self.roster_on_duty()
        if on is not None and planned is not None:
            out.append(f"units on duty: mean {on:.1f} (roster {planned:.1f})")
        if self.updates:
            kinds = ", ".join(f"{k} {n:,}" for k, n in self.updates.most_common())
            out.append(f"updates: {kinds}")
        return out
