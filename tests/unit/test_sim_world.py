"""The simulated world: the roster and its shifts, handovers at fixed posts, movement at force
speeds, volunteers with community officers, and the units' side of incident lifecycles."""

from __future__ import annotations

import bisect
import itertools
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
import pytest

from schemas import topics
from schemas.units import Force
from streams.city import distance_m, load_city
from streams.dispatch.policy import NEVER_DISPATCHED, default_policy
from streams.sim.generator import SimConfig, generate
from streams.sim.model import build_roster

CITY = load_city(None)
TZ = CITY.timezone
POLICY = default_policy()


@dataclass(frozen=True)
class Fix:
    ms: int
    lat: float
    lon: float
    status: str
    post_id: str | None
    speed: float
    force: str


@dataclass
class Run:
    config: SimConfig
    fixes: dict[str, list[Fix]]
    reports: dict[str, dict[str, Any]]
    #: incident_id -> its updates in order, as (ms, record)
    updates: dict[str, list[tuple[int, dict[str, Any]]]]
    order: list[tuple[str, str]]


def simulate(**overrides: Any) -> Run:
    values: dict[str, Any] = {"start": datetime(2025, 5, 9, 19, 0, tzinfo=TZ), "duration_s": 7200.0}
    config = SimConfig(**(values | overrides))
    fixes: dict[str, list[Fix]] = defaultdict(list)
    reports: dict[str, dict[str, Any]] = {}
    updates: dict[str, list[tuple[int, dict[str, Any]]]] = defaultdict(list)
    order: list[tuple[str, str]] = []
    for event in generate(config, city=CITY):
        record = orjson.loads(event.value)
        ms = event.timestamp_ms
        if event.topic == topics.UNITS_TELEMETRY:
            fixes[record["unit_id"]].append(
                Fix(
                    ms,
                    record["location"]["lat"],
                    record["location"]["lon"],
                    record["status"],
                    record.get("post_id"),
                    record["speed_mps"],
                    record["force"],
                )
            )
        elif event.topic == topics.INCIDENTS_REPORTED:
            reports[record["incident_id"]] = record
            order.append((record["incident_id"], "reported"))
        else:
            updates[record["incident_id"]].append((ms, record))
            order.append((record["incident_id"], record["kind"]))
    return Run(config, dict(fixes), reports, dict(updates), order)


@pytest.fixture(scope="module")
def evening() -> Run:
    """Two busy hours of a Friday evening."""
    return simulate(calls_per_hour=90.0, seed=21)


def local_ms(day: int, hour: int, minute: int = 0) -> int:
    at = datetime(2025, 5, day, hour, minute, tzinfo=TZ)
    return round(at.timestamp() * 1000)


# --- the roster -----------------------------------------------------------------------------------


def test_every_force_is_on_the_roster_in_both_regions() -> None:
    units = build_roster(CITY, POLICY, seed=1)
    forces = Counter(u.force for u in units)
    assert set(forces) == set(Force)
    assert {u.region_id for u in units} == set(CITY.regions)
    assert len({u.unit_id for u in units}) == len(units)
    post_crews = Counter(u.post.post_id for u in units if u.post is not None)
    assert set(post_crews) == set(CITY.posts)
    for post in CITY.posts.values():
        assert post_crews[post.post_id] == (3 if post.schedule is None else 1)
    for unit in units:
        assert unit.speed_mps == POLICY.speed_mps[unit.force]
        assert unit.patrol_mps <= unit.speed_mps


def test_units_are_off_duty_outside_their_shifts() -> None:
    run = simulate(
        start=datetime(2025, 5, 12, 6, 0, tzinfo=TZ),
        duration_s=4 * 3600.0,
        calls_per_hour=0.0,
        telemetry_interval_s=60.0,
    )
    day_crew = run.fixes["u-station-z05-d"]
    night_crew = run.fixes["u-station-z05-n"]
    volunteer = run.fixes["u-volunteer-z05-1"]  # a Monday: evenings only
    eight = local_ms(12, 8)
    assert {f.status for f in day_crew if f.ms < eight - 60_000} == {"off_duty"}
    assert "off_duty" not in {f.status for f in day_crew if f.ms > eight + 60_000}
    assert "off_duty" not in {f.status for f in night_crew if f.ms < eight - 60_000}
    assert {f.status for f in night_crew if f.ms > eight + 30 * 60_000} == {"off_duty"}
    assert {f.status for f in volunteer} == {"off_duty"}
    assert run.fixes["u-fire-z01"][0].status == "available"


# --- handovers at fixed posts ---------------------------------------------------------------------


def handover_gaps(run: Run, hour_ms: int) -> dict[str, float]:
    """Posts whose coverage (some unit reporting the post) lapses at the handover, in minutes."""
    interval = run.config.telemetry_interval_s * 1000
    at_post: dict[str, list[int]] = defaultdict(list)
    for fixes in run.fixes.values():
        for fix in fixes:
            if fix.post_id is not None:
                at_post[fix.post_id].append(fix.ms)
    gaps: dict[str, float] = {}
    for post_id, times in at_post.items():
        times.sort()
        for before, after in itertools.pairwise(times):
            if after - before > 2 * interval and hour_ms - interval <= before <= hour_ms + 60_000:
                gaps[post_id] = (after - before) / 60_000
    return gaps


def test_late_handovers_leave_posts_uncovered_for_a_while() -> None:
    config: dict[str, Any] = {
        "start": datetime(2025, 5, 12, 7, 0, tzinfo=TZ),
        "duration_s": 7200.0,
        "calls_per_hour": 0.0,
    }
    late = simulate(**config, late_handover_share=0.5, seed=4)
    gaps = handover_gaps(late, local_ms(12, 8))
    round_the_clock = [p for p in CITY.posts.values() if p.schedule is None]
    assert 3 <= len(gaps) <= len(round_the_clock) - 3
    assert all(2 <= minutes <= 14 for minutes in gaps.values())
    on_time = simulate(**config, late_handover_share=0.0, seed=4)
    assert handover_gaps(on_time, local_ms(12, 8)) == {}


def test_the_outgoing_crew_leaves_at_the_end_of_its_shift() -> None:
    run = simulate(
        start=datetime(2025, 5, 12, 7, 30, tzinfo=TZ), duration_s=3600.0, calls_per_hour=0.0
    )
    eight = local_ms(12, 8)
    outgoing = [f for f in run.fixes["u-swat-p03-a"] if f.post_id == "p03"]
    incoming = [f for f in run.fixes["u-swat-p03-b"] if f.post_id == "p03"]
    assert outgoing
    assert max(f.ms for f in outgoing) < eight
    assert run.fixes["u-swat-p03-a"][-1].status == "off_duty"
    assert incoming


# --- movement -------------------------------------------------------------------------------------


def test_units_move_at_their_force_speed(evening: Run) -> None:
    ratios: dict[str, list[float]] = defaultdict(list)
    for fixes in evening.fixes.values():
        for a, b in itertools.pairwise(fixes):
            moving = a.speed > 0 and b.speed > 0 and b.ms > a.ms
            if moving and a.status == b.status and a.status in ("en_route", "returning"):
                speed = POLICY.speed_mps[Force(a.force)]
                assert a.speed == pytest.approx(speed, abs=0.01)
                metres = distance_m(a.lat, a.lon, b.lat, b.lon)
                ratios[a.force].append(metres / ((b.ms - a.ms) / 1000) / speed)
    assert {"station", "community", "traffic"} <= set(ratios)
    for force, values in ratios.items():
        assert max(values) < 1.02, force  # never faster (straight-line between fixes)
        assert statistics.median(values) > 0.97, force  # along a street: the full speed
        assert min(values) > 0.69, force  # at most a right-angle corner in between


def test_patrols_are_slower_than_responses(evening: Run) -> None:
    for fixes in evening.fixes.values():
        for fix in fixes:
            if fix.status == "available":
                assert fix.speed <= POLICY.speed_mps[Force(fix.force)] + 0.01


def test_volunteers_walk_with_community_officers() -> None:
    evening = simulate(seed=21)  # the default call rate: officers are not always at a call
    together = alone = 0
    for zone_id in ("z02", "z05", "z08"):
        volunteer = [f for f in evening.fixes[f"u-volunteer-{zone_id}-1"] if f.status != "off_duty"]
        officer = sorted(evening.fixes[f"u-community-{zone_id}-b"], key=lambda f: f.ms)
        times = [f.ms for f in officer]
        for fix in volunteer:
            assert fix.speed <= 1.41
            i = bisect.bisect_left(times, fix.ms)
            near = [officer[j] for j in (i - 1, i) if 0 <= j < len(officer)]
            if any(
                abs(o.ms - fix.ms) <= 10_000 and distance_m(o.lat, o.lon, fix.lat, fix.lon) < 20
                for o in near
            ):
                together += 1
            else:
                alone += 1
    assert together > alone  # the rest: waiting while the officer is at a call


# --- the units' side of an incident ---------------------------------------------------------------

LIFECYCLE = ("dispatched", "acknowledged", "en_route", "arrived")


def test_updates_follow_their_report_and_the_lifecycle_order(evening: Run) -> None:
    seen: set[str] = set()
    for incident_id, kind in evening.order:
        if kind == "reported":
            seen.add(incident_id)
        else:
            assert incident_id in seen
    for incident_id, updates in evening.updates.items():
        report = evening.reports[incident_id]
        kinds = [u["kind"] for _, u in updates]
        if report["category"] in {c.value for c in NEVER_DISPATCHED}:
            assert kinds == ["closed"]
            continue
        by_unit: dict[str, list[str]] = defaultdict(list)
        for _, u in updates:
            if "unit_id" in u and u["kind"] in LIFECYCLE:
                by_unit[u["unit_id"]].append(u["kind"])
        for unit_kinds in by_unit.values():
            assert unit_kinds == sorted(unit_kinds, key=LIFECYCLE.index)
        assert kinds.count("cleared") <= 1
        assert kinds.count("closed") + kinds.count("cancelled") <= 1
        for end in ("closed", "cancelled"):
            if end in kinds:
                after = kinds[kinds.index(end) + 1 :]
                assert all(k.startswith("case_") for k in after), kinds


def test_units_sometimes_decline_skip_acknowledging_or_forget_to_report_arrival() -> None:
    run = simulate(
        calls_per_hour=200.0,
        duration_s=4 * 3600.0,
        telemetry_interval_s=10.0,
        decline_share=0.1,
        skip_ack_share=0.1,
        forget_arrival_share=0.2,
        seed=2,
    )
    kinds = Counter(u["kind"] for updates in run.updates.values() for _, u in updates)
    assert kinds["declined"] > 5
    assert kinds["en_route"] > kinds["acknowledged"]  # some departed without acknowledging
    forgotten = 0
    for incident_id, updates in run.updates.items():
        report = run.reports[incident_id]
        departed = {u["unit_id"]: ms for ms, u in updates if u["kind"] == "en_route"}
        arrived = {u["unit_id"] for _, u in updates if u["kind"] == "arrived"}
        cleared = [ms for ms, u in updates if u["kind"] == "cleared"]
        for unit_id in departed.keys() - arrived:
            if not cleared:
                continue
            # Either it turned back (the incident was cleared before it got there) or it forgot
            # to report arrival: then its telemetry still stops at the scene, status en_route.
            loc = report["location"]
            stopped = [
                f
                for f in run.fixes[unit_id]
                if departed[unit_id] <= f.ms < cleared[0]
                and f.speed == 0
                and distance_m(f.lat, f.lon, loc["lat"], loc["lon"]) < 5
            ]
            if stopped:
                assert {f.status for f in stopped} == {"en_route"}
                forgotten += 1
    assert forgotten > 5


def test_the_expected_unit_is_of_a_run_card_force(evening: Run) -> None:
    units = {u.unit_id: u for u in build_roster(CITY, POLICY, seed=0)}
    for incident_id, updates in evening.updates.items():
        report = evening.reports[incident_id]
        forces = POLICY.capabilities[report["category"]]
        for _, update in updates:
            if "unit_id" in update:
                unit = units[update["unit_id"]]
                assert unit.force in forces
                assert unit.force is not Force.VOLUNTEER
                assert (
                    unit.region_id
                    == CITY.region_of_point(report["location"]["lat"], report["location"]["lon"])[0]
                )


def test_calls_outside_every_zone_are_assigned_by_a_person() -> None:
    run = simulate(calls_per_hour=120.0, outside_share=0.3, telemetry_interval_s=120.0, seed=9)
    outside = [
        i
        for i, r in run.reports.items()
        if CITY.zone_at(r["location"]["lat"], r["location"]["lon"]) is None
        and r["category"] not in {c.value for c in NEVER_DISPATCHED}
    ]
    assert len(outside) > 5
    for incident_id in outside:
        kinds = [u["kind"] for _, u in run.updates.get(incident_id, [])]
        if "acknowledged" in kinds or "declined" in kinds:
            assert kinds[0] == "dispatched"


def test_manual_dispatch_share_names_every_unit() -> None:
    run = simulate(calls_per_hour=60.0, manual_dispatch_share=1.0, telemetry_interval_s=120.0)
    for updates in run.updates.values():
        named = [u for _, u in updates if u["kind"] in ("acknowledged", "declined", "en_route")]
        dispatched = {u["unit_id"] for _, u in updates if u["kind"] == "dispatched"}
        assert {u["unit_id"] for u in named} <= dispatched


def test_invalid_and_non_police_calls_are_closed_quickly_without_units(evening: Run) -> None:
    quick = 0
    for incident_id, report in evening.reports.items():
        if report["category"] not in ("invalid", "non_police"):
            continue
        updates = evening.updates.get(incident_id, [])
        assert all("unit_id" not in u for _, u in updates)
        reported = datetime.fromisoformat(report["reported_at"])
        for ms, update in updates:
            assert update["kind"] == "closed"
            assert ms - reported.timestamp() * 1000 <= 300_000
            quick += 1
    assert quick > 20


def test_cases_are_filed_and_solved_later() -> None:
    run = simulate(
        start=datetime(2025, 5, 1, 0, 0, tzinfo=TZ),
        duration_s=3 * 86_400.0,
        calls_per_hour=30.0,
        telemetry_interval_s=1800.0,
        off_duty_interval_s=7200.0,
        case_time_scale=0.05,
        seed=6,
    )
    filed: dict[str, tuple[int, str, str]] = {}
    solved = 0
    for incident_id, updates in run.updates.items():
        category = run.reports[incident_id]["category"]
        for ms, update in updates:
            if update["kind"] == "case_filed":
                assert update["case_id"] not in filed
                expected = {"criminal": "criminal", "public_order": "administrative"}[category]
                assert update["case_type"] == expected
                filed[update["case_id"]] = (ms, incident_id, update["case_type"])
            elif update["kind"] == "case_solved":
                filed_ms, filed_incident, case_type = filed[update["case_id"]]
                assert ms > filed_ms
                assert incident_id == filed_incident
                assert case_type == update["case_type"] == "criminal"
                solved += 1
    types = Counter(t for _, _, t in filed.values())
    assert types["criminal"] > 5
    assert types["administrative"] > 5
    assert 0 < solved < types["criminal"]


def test_case_lags_are_days_to_weeks_unscaled() -> None:
    run = simulate(
        start=datetime(2025, 5, 1, 0, 0, tzinfo=TZ),
        duration_s=3 * 86_400.0,
        calls_per_hour=30.0,
        telemetry_interval_s=3600.0,
        off_duty_interval_s=7200.0,
        seed=6,
    )
    lags = []
    for incident_id, updates in run.updates.items():
        reported = datetime.fromisoformat(run.reports[incident_id]["reported_at"])
        for _, update in updates:
            if update["kind"] == "case_filed":
                lags.append(datetime.fromisoformat(update["at"]) - reported)
    assert lags
    assert statistics.median(lags) > timedelta(hours=8)
    assert not any(u["kind"] == "case_solved" for ups in run.updates.values() for _, u in ups)


def test_no_free_unit_stands_still_for_long_away_from_its_post() -> None:
    run = simulate(
        start=datetime(2025, 5, 10, 0, 0, tzinfo=TZ),
        duration_s=86_400.0,
        calls_per_hour=60.0,
        telemetry_interval_s=60.0,
        seed=12,
    )
    longest = 0
    for unit_id, fixes in run.fixes.items():
        if unit_id.startswith(("u-volunteer", "u-fire")):
            continue  # volunteers wait for their officer; engines wait at their station
        since: Fix | None = None
        for fix in fixes:
            if fix.status != "available" or fix.post_id is not None:
                since = None
            elif since is None or (since.lat, since.lon) != (fix.lat, fix.lon):
                since = fix
            else:
                longest = max(longest, fix.ms - since.ms)
    assert 0 < longest <= 11 * 60_000  # the longest patrol stop is 10 minutes
