"""Incident alerts: raised once, at the right event time, escalated, resolved; across restore."""

from __future__ import annotations

from datetime import timedelta

import pytest

from schemas.alerts import AlertKind, Severity, alert_id_for
from schemas.dispatch import AssignmentOutcome
from streams.response import ResponseConfig
from tests.unit.test_response_support import (
    CENTRE,
    LATENESS,
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
W, C, INFO = Severity.WARNING, Severity.CRITICAL, Severity.INFO
SCENE = offset(CENTRE, east_m=-300)  # 1-minute circle of pA


def test_breach_fires_on_the_clock_alone_escalates_and_a_late_arrival_resolves_it() -> None:
    run = Run()
    target, _ = run.incident("i1", T0, SCENE)
    deadline = T0 + s(target.target_s)
    bid = breach_id("i1")
    # Live ticks, no other input. The watermark trails the wall clock by the lateness.
    assert rows(run.tick(deadline + LATENESS), A.RESPONSE_BREACH) == []  # watermark = deadline
    fired = run.tick(deadline + LATENESS + s(1))
    assert rows(fired, A.RESPONSE_BREACH) == [raised(A.RESPONSE_BREACH, W, deadline, bid)]
    alert = next(a for a in fired if a.kind is A.RESPONSE_BREACH)
    assert (alert.target_s, alert.elapsed_s, alert.incident_id, alert.zone_id) == (
        target.target_s,
        float(target.target_s),
        "i1",
        "zA",
    )
    assert alert.region_id == "r1"
    assert rows(run.tick(deadline + s(30)), A.RESPONSE_BREACH) == []  # raised once
    critical_at = T0 + s(2 * target.target_s)
    assert rows(run.tick(critical_at + s(10)), A.RESPONSE_BREACH) == [
        raised(A.RESPONSE_BREACH, C, critical_at, bid)
    ]
    late = critical_at + s(17)
    assert rows(run.update("i1", "arrived", late, "u1"), A.RESPONSE_BREACH) == [
        resolved(C, late, bid, incident_id="i1")
    ]
    assert rows(run.alerts, A.RESPONSE_BREACH) == [
        raised(A.RESPONSE_BREACH, W, deadline, bid),
        raised(A.RESPONSE_BREACH, C, critical_at, bid),
        resolved(C, late, bid, incident_id="i1"),
    ]


def test_an_arrival_after_the_deadline_raises_the_breach_even_before_the_clock_does() -> None:
    run = Run()
    target, _ = run.incident("i1", T0, SCENE)
    deadline = T0 + s(target.target_s)
    arrival = deadline + s(2)  # the watermark (arrival - lateness) is still before the deadline
    out = run.update("i1", "arrived", arrival, "u1")
    assert rows(out, A.RESPONSE_BREACH) == [
        raised(A.RESPONSE_BREACH, W, deadline, breach_id("i1")),
        resolved(W, arrival, breach_id("i1"), incident_id="i1"),
    ]


def test_an_arrival_exactly_at_the_target_is_in_time() -> None:
    run = Run()
    target, _ = run.incident("i1", T0, SCENE)
    run.tick(T0 + s(target.target_s) + LATENESS)  # watermark exactly at the deadline
    run.update("i1", "arrived", T0 + s(target.target_s), "u1")
    run.tick(T0 + s(10 * target.target_s))
    assert rows(run.alerts, A.RESPONSE_BREACH) == []
    response = next(i for i in run.intervals if i.kind.value == "response")
    assert response.within_target is True


def test_unassigned_follows_the_record_escalates_and_resolves_on_assignment() -> None:
    run = Run()
    target, _ = run.incident("i1", T0, SCENE)
    record_at = T0 + s(1.5)
    uid = alert_id_for(A.UNASSIGNED, incident_id="i1", instance="0:1")
    out = run.record("i1", record_at, outcome=AssignmentOutcome.UNASSIGNED)
    # Default delay 0: raised at once, at the record's time, with the ladder's first severity.
    assert rows(out) == [raised(A.UNASSIGNED, W, record_at, uid)]
    alert = out[0]
    assert (alert.target_s, alert.elapsed_s) == (target.target_s, 1.5)
    critical_at = T0 + s(2 * target.target_s)
    run.tick(critical_at + s(30))
    assigned_at = critical_at + s(20)
    run.record("i1", assigned_at, unit="u1", attempt=2)
    assert rows(run.alerts, A.UNASSIGNED) == [
        raised(A.UNASSIGNED, W, record_at, uid),
        raised(A.UNASSIGNED, C, critical_at, uid),
        resolved(C, assigned_at, uid, incident_id="i1"),
    ]


def test_unassigned_delay_and_custom_ladder() -> None:
    delay = 20.0
    ladder = ((0.5, INFO), (1.0, W), (2.0, C))
    run = Run(config=ResponseConfig(unassigned_delay_s=delay, severity_ladder=ladder))
    target, _ = run.incident("i1", T0, SCENE)
    record_at = T0 + s(1)
    assert run.record("i1", record_at, outcome=AssignmentOutcome.UNASSIGNED) == []
    uid = alert_id_for(A.UNASSIGNED, incident_id="i1", instance="0:1")
    run.tick(T0 + s(3 * target.target_s))
    due = record_at + s(delay)
    assert due < T0 + s(0.5 * target.target_s)  # so the first step (info) is the one raised
    assert rows(run.alerts, A.UNASSIGNED) == [
        raised(A.UNASSIGNED, INFO, due, uid),
        raised(A.UNASSIGNED, W, T0 + s(target.target_s), uid),
        raised(A.UNASSIGNED, C, T0 + s(2 * target.target_s), uid),
    ]
    assert len({a.alert_id for a in run.alerts if a.kind is A.UNASSIGNED}) == 1


def test_out_of_area_is_unassigned_until_a_person_dispatches() -> None:
    run = Run()
    outside = (49.5, 119.75)  # north of every zone
    target, _ = run.incident("i9", T0, outside)
    assert target.tier == "out_of_area"
    uid = alert_id_for(A.UNASSIGNED, incident_id="i9", instance="0:1")
    out = run.record("i9", T0, outcome=AssignmentOutcome.OUT_OF_AREA)
    assert rows(out) == [raised(A.UNASSIGNED, W, T0, uid)]
    assert out[0].zone_id is None
    assert out[0].target_s == target.target_s
    manual_at = T0 + s(100)
    out = run.record("i9", manual_at, unit="u7", outcome=AssignmentOutcome.MANUAL)
    assert rows(out) == [resolved(W, manual_at, uid, incident_id="i9")]


def test_ack_overdue_raised_escalated_and_resolved_by_the_acknowledgement() -> None:
    run = Run()
    limit = run.config.ack_overdue_s
    run.incident("i1", T0, SCENE)
    assigned = T0 + s(4)
    run.record("i1", assigned, unit="u1")
    aid = alert_id_for(A.ACK_OVERDUE, incident_id="i1", unit_id="u1", instance="0:1")
    run.tick(assigned + s(limit) + LATENESS)
    assert rows(run.alerts, A.ACK_OVERDUE) == []
    run.tick(assigned + s(2 * limit) + LATENESS + s(1))
    ack_at = assigned + s(2 * limit) + s(3)
    run.update("i1", "acknowledged", ack_at, "u1")
    assert rows(run.alerts, A.ACK_OVERDUE) == [
        raised(A.ACK_OVERDUE, W, assigned + s(limit), aid),
        raised(A.ACK_OVERDUE, C, assigned + s(2 * limit), aid),
        resolved(C, ack_at, aid, incident_id="i1", unit_id="u1"),
    ]
    overdue = next(a for a in run.alerts if a.kind is A.ACK_OVERDUE)
    assert (overdue.unit_id, overdue.incident_id, overdue.elapsed_s) == ("u1", "i1", limit)


@pytest.mark.parametrize("clock_first", [True, False])
def test_ack_overdue_is_resolved_by_the_redispatch_at_its_deadline(clock_first: bool) -> None:
    # Dispatch times out at the same 30 s and re-dispatches the slot at that instant. Whether
    # the lead feeds the clock or the record first, the alert is raised and resolved once.
    run = Run()
    run.incident("i1", T0, SCENE)
    assigned = T0 + s(4)
    run.record("i1", assigned, unit="u1")
    deadline = assigned + s(run.config.ack_overdue_s)
    if clock_first:
        run.tick(deadline + LATENESS + s(0.5))
    run.record("i1", deadline, unit="u2", attempt=2)
    run.tick(deadline + s(2))
    aid = alert_id_for(A.ACK_OVERDUE, incident_id="i1", unit_id="u1", instance="0:1")
    assert rows(run.alerts, A.ACK_OVERDUE) == [
        raised(A.ACK_OVERDUE, W, deadline, aid),
        resolved(W, deadline, aid, incident_id="i1", unit_id="u1"),
    ]


def test_no_ack_overdue_for_a_manual_dispatch_or_a_prompt_unit() -> None:
    run = Run()
    run.incident("i1", T0, SCENE)
    run.record("i1", T0 + s(1), unit="u1", outcome=AssignmentOutcome.MANUAL)
    run.record("i1", T0 + s(1), unit="u2", slot=1)
    run.update("i1", "en_route", T0 + s(31), "u2")  # exactly at the limit: in time
    run.tick(T0 + s(3600))
    assert rows(run.alerts, A.ACK_OVERDUE) == []


def test_predicted_breach_at_assignment_judged_by_the_predicted_arrival() -> None:
    run = Run()
    target, _ = run.incident("i1", T0, SCENE)
    t = target.target_s
    at = T0 + s(10)
    slow = t - 10 + 20.0  # arrives 20 s late (< 2x target): warning
    very_slow = 2 * t + 5.0  # arrives after 2x target: critical
    fits = t - 10 - 1.0
    run.record("i1", at, unit="u1", slot=0, eta_s=slow)
    run.record("i1", at, unit="u2", slot=1, eta_s=very_slow)
    run.record("i1", at, unit="u3", slot=2, eta_s=fits)
    p1 = alert_id_for(A.PREDICTED_BREACH, incident_id="i1", unit_id="u1", instance="0:1")
    p2 = alert_id_for(A.PREDICTED_BREACH, incident_id="i1", unit_id="u2", instance="1:1")
    assert rows(run.alerts, A.PREDICTED_BREACH) == [
        raised(A.PREDICTED_BREACH, W, at, p1),
        raised(A.PREDICTED_BREACH, C, at, p2),
    ]
    arrival = T0 + s(t - 2)
    run.update("i1", "arrived", arrival, "u3")
    assert rows(run.alerts, A.PREDICTED_BREACH)[2:] == [
        resolved(W, arrival, p1, incident_id="i1", unit_id="u1"),
        resolved(C, arrival, p2, incident_id="i1", unit_id="u2"),
    ]
    # After the deadline a slow assignment is not a prediction: the breach is a fact.
    run.incident("i2", T0, SCENE)
    run.record("i2", T0 + s(t + 1), unit="u4", eta_s=500.0)
    assert not [a for a in run.alerts if a.incident_id == "i2" and a.kind is A.PREDICTED_BREACH]


def test_decline_resolves_the_units_alerts_and_the_end_resolves_the_rest() -> None:
    run = Run()
    target, _ = run.incident("i1", T0, SCENE)
    run.record("i1", T0 + s(1), unit="u1", eta_s=float(target.target_s))
    pid = alert_id_for(A.PREDICTED_BREACH, incident_id="i1", unit_id="u1", instance="0:1")
    declined = T0 + s(5)
    run.update("i1", "declined", declined, "u1")
    run.record("i1", declined, outcome=AssignmentOutcome.UNASSIGNED, attempt=2)
    uid = alert_id_for(A.UNASSIGNED, incident_id="i1", instance="0:2")
    run.tick(T0 + s(target.target_s + 10))
    cancelled = T0 + s(target.target_s + 20)
    run.update("i1", "cancelled", cancelled)
    run.tick(T0 + s(3600))
    bid = breach_id("i1")
    assert rows(run.alerts, A.PREDICTED_BREACH, A.UNASSIGNED, A.RESPONSE_BREACH) == [
        raised(A.PREDICTED_BREACH, W, T0 + s(1), pid),
        resolved(W, declined, pid, incident_id="i1", unit_id="u1"),
        raised(A.UNASSIGNED, W, declined, uid),
        raised(A.RESPONSE_BREACH, W, T0 + s(target.target_s), bid),
        resolved(W, cancelled, bid, incident_id="i1"),
        resolved(W, cancelled, uid, incident_id="i1"),
    ]


def test_no_alerts_for_calls_never_dispatched() -> None:
    run = Run()
    run.incident("i1", T0, SCENE, category="invalid")
    run.record("i1", T0, outcome=AssignmentOutcome.NOT_DISPATCHED)
    run.tick(T0 + s(3600))
    assert [a for a in run.alerts if a.incident_id == "i1"] == []


def test_raised_once_across_restore_and_escalated_after_it() -> None:
    run = Run()
    target, _ = run.incident("i1", T0, SCENE)
    deadline = T0 + s(target.target_s)
    run.tick(deadline + s(20))
    bid = breach_id("i1")
    assert rows(run.alerts, A.RESPONSE_BREACH) == [raised(A.RESPONSE_BREACH, W, deadline, bid)]
    for _ in range(2):
        run.restore()
        run.tick(deadline + s(20))  # the same tick again, as after a crash before the commit
        run.tick(deadline + s(40))
    assert rows(run.alerts, A.RESPONSE_BREACH) == [raised(A.RESPONSE_BREACH, W, deadline, bid)]
    run.restore()
    critical_at = T0 + s(2 * target.target_s)
    run.tick(critical_at + timedelta(minutes=5))
    run.restore()
    run.tick(critical_at + timedelta(minutes=10))
    arrival = critical_at + timedelta(minutes=11)
    run.update("i1", "arrived", arrival, "u1")
    assert rows(run.alerts, A.RESPONSE_BREACH) == [
        raised(A.RESPONSE_BREACH, W, deadline, bid),
        raised(A.RESPONSE_BREACH, C, critical_at, bid),
        resolved(C, arrival, bid, incident_id="i1"),
    ]


def test_duplicate_inputs_change_nothing() -> None:
    run = Run()
    target, _ = run.incident("i1", T0, SCENE)
    run.record("i1", T0 + s(1), outcome=AssignmentOutcome.UNASSIGNED)
    run.record("i1", T0 + s(2), unit="u1", attempt=2)
    before = list(run.alerts), list(run.intervals)
    _, out = run.incident("i1", T0, SCENE)
    assert out == []
    run.record("i1", T0 + s(1), outcome=AssignmentOutcome.UNASSIGNED)
    run.record("i1", T0 + s(2), unit="u1", attempt=2)
    assert (run.alerts, run.intervals) == before
    assert target.target_s == run.engine.incidents["i1"].target_s
