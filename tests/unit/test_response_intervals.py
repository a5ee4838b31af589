"""Every interval, from the lifecycle events; first arrival; corrections by late events."""

from __future__ import annotations

from datetime import datetime

from schemas.dispatch import AssignmentOutcome
from streams.response import Interval, IntervalKind
from tests.unit.test_response_support import CENTRE, T0, Run, offset, s

K = IntervalKind
SCENE = offset(CENTRE, east_m=-300)  # in pA's 1-minute circle


def by_kind(intervals: list[Interval]) -> dict[tuple[IntervalKind, str | None], Interval]:
    return {(i.kind, i.unit_id): i for i in intervals}


def secs(a: datetime, b: datetime) -> float:
    return (b - a).total_seconds()


def test_every_interval_of_a_lifecycle() -> None:
    run = Run()
    reported = T0
    assigned, ack, en_route, arrived = T0 + s(12), T0 + s(17.5), T0 + s(25), T0 + s(50)
    cleared, feedback, closed = T0 + s(900), T0 + s(1500), T0 + s(1800)
    target, _ = run.incident("i1", reported, SCENE, category="dispute")
    run.record("i1", assigned, unit="u1", eta_s=20.0)
    run.update("i1", "acknowledged", ack, "u1")
    run.update("i1", "en_route", en_route, "u1")
    run.update("i1", "arrived", arrived, "u1")
    run.update("i1", "cleared", cleared, "u1")
    run.update("i1", "feedback", feedback)
    run.update("i1", "closed", closed)
    got = by_kind(run.intervals)
    expected = {
        (K.CALL_PROCESSING, None): secs(reported, assigned),
        (K.ACKNOWLEDGEMENT, "u1"): secs(assigned, ack),
        (K.TURNOUT, "u1"): secs(assigned, en_route),
        (K.TRAVEL, "u1"): secs(en_route, arrived),
        (K.RESPONSE, "u1"): secs(reported, arrived),
        (K.ON_SCENE, "u1"): secs(arrived, cleared),
        (K.FEEDBACK, None): secs(reported, feedback),
        (K.TOTAL, None): secs(reported, closed),
    }
    assert {k: i.seconds for k, i in got.items()} == expected
    assert len(run.intervals) == len(expected)  # each reported once
    for interval in run.intervals:
        assert (interval.tier, interval.category, interval.incident_id) == (
            target.tier,
            "dispute",
            "i1",
        )
        assert not interval.inferred
        assert not interval.corrected
    assert got[(K.RESPONSE, "u1")].within_target is (secs(reported, arrived) <= target.target_s)
    assert got[(K.RESPONSE, "u1")].within_target is True


def test_intervals_are_reported_when_they_become_known() -> None:
    run = Run()
    run.incident("i1", T0, SCENE)
    run.record("i1", T0 + s(5), unit="u1")
    assert [i.kind for i in run.intervals] == [K.CALL_PROCESSING]
    run.update("i1", "en_route", T0 + s(9), "u1")  # en route implies the acknowledgement
    assert [(i.kind, i.seconds) for i in run.intervals[1:]] == [
        (K.ACKNOWLEDGEMENT, 4.0),
        (K.TURNOUT, 4.0),
    ]


def test_first_arrival_counts_even_if_that_unit_leaves() -> None:
    run = Run()
    target, _ = run.incident("i1", T0, SCENE, category="fire")
    run.record("i1", T0 + s(3), unit="u1", slot=0)
    run.record("i1", T0 + s(3), unit="u2", slot=1)
    run.update("i1", "arrived", T0 + s(40), "u1")
    # u1 is taken off this incident (a person sends it elsewhere); u2 arrives later.
    run.update("i1", "declined", T0 + s(45), "u1")
    run.update("i1", "arrived", T0 + s(80), "u2")
    run.update("i1", "cleared", T0 + s(600))
    responses = [i for i in run.intervals if i.kind is K.RESPONSE]
    assert [(i.seconds, i.unit_id) for i in responses] == [(40.0, "u1")]
    on_scene = [i for i in run.intervals if i.kind is K.ON_SCENE]
    assert [i.seconds for i in on_scene] == [secs(T0 + s(40), T0 + s(600))]
    assert responses[0].within_target is (target.target_s >= 40.0)


def test_a_late_earlier_arrival_corrects_the_response_and_is_counted() -> None:
    run = Run()
    run.incident("i1", T0, SCENE)
    run.record("i1", T0 + s(2), unit="u1")
    run.update("i1", "en_route", T0 + s(10), "u1")
    run.update("i1", "arrived", T0 + s(90), "u2")  # another unit's report first
    run.fix("u3", T0 + s(200), offset(SCENE, east_m=5000))  # event time moves on
    assert run.totals.late_events == 0
    run.update("i1", "arrived", T0 + s(70), "u1")  # delivered late: older than the watermark
    assert run.totals.late_events == 1
    responses = [i for i in run.intervals if i.kind is K.RESPONSE]
    assert [(i.seconds, i.unit_id, i.corrected) for i in responses] == [
        (90.0, "u2", False),
        (70.0, "u1", True),
    ]
    travel = [i for i in run.intervals if i.kind is K.TRAVEL]
    assert [(i.seconds, i.unit_id) for i in travel] == [(60.0, "u1")]


def test_unit_intervals_per_assignment_and_clamped_at_zero() -> None:
    run = Run()
    run.incident("i1", T0, SCENE)
    run.record("i1", T0 + s(5), unit="u1", attempt=1)
    run.record("i1", T0 + s(35), unit="u2", attempt=2)  # re-dispatch of slot 0
    run.update("i1", "acknowledged", T0 + s(38), "u2")
    run.update("i1", "acknowledged", T0 + s(39), "u1")  # the released unit still answers
    acks = {i.unit_id: i.seconds for i in run.intervals if i.kind is K.ACKNOWLEDGEMENT}
    assert acks == {"u2": 3.0, "u1": 34.0}
    run.record("i1", T0 + s(50), unit="u3", slot=1, outcome=AssignmentOutcome.MANUAL)
    run.update("i1", "en_route", T0 + s(49), "u3")  # terminal clock 1 s behind
    turnout = [i for i in run.intervals if i.kind is K.TURNOUT and i.unit_id == "u3"]
    assert [i.seconds for i in turnout] == [0.0]
