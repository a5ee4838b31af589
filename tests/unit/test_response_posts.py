"""Posts (staffed stretches, the shift-handover gap, windows) and silent units."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.alerts import AlertKind, Severity
from schemas.units import UnitStatus
from streams.city.model import City, load_city
from streams.response.posts import PostIndex, next_stretch_start, staffed_stretch
from tests.unit.test_response_support import (
    CITY,
    POST_A,
    POST_N,
    POST_W,
    T0,
    Run,
    make_city,
    offset,
    post_alert_id,
    raised,
    resolved,
    rows,
    s,
    stale_id,
)

A = AlertKind
W, C = Severity.WARNING, Severity.CRITICAL
DEMO = load_city(None)
AWAY = offset(POST_A, east_m=-1000)  # 1 km from pA, 3+ km from the other posts


def local(city: City, day: int, hh: int, mm: int = 0) -> datetime:
    """2026-05-<day> hh:mm in the city's time zone."""
    return datetime(2026, 5, day, hh, mm, tzinfo=city.timezone).astimezone(UTC)


def post_rows(run: Run, post_id: str) -> list[tuple[str, str, str, datetime, str | None]]:
    ids = {a.alert_id for a in run.alerts if a.post_id == post_id}
    return [r for r in rows(run.alerts, A.POST_UNCOVERED) if r[2] in ids or r[4] in ids]


# --- staffed stretches --------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    post_id=st.sampled_from([p for p, post in DEMO.posts.items() if post.schedule] + ["p01"]),
    minute=st.integers(0, 60 * 24 * 21),
)
def test_stretches_agree_with_post_staffed(post_id: str, minute: int) -> None:
    post = DEMO.posts[post_id]
    at = datetime(2026, 4, 28, tzinfo=UTC) + timedelta(minutes=minute, seconds=7)
    stretch = staffed_stretch(DEMO, post, at)
    assert (stretch is not None) == DEMO.post_staffed(post_id, at)
    one = timedelta(seconds=1)
    if stretch is not None:
        start, end = stretch
        if start is not None:  # a real boundary: staffed from start, not just before
            assert DEMO.post_staffed(post_id, start)
            assert not DEMO.post_staffed(post_id, start - one)
        if end is not None:
            assert DEMO.post_staffed(post_id, end - one)
            assert not DEMO.post_staffed(post_id, end)
    upcoming = next_stretch_start(DEMO, post, at)
    if upcoming is not None:
        assert upcoming > at
        assert DEMO.post_staffed(post_id, upcoming)
        assert not DEMO.post_staffed(post_id, upcoming - one)
        assert stretch is None or (stretch[1] is not None and upcoming > stretch[1])


def test_adjacent_windows_are_one_stretch_and_midnight_is_crossed() -> None:
    city = make_city([
        {"post_id": "p1", "at": POST_A, "schedule": [
            {"days": ["daily"], "start": "07:00", "end": "08:00"},
            {"days": ["daily"], "start": "08:00", "end": "09:00"}]},
        {"post_id": "p2", "at": POST_W, "schedule": [
            {"days": ["mon"], "start": "22:00", "end": "02:00"}]},
    ])  # fmt: skip
    p1, p2 = city.posts["p1"], city.posts["p2"]
    assert staffed_stretch(city, p1, local(city, 4, 8)) == (
        local(city, 4, 7),
        local(city, 4, 9),
    )
    assert staffed_stretch(city, p1, local(city, 4, 9)) is None
    assert next_stretch_start(city, p1, local(city, 4, 7, 30)) == local(city, 5, 7)
    # 2026-05-04 is a Monday: its window runs into Tuesday morning, and not again till Monday.
    assert staffed_stretch(city, p2, local(city, 5, 1)) == (
        local(city, 4, 22),
        local(city, 5, 2),
    )
    assert next_stretch_start(city, p2, local(city, 5, 1)) == local(city, 11, 22)
    assert staffed_stretch(CITY, CITY.posts["pA"], T0) == (None, None)
    assert next_stretch_start(CITY, CITY.posts["pA"], T0) is None


def test_post_index_finds_posts_within_the_radius() -> None:
    radius = 150.0
    index = PostIndex(CITY.posts.values(), CITY.plane, radius)
    assert index.within(*offset(POST_A, north_m=radius * 0.99)) == ["pA"]
    assert index.within(*offset(POST_A, east_m=-radius * 1.01)) == []
    assert index.within(*offset(POST_N, east_m=radius * 0.5)) == ["pN"]


# --- the shift-handover gap ---------------------------------------------------------------


def handover(arrives_after: float, *, live_ticks: bool) -> tuple[Run, datetime]:
    """Unit a1 staffs pA from T0, reporting every 30 s, and leaves at the handover H;
    its relief a2 comes ``arrives_after`` seconds after H. Returns the run and H."""
    run = Run()
    at = T0
    while at < T0 + s(600):
        run.fix("a1", at, POST_A)
        at += s(30)
    leave = at
    run.fix("a1", leave, AWAY, speed=11.0)  # leaves with the shift change
    relief = leave + s(arrives_after)
    t = leave
    while live_ticks and t < relief:
        t += s(1)
        run.tick(t)
    run.fix("a2", relief, POST_A)
    run.tick(relief + s(60))  # (a2 keeps reporting; its fix stays fresh meanwhile)
    return run, leave


@pytest.mark.parametrize("live_ticks", [False, True])
def test_a_post_left_empty_across_a_shift_change(live_ticks: bool) -> None:
    grace = Run().config.post_grace_s
    late_by = 35.0
    run, leave = handover(grace + late_by, live_ticks=live_ticks)
    aid = post_alert_id("pA", leave)
    assert post_rows(run, "pA") == [
        raised(A.POST_UNCOVERED, W, leave + s(grace), aid),
        resolved(W, leave + s(grace + late_by), aid, post_id="pA"),
    ]
    alert = next(a for a in run.alerts if a.alert_id == aid)
    assert (alert.post_id, alert.zone_id, alert.region_id, alert.elapsed_s, alert.target_s) == (
        "pA",
        "zA",
        "r1",
        grace,
        None,
    )


@pytest.mark.parametrize("live_ticks", [False, True])
def test_a_relief_within_the_grace_raises_nothing(live_ticks: bool) -> None:
    grace = Run().config.post_grace_s
    run, _ = handover(grace - 30, live_ticks=live_ticks)
    assert post_rows(run, "pA") == []
    run, _ = handover(grace, live_ticks=live_ticks)  # exactly the grace: still in time
    assert post_rows(run, "pA") == []


def test_a_silent_unit_stops_covering_its_post_and_the_gap_escalates() -> None:
    run = Run()
    config = run.config
    run.fix("a1", T0, POST_A)
    last = T0 + s(60)
    run.fix("a1", last, POST_A)
    gone = last + s(config.telemetry_stale_s)  # its fix is stale: the post is uncovered
    run.tick(gone + s(2 * config.post_grace_s) + s(10))
    back = gone + s(2 * config.post_grace_s) + s(7)
    run.fix("a1", back, POST_A)
    aid = post_alert_id("pA", gone)
    assert post_rows(run, "pA") == [
        raised(A.POST_UNCOVERED, W, gone + s(config.post_grace_s), aid),
        raised(A.POST_UNCOVERED, C, gone + s(2 * config.post_grace_s), aid),
        resolved(C, back, aid, post_id="pA"),
    ]


def test_a_late_fix_whose_cover_ended_when_the_gap_began_raises_nothing_twice() -> None:
    """Two units at the post with fixes of the same instant, the second read late: its cover
    ends exactly when the gap began, so the gap and its alert stand (found replaying a crash
    run's region events: the alert was resolved and then raised again under the same id)."""
    run = Run()
    config = run.config
    last = T0 + s(60)
    run.fix("a1", T0, POST_A)
    run.fix("a1", last, POST_A)
    gone = last + s(config.telemetry_stale_s)
    run.tick(gone + s(2 * config.post_grace_s) + s(10))
    run.fix("a2", last, POST_A)  # late, same instant as a1's last fix
    run.tick(gone + s(2 * config.post_grace_s) + s(20))
    aid = post_alert_id("pA", gone)
    assert post_rows(run, "pA") == [
        raised(A.POST_UNCOVERED, W, gone + s(config.post_grace_s), aid),
        raised(A.POST_UNCOVERED, C, gone + s(2 * config.post_grace_s), aid),
    ]


def test_an_off_duty_unit_at_the_post_does_not_cover_it() -> None:
    run = Run()
    run.fix("a1", T0, POST_A)
    off = T0 + s(10)
    run.fix("a1", off, POST_A, status=UnitStatus.OFF_DUTY)
    run.tick(off + s(run.config.post_grace_s) + s(6))
    assert post_rows(run, "pA") == [
        raised(A.POST_UNCOVERED, W, off + s(run.config.post_grace_s), post_alert_id("pA", off))
    ]


# --- staffed windows ----------------------------------------------------------------------


def test_a_windowed_post_is_judged_only_inside_its_window() -> None:
    run = Run()
    grace = run.config.post_grace_s
    run.fix("x1", T0, AWAY)  # the region's first event: pW is unstaffed until 07:00
    day1, day2 = local(CITY, 4, 7), local(CITY, 5, 7)
    assert day1 > T0
    run.tick(local(CITY, 5, 12))
    assert post_rows(run, "pW") == [
        raised(A.POST_UNCOVERED, W, day1 + s(grace), post_alert_id("pW", day1)),
        raised(A.POST_UNCOVERED, C, day1 + s(2 * grace), post_alert_id("pW", day1)),
        resolved(C, local(CITY, 4, 8), post_alert_id("pW", day1), post_id="pW"),
        raised(A.POST_UNCOVERED, W, day2 + s(grace), post_alert_id("pW", day2)),
        raised(A.POST_UNCOVERED, C, day2 + s(2 * grace), post_alert_id("pW", day2)),
        resolved(C, local(CITY, 5, 8), post_alert_id("pW", day2), post_id="pW"),
    ]
    # The night post pN (22:00-02:00) was judged in its window too, across midnight.
    night = local(CITY, 4, 22)
    assert post_rows(run, "pN")[0] == raised(
        A.POST_UNCOVERED, W, night + s(grace), post_alert_id("pN", night)
    )
    assert post_rows(run, "pN")[2] == resolved(
        C, local(CITY, 5, 2), post_alert_id("pN", night), post_id="pN"
    )


def test_a_late_fix_that_covered_a_windowed_post_before_its_window_changes_nothing() -> None:
    """pW (07:00-08:00) stood empty into its window; a fix read late shows a unit there
    before 07:00 only: the gap judged from 07:00 and its alert stand, raised once."""
    run = Run()
    grace = run.config.post_grace_s
    run.fix("x1", T0, AWAY)
    day1 = local(CITY, 4, 7)
    run.tick(day1 + s(2 * grace) + s(30))
    before = day1 - s(run.config.telemetry_stale_s) - s(30)
    run.fix("w1", before, POST_W)  # late: its cover ends 30 s before the window opens
    run.tick(day1 + s(2 * grace) + s(60))
    aid = post_alert_id("pW", day1)
    assert post_rows(run, "pW") == [
        raised(A.POST_UNCOVERED, W, day1 + s(grace), aid),
        raised(A.POST_UNCOVERED, C, day1 + s(2 * grace), aid),
    ]


def test_a_windowed_post_staffed_in_time_raises_nothing() -> None:
    run = Run()
    run.fix("w1", T0, AWAY)
    opens = local(CITY, 4, 7)
    run.fix("w1", opens + s(run.config.post_grace_s - 1), POST_W)
    for minute in range(1, 60):
        run.fix("w1", opens + s(60 * minute + 30), POST_W)
    run.fix("w1", local(CITY, 4, 8), AWAY, speed=10.0)  # leaves as the window closes
    run.tick(local(CITY, 4, 12))
    assert post_rows(run, "pW") == []


def test_post_coverage_counts_fresh_units_at_staffed_posts() -> None:
    run = Run()
    at = local(CITY, 4, 7, 10)
    run.fix("a1", at, POST_A)
    run.fix("w1", at, POST_W)
    run.fix("n1", at, POST_N)  # pN is not staffed at 07:10
    assert run.engine.post_coverage(at) == (2, 2)
    later = at + s(run.config.telemetry_stale_s)
    assert run.engine.post_coverage(later) == (0, 2)


# --- silent units -------------------------------------------------------------------------


def test_telemetry_stale_raised_escalated_and_resolved_when_the_unit_reports() -> None:
    run = Run()
    limit = run.config.telemetry_stale_s
    last = T0 + s(3)
    run.fix("u1", last, AWAY)
    run.tick(last + s(limit) + s(5))  # watermark exactly at the limit: not yet
    assert rows(run.alerts, A.TELEMETRY_STALE) == []
    run.tick(last + s(2 * limit) + s(6))
    back = last + s(2 * limit) + s(40)
    run.fix("u1", back, AWAY)
    sid = stale_id("u1", last)
    assert rows(run.alerts, A.TELEMETRY_STALE) == [
        raised(A.TELEMETRY_STALE, W, last + s(limit), sid),
        raised(A.TELEMETRY_STALE, C, last + s(2 * limit), sid),
        resolved(C, back, sid, unit_id="u1"),
    ]
    alert = next(a for a in run.alerts if a.alert_id == sid)
    assert (alert.unit_id, alert.zone_id, alert.elapsed_s, alert.incident_id) == (
        "u1",
        "zA",
        limit,
        None,
    )


def test_telemetry_stale_without_ticks_and_never_for_units_off_duty() -> None:
    run = Run()
    limit = run.config.telemetry_stale_s
    run.fix("u1", T0, AWAY)
    run.fix("u2", T0, AWAY, status=UnitStatus.OFF_DUTY)
    back = T0 + s(limit + 1)
    out = run.fix("u1", back, AWAY)  # the watermark has not passed the limit yet
    sid = stale_id("u1", T0)
    assert rows(out, A.TELEMETRY_STALE) == [
        raised(A.TELEMETRY_STALE, W, T0 + s(limit), sid),
        resolved(W, back, sid, unit_id="u1"),
    ]
    run.fix("u1", back + s(1), AWAY, status=UnitStatus.OUT_OF_SERVICE)
    run.tick(back + s(10 * limit))
    assert [a.unit_id for a in run.alerts if a.kind is A.TELEMETRY_STALE] == ["u1"]
