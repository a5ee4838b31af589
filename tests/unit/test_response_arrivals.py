"""Arrival from GPS (inferred, marked) and reported arrivals far from GPS (flagged, kept)."""

from __future__ import annotations

from schemas.alerts import AlertKind, Severity, alert_id_for
from streams.city.geo import distance_m
from tests.unit.test_response_support import (
    CENTRE,
    T0,
    Run,
    breach_id,
    offset,
    raised,
    resolved,
    rows,
    s,
)

A = AlertKind
SCENE = offset(CENTRE, east_m=-300)


def response_intervals(run: Run) -> list[tuple[float, str | None, bool]]:
    return [(i.seconds, i.unit_id, i.inferred) for i in run.intervals if i.kind.value == "response"]


def test_an_assigned_unit_stopped_at_the_scene_has_arrived() -> None:
    run = Run()
    config = run.config
    target, _ = run.incident("i1", T0, SCENE)
    assigned = T0 + s(2)
    run.record("i1", assigned, unit="u1")
    near = offset(SCENE, north_m=config.arrival_radius_m * 0.6)
    moving = config.arrival_max_speed_mps + 5
    run.fix("u1", T0 + s(20), near, speed=moving)  # passing by: not an arrival
    run.fix("u2", T0 + s(21), SCENE, speed=0.0)  # not assigned: not an arrival
    far = offset(SCENE, north_m=config.arrival_radius_m * 1.5)
    run.fix("u1", T0 + s(25), far, speed=0.0)  # stopped, but too far
    assert response_intervals(run) == []
    stopped = T0 + s(40)
    run.fix("u1", stopped, near, speed=config.arrival_max_speed_mps)
    assert response_intervals(run) == [((stopped - T0).total_seconds(), "u1", True)]
    assert run.totals.inferred_arrivals == 1
    arrival = run.engine.incidents["i1"].arrivals["u1"]
    assert (arrival.inferred_at, arrival.reported_at) == (stopped, None)
    # In time for the target: no breach. The unit never acknowledged, so the acknowledgement
    # was overdue until GPS put it on scene.
    run.tick(T0 + s(10 * target.target_s))
    assert rows(run.alerts, A.RESPONSE_BREACH) == []
    aid = alert_id_for(A.ACK_OVERDUE, incident_id="i1", unit_id="u1", instance="0:1")
    ack_deadline = assigned + s(config.ack_overdue_s)
    assert ack_deadline < stopped
    assert rows(run.alerts, A.ACK_OVERDUE) == [
        raised(A.ACK_OVERDUE, Severity.WARNING, ack_deadline, aid),
        resolved(Severity.WARNING, stopped, aid, incident_id="i1", unit_id="u1"),
    ]
    # A later report by the unit is kept beside the inference; it changes nothing counted.
    reported = stopped + s(30)
    run.update("i1", "arrived", reported, "u1")
    arrival = run.engine.incidents["i1"].arrivals["u1"]
    assert (arrival.inferred_at, arrival.reported_at) == (stopped, reported)
    assert response_intervals(run) == [((stopped - T0).total_seconds(), "u1", True)]


def test_inferred_arrival_after_the_deadline_resolves_the_breach() -> None:
    run = Run()
    target, _ = run.incident("i1", T0, SCENE)
    run.record("i1", T0 + s(2), unit="u1")
    run.update("i1", "acknowledged", T0 + s(3), "u1")
    arrived = T0 + s(target.target_s + 25)
    run.fix("u1", arrived, SCENE, speed=0.0)
    bid = breach_id("i1")
    assert rows(run.alerts, A.RESPONSE_BREACH) == [
        raised(A.RESPONSE_BREACH, Severity.WARNING, T0 + s(target.target_s), bid),
        resolved(Severity.WARNING, arrived, bid, incident_id="i1"),
    ]


def test_without_a_speed_the_last_two_fixes_decide() -> None:
    run = Run()
    limit = run.config.arrival_max_speed_mps
    run.incident("i1", T0, SCENE)
    run.record("i1", T0 + s(1), unit="u1")
    a = offset(SCENE, east_m=30)
    b = offset(SCENE, east_m=-30)
    run.fix("u1", T0 + s(10), a, speed=None)  # first fix of the unit: no speed known
    assert response_intervals(run) == [(10.0, "u1", True)]  # treated as stopped

    run.incident("i2", T0, SCENE)
    run.record("i2", T0 + s(20), unit="u3")
    run.fix("u3", T0 + s(20), offset(SCENE, east_m=-2000), speed=None)  # far away
    dt = 10.0
    assert distance_m(*a, *b) / dt > limit
    run.fix("u3", T0 + s(30), a, speed=None)  # within the radius, 2 km in 10 s: moving
    run.fix("u3", T0 + s(30 + dt), b, speed=None)  # 60 m in 10 s: still moving
    assert [r for r in response_intervals(run) if r[1] == "u3"] == []
    c = offset(b, east_m=limit * dt * 0.5)
    run.fix("u3", T0 + s(30 + 2 * dt), c, speed=None)
    assert [r for r in response_intervals(run) if r[1] == "u3"] == [(50.0, "u3", True)]


def test_a_reported_arrival_far_from_gps_is_flagged_and_both_are_kept() -> None:
    run = Run()
    config = run.config
    run.incident("i1", T0, SCENE)
    run.record("i1", T0 + s(1), unit="u1")
    away = offset(SCENE, north_m=config.arrival_mismatch_m * 3)
    run.fix("u1", T0 + s(20), away, speed=12.0)
    reported = T0 + s(30)
    out = run.update("i1", "arrived", reported, "u1")
    watch = run.engine.incidents["i1"]
    arrival = watch.arrivals["u1"]
    assert arrival.mismatch is True
    assert arrival.reported_fix_m == round(distance_m(*away, *SCENE), 1)
    assert run.totals.arrival_mismatches == 1
    mid = alert_id_for("arrival_mismatch", incident_id="i1", unit_id="u1")
    assert rows(out, A.ARRIVAL_MISMATCH) == [
        raised(A.ARRIVAL_MISMATCH, Severity.WARNING, reported, mid)
    ]
    # The person's report counts (never overwritten), flagged as a mismatch.
    response = [i for i in run.intervals if i.kind.value == "response"]
    assert [(i.seconds, i.inferred, i.arrival_mismatch) for i in response] == [(30.0, False, True)]
    # GPS then shows the unit arriving: recorded beside the report, which stays first.
    gps = T0 + s(200)
    run.fix("u1", gps, SCENE, speed=0.0)
    arrival = run.engine.incidents["i1"].arrivals["u1"]
    assert (arrival.reported_at, arrival.inferred_at, arrival.mismatch) == (reported, gps, True)
    assert watch.first_arrival_at == reported
    assert run.totals.inferred_arrivals == 1


def test_a_close_report_or_one_without_fresh_gps_is_not_flagged() -> None:
    run = Run()
    config = run.config
    run.incident("i1", T0, SCENE)
    run.record("i1", T0 + s(1), unit="u1", slot=0)
    run.record("i1", T0 + s(1), unit="u2", slot=1)
    run.fix("u1", T0 + s(10), offset(SCENE, north_m=config.arrival_mismatch_m * 0.9), speed=9.0)
    run.fix("u2", T0 + s(10), offset(SCENE, north_m=config.arrival_mismatch_m * 4), speed=9.0)
    silent = T0 + s(10 + config.telemetry_stale_s + 1)
    run.update("i1", "arrived", T0 + s(20), "u1")
    run.update("i1", "arrived", silent, "u2")  # its last fix is stale: nothing to judge by
    arrivals = run.engine.incidents["i1"].arrivals
    assert (arrivals["u1"].mismatch, arrivals["u2"].mismatch) == (False, False)
    assert arrivals["u2"].reported_fix_m is None
    assert run.totals.arrival_mismatches == 0
