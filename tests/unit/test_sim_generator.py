"""The event generator: determinism, valid records, event time, the daily profile, the category
mix, bad records, statistics, configuration, and the CLI parsing helpers."""

from __future__ import annotations

import math
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas import topics
from schemas.incidents import IncidentCategory, IncidentReported, IncidentUpdate
from schemas.units import UnitTelemetry
from streams.city import load_city
from streams.intake.decode import Accepted, Rejected, decode
from streams.sim.generator import (
    SimConfig,
    SimEvent,
    SimStats,
    default_start,
    format_speed,
    generate,
    parse_duration,
    parse_speed,
    parse_start,
)
from streams.sim.model import to_ms
from streams.sim.sinks import to_jsonl

CITY = load_city(None)
TZ = CITY.timezone
#: A Friday evening in Hailar.
FRIDAY_EVENING = datetime(2025, 5, 9, 19, 30, tzinfo=TZ)
MODELS = {
    topics.INCIDENTS_REPORTED: IncidentReported,
    topics.INCIDENTS_UPDATES: IncidentUpdate,
    topics.UNITS_TELEMETRY: UnitTelemetry,
}


def run(**overrides: object) -> list[SimEvent]:
    values: dict[str, object] = {"start": FRIDAY_EVENING, "duration_s": 3600.0}
    config = SimConfig(**(values | overrides))  # type: ignore[arg-type]
    return list(generate(config, city=CITY))


@pytest.fixture(scope="module")
def hour() -> list[SimEvent]:
    """An hour of the demo city on a Friday evening, with busier calls than the default."""
    return run(calls_per_hour=60.0, seed=1)


@pytest.fixture(scope="module")
def day() -> tuple[SimConfig, list[SimEvent]]:
    """A whole day, telemetry thinned out so that it stays quick."""
    config = SimConfig(
        start=datetime(2025, 5, 12, 0, 0, tzinfo=TZ),
        duration_s=86_400.0,
        seed=5,
        calls_per_hour=80.0,
        telemetry_interval_s=600.0,
        off_duty_interval_s=3600.0,
    )
    return config, list(generate(config, city=CITY))


# --- determinism ----------------------------------------------------------------------------------


def test_the_same_seed_gives_byte_identical_files(tmp_path: Path) -> None:
    base = tmp_path
    config = SimConfig(start=FRIDAY_EVENING, duration_s=1200.0, seed=42, calls_per_hour=90.0)
    to_jsonl(base / "a.jsonl", generate(config, city=CITY))
    to_jsonl(base / "b.jsonl", generate(config, city=load_city(None)))
    other = SimConfig(start=FRIDAY_EVENING, duration_s=1200.0, seed=43, calls_per_hour=90.0)
    to_jsonl(base / "c.jsonl", generate(other, city=CITY))
    a, b, c = ((base / f"{n}.jsonl").read_bytes() for n in "abc")
    assert a == b
    assert len(a) > 100_000
    assert a != c


def test_a_longer_run_extends_a_shorter_one() -> None:
    short = run(duration_s=1800.0, seed=9, calls_per_hour=90.0)
    long = run(duration_s=3600.0, seed=9, calls_per_hour=90.0)
    assert long[: len(short)] == short
    assert long[len(short)].event_time >= FRIDAY_EVENING + timedelta(minutes=30)


def test_bad_records_are_added_without_changing_the_good_ones() -> None:
    clean = run(duration_s=900.0, seed=3, calls_per_hour=60.0)
    noisy = run(duration_s=900.0, seed=3, calls_per_hour=60.0, bad_share=0.05)
    good = [e for e in noisy if not _is_bad(e)]
    assert good == clean
    bad = [e for e in noisy if _is_bad(e)]
    assert 0.03 * len(clean) < len(bad) < 0.07 * len(clean)


def _is_bad(event: SimEvent) -> bool:
    try:
        record = orjson.loads(event.value)
    except orjson.JSONDecodeError:
        return True
    return "-bad-" in str(record.get("event_id", ""))


# --- every record is valid, has an id, and its event time -----------------------------------------


def test_every_event_validates_against_its_schema(hour: list[SimEvent]) -> None:
    assert len(hour) > 20_000
    seen: set[str] = set()
    for event in hour:
        verdict = decode(
            MODELS[event.topic], event.value, key=event.key.encode() if event.key else None
        )
        assert isinstance(verdict, Accepted), (event, verdict)
        record = verdict.event
        assert record.event_id is not None
        assert record.event_id not in seen
        seen.add(record.event_id)
        when = record.reported_at if isinstance(record, IncidentReported) else record.at
        assert when == event.event_time
        key = record.unit_id if isinstance(record, UnitTelemetry) else record.incident_id
        assert key == event.key
    assert {e.topic for e in hour} == set(MODELS)


def test_bad_records_are_rejected_by_intake() -> None:
    events = run(duration_s=1200.0, seed=8, calls_per_hour=60.0, bad_share=0.1)
    verdicts = Counter[str]()
    for event in events:
        verdict = decode(MODELS[event.topic], event.value)
        if _is_bad(event):
            assert isinstance(verdict, Rejected), event
            verdicts[verdict.reason.value] += 1
        else:
            assert isinstance(verdict, Accepted)
    assert set(verdicts) == {"not_json", "invalid"}


def test_event_time_never_decreases_and_stays_in_the_span(hour: list[SimEvent]) -> None:
    times = [e.event_time for e in hour]
    assert times == sorted(times)
    assert times[0] >= FRIDAY_EVENING
    assert times[-1] < FRIDAY_EVENING + timedelta(hours=1)
    assert all(t.tzinfo is not None for t in times[:10])
    assert hour[0].timestamp_ms == to_ms(hour[0].event_time)


@pytest.mark.parametrize("speed", [1.0, 4.0, 60.0, 0.0])
def test_event_time_never_overtakes_wall_time_at_the_chosen_speed(speed: float) -> None:
    wall0 = datetime(2026, 3, 1, 12, 0, 0, 500_000, tzinfo=UTC)
    duration = 1800.0
    start = default_start(duration, speed, now=wall0)
    config = SimConfig(start=start, duration_s=duration, telemetry_interval_s=60.0)
    count = 0
    for event in generate(config, city=CITY):
        elapsed = event.event_time - start
        sent_at = wall0 if speed == 0 else wall0 + elapsed / speed
        assert event.event_time <= sent_at
        count += 1
    assert count > 1000
    # And the run ends close to wall time (within the margin and a telemetry interval).
    assert start + timedelta(seconds=duration) <= (
        wall0 if speed == 0 else wall0 + timedelta(seconds=duration / speed)
    )


def test_default_start() -> None:
    now = datetime(2026, 3, 1, 12, 0, 0, 700_000, tzinfo=UTC)
    assert default_start(3600, 1, now=now) == datetime(2026, 3, 1, 11, 59, 50, tzinfo=UTC)
    assert default_start(3600, 0, now=now) == datetime(2026, 3, 1, 10, 59, 50, tzinfo=UTC)
    assert default_start(3600, 4, now=now) == datetime(2026, 3, 1, 11, 14, 50, tzinfo=UTC)
    assert default_start(3600, 0.5, now=now) == datetime(2026, 3, 1, 11, 59, 50, tzinfo=UTC)
    with pytest.raises(ValueError, match="aware"):
        default_start(60, 1, now=datetime(2026, 3, 1))


# --- calls: daily profile and category mix --------------------------------------------------------


def test_more_calls_in_the_evening_than_at_four_in_the_morning(
    day: tuple[SimConfig, list[SimEvent]],
) -> None:
    config, events = day
    stats = SimStats(config, CITY)
    for event in events:
        stats.add(event)
    by_hour = stats.calls_by_hour
    assert by_hour[20] > 3 * by_hour[4]
    assert by_hour[8] > by_hour[4]
    assert by_hour[18] > by_hour[4]
    expected = stats.expected_calls()
    assert abs(stats.calls - expected) < 4 * math.sqrt(expected)
    assert expected == pytest.approx(80.0 * 24, rel=0.01)


def test_category_mix_matches_the_configured_shares(
    day: tuple[SimConfig, list[SimEvent]],
) -> None:
    config, events = day
    stats = SimStats(config, CITY)
    for event in events:
        stats.add(event)
    n = stats.calls
    assert n > 1500
    for category, share in config.category_shares().items():
        tolerance = 4 * math.sqrt(share * (1 - share) / n) + 0.005
        assert abs(stats.category_share(category) - share) < tolerance, category
    assert sum(config.category_shares().values()) == pytest.approx(1.0)


def test_invalid_share_is_configurable() -> None:
    events = run(
        duration_s=6 * 3600.0,
        calls_per_hour=100.0,
        telemetry_interval_s=900.0,
        invalid_share=0.5,
        non_police_share=0.0,
    )
    reports = [orjson.loads(e.value) for e in events if e.topic == topics.INCIDENTS_REPORTED]
    shares = Counter(r["category"] for r in reports)
    assert shares["non_police"] == 0
    assert abs(shares["invalid"] / len(reports) - 0.5) < 0.06


def test_some_calls_are_outside_every_zone_and_carry_synthetic_personal_data(
    hour: list[SimEvent],
) -> None:
    events = run(
        duration_s=4 * 3600.0, calls_per_hour=100.0, telemetry_interval_s=900.0, outside_share=0.2
    )
    reports = [orjson.loads(e.value) for e in events if e.topic == topics.INCIDENTS_REPORTED]
    outside = [
        r for r in reports if CITY.zone_at(r["location"]["lat"], r["location"]["lon"]) is None
    ]
    assert 0.1 < len(outside) / len(reports) < 0.3
    assert all("zone_id" not in r for r in outside)
    phones = [r["caller_phone"] for r in reports if "caller_phone" in r]
    assert phones
    assert all(p.startswith("+86-000-") for p in phones)
    assert all(r["summary"].startswith("[SIMULATED] ") for r in reports if "summary" in r)


# --- statistics and config ------------------------------------------------------------------------


def test_statistics_match_the_configuration(hour: list[SimEvent]) -> None:
    config = SimConfig(start=FRIDAY_EVENING, duration_s=3600.0, calls_per_hour=60.0, seed=1)
    stats = SimStats(config, CITY)
    for event in hour:
        stats.add(event)
    assert stats.events == len(hour)
    assert stats.bad == 0
    on_duty, roster = stats.units_on_duty(), stats.roster_on_duty()
    assert on_duty is not None
    assert roster is not None
    assert roster > 50
    assert abs(on_duty - roster) <= 0.1 * roster
    lines = stats.lines()
    assert lines[0].startswith("simulated 2025-05-09 19:30:00")
    assert any(line.startswith("calls: ") for line in lines)
    assert any(line.startswith("units on duty: ") for line in lines)


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"start": datetime(2025, 5, 9, 19, 30)}, "timezone-aware"),
        ({"duration_s": 0.0}, "duration_s"),
        ({"telemetry_interval_s": -1.0}, "telemetry_interval_s"),
        ({"invalid_share": 1.2}, "invalid_share"),
        ({"invalid_share": 0.6, "non_police_share": 0.6}, "must not exceed 1"),
        ({"category_weights": {IncidentCategory.INVALID: 1.0}}, "category_weights"),
        ({"daily_profile": (1.0,) * 23}, "daily_profile"),
        ({"calls_per_hour": math.nan}, "calls_per_hour"),
    ],
)
def test_bad_configs_are_refused(overrides: dict[str, object], problem: str) -> None:
    values: dict[str, object] = {"start": FRIDAY_EVENING}
    with pytest.raises(ValueError, match=problem):
        SimConfig(**(values | overrides))  # type: ignore[arg-type]


def test_no_calls_at_all() -> None:
    events = run(duration_s=600.0, calls_per_hour=0.0, telemetry_interval_s=60.0)
    assert {e.topic for e in events} == {topics.UNITS_TELEMETRY}


# --- parsing helpers for the command line ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "speed"),
    [
        ("1", 1.0),
        ("10", 10.0),
        ("10x", 10.0),
        ("2.5X", 2.5),
        ("0", 0.0),
        ("max", 0.0),
        ("MAX", 0.0),
        (0, 0.0),
        (3, 3.0),
        (math.inf, 0.0),
    ],
)
def test_parse_speed(text: str | float, speed: float) -> None:
    assert parse_speed(text) == speed


@pytest.mark.parametrize("text", ["fast", "-1", "nan", ""])
def test_parse_speed_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="speed"):
        parse_speed(text)


def test_format_speed() -> None:
    assert format_speed(0) == "max"
    assert format_speed(10.0) == "10x"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("3600", 3600.0),
        ("90s", 90.0),
        ("30m", 1800.0),
        ("1h30m", 5400.0),
        ("2d", 172_800.0),
        ("1.5h", 5400.0),
        (120, 120.0),
    ],
)
def test_parse_duration(text: str | float, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "1y", "h", "0", "-5m", "1h 2x"])
def test_parse_duration_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_parse_start() -> None:
    assert parse_start("2025-05-09T19:30:00+08:00") == FRIDAY_EVENING
    assert parse_start("2025-05-09T19:30:00", ZoneInfo("Asia/Shanghai")) == FRIDAY_EVENING
    with pytest.raises(ValueError, match="offset"):
        parse_start("2025-05-09T19:30:00")
    with pytest.raises(ValueError, match="ISO 8601"):
        parse_start("yesterday")


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=2**31),
    offset_min=st.integers(min_value=0, max_value=7 * 24 * 60),
)
def test_any_seed_and_start_give_valid_ordered_events(seed: int, offset_min: int) -> None:
    start = datetime(2025, 1, 1, tzinfo=TZ) + timedelta(minutes=offset_min)
    config = SimConfig(
        start=start, duration_s=900.0, seed=seed, calls_per_hour=120.0, telemetry_interval_s=30.0
    )
    previous = start
    for event in generate(config, city=CITY):
        assert event.event_time >= previous
        previous = event.event_time
        assert isinstance(decode(MODELS[event.topic], event.value), Accepted)
