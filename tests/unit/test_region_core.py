"""The region core without Kafka: routing, commitment, re-dispatch, release, restart.

The processor runs over plain dicts here; the worker runs the same code over Faust tables.
"""

from __future__ import annotations

import pytest

from schemas.dispatch import AssignmentOutcome, assignment_id_for
from schemas.incidents import IncidentUpdate, UpdateKind
from schemas.units import Force, UnitStatus, UnitTelemetry
from streams.dispatch.policy import default_policy
from streams.dispatch.records import SlotState
from streams.region.events import (
    TelemetryEvent,
    UpdateEvent,
)
from streams.response.config import default_response_config
from streams.response.targets import target_for
from tests.support.region_core import CITY, T0, Harness, s, units_of


@pytest.fixture
def city_centre() -> Harness:
    """Three station units east of the centre at 200 m, 600 m and 1200 m."""
    h = Harness()
    h.unit("st-near", Force.STATION, 200, at=s(0))
    h.unit("st-mid", Force.STATION, 600, at=s(0))
    h.unit("st-far", Force.STATION, 1200, at=s(0))
    return h


def test_nearest_available_unit_is_assigned_with_a_deterministic_id(city_centre: Harness) -> None:
    (record,) = city_centre.incident("INC-1", at=s(10))
    assert record.outcome is AssignmentOutcome.ASSIGNED
    assert record.unit_id == "st-near"
    assert record.force is Force.STATION
    assert record.zone_id == "z05"
    assert record.region_id == "hailar"
    assert record.assigned_at == T0 + s(10)
    assert record.assignment_id == assignment_id_for("INC-1", 0, 1)
    # The response engine's target for the spot: its quick-response circle, else the zone's.
    facts = city_centre.processor.state("hailar").dispatch.incidents["INC-1"].facts
    assert record.target_s == target_for(facts, CITY, default_response_config()).target_s
    assert record.distance_m is not None  # the route estimate: 200 m x the detour factor
    assert record.distance_m == pytest.approx(200 * default_policy().detour_factor, rel=0.02)
    assert record.eta_s is not None
    assert record.eta_s > 0


def test_two_incidents_together_never_share_a_unit(city_centre: Harness) -> None:
    first = city_centre.incident("INC-1", at=s(10))
    second = city_centre.incident("INC-2", at=s(10))
    assert units_of(first) == ["st-near"]
    assert units_of(second) == ["st-mid"]


def test_committed_unit_stays_committed_although_its_terminal_says_available(
    city_centre: Harness,
) -> None:
    city_centre.incident("INC-1", at=s(10))
    city_centre.unit("st-near", Force.STATION, 200, at=s(12))  # terminal lags: "available"
    assert units_of(city_centre.incident("INC-2", at=s(13))) == ["st-mid"]


def test_decline_redispatches_to_the_next_best_and_never_back(city_centre: Harness) -> None:
    city_centre.incident("INC-1", at=s(10))
    (again,) = city_centre.update("INC-1", "declined", "st-near", at=s(15))
    assert again.unit_id == "st-mid"
    assert again.attempt == 2
    assert again.assignment_id == assignment_id_for("INC-1", 0, 2)
    # The declined unit is free for other incidents, but never offered INC-1 again.
    assert units_of(city_centre.incident("INC-2", at=s(16))) == ["st-near"]
    (third,) = city_centre.update("INC-1", "declined", "st-mid", at=s(20))
    assert third.unit_id == "st-far"


def test_acknowledgement_timeout_redispatches_on_the_clock(city_centre: Harness) -> None:
    city_centre.incident("INC-1", at=s(10))
    assert city_centre.tick(s(40)) == []  # 30 s deadline at t=40; watermark is 35 (5 s lateness)
    (again,) = city_centre.tick(s(45.5))
    assert again.unit_id == "st-mid"
    assert again.attempt == 2
    assert again.assigned_at == T0 + s(40)  # decided at the deadline itself, not at the tick


def test_a_late_incident_is_decided_at_the_region_clock_with_a_full_acknowledgement_window(
    city_centre: Harness,
) -> None:
    """An incident read after the clock passed its report time (a backlog after an outage) is
    decided now: its unit's acknowledgement window starts at the clock (not already expired),
    and the unit freed at a deadline is not shown committed to it before it was freed."""
    city_centre.incident("INC-1", at=s(10))  # st-near, to acknowledge by 40
    (again,) = city_centre.tick(s(45.5))  # watermark 40.5: timed out at 40, st-mid instead
    assert again.assigned_at == T0 + s(40)
    (late,) = city_centre.incident("INC-2", at=s(20))
    assert late.unit_id == "st-near"
    assert late.assigned_at == T0 + s(40.5)
    assert city_centre.tick(s(70)) == []  # watermark 65: a window from t=20 had run out at 50
    timed_out = city_centre.tick(s(76))  # watermark 71: both windows ran out, each at its end
    assert [(a.incident_id, a.attempt, a.assigned_at) for a in timed_out] == [
        ("INC-1", 3, T0 + s(70)),
        ("INC-2", 2, T0 + s(70.5)),
    ]


def test_acknowledged_unit_is_not_timed_out(city_centre: Harness) -> None:
    city_centre.incident("INC-1", at=s(10))
    city_centre.update("INC-1", "acknowledged", "st-near", at=s(20))
    assert city_centre.tick(s(120)) == []


def test_out_of_order_and_stale_telemetry_are_ignored() -> None:
    h = Harness()
    h.unit("st-a", Force.STATION, 100, at=s(100))
    # An older report (out of order) saying the unit is far away changes nothing.
    h.unit("st-a", Force.STATION, 5000, at=s(50))
    h.unit("st-b", Force.STATION, 300, at=s(100))
    (record,) = h.incident("INC-1", at=s(110))
    assert record.unit_id == "st-a"
    assert record.distance_m is not None
    assert record.distance_m < 150
    # A unit silent for longer than the staleness limit (120 s) is not dispatched.
    h2 = Harness()
    h2.unit("st-silent", Force.STATION, 100, at=s(0))
    h2.unit("st-fresh", Force.STATION, 900, at=s(100))
    assert units_of(h2.incident("INC-2", at=s(130))) == ["st-fresh"]


def test_no_eligible_unit_gives_one_unassigned_record_then_retries() -> None:
    h = Harness()
    h.unit("traffic-1", Force.TRAFFIC, 100, at=s(0))  # wrong force for public order
    (record,) = h.incident("INC-1", at=s(10))
    assert record.outcome is AssignmentOutcome.UNASSIGNED
    assert record.unit_id is None
    h.unit("traffic-1", Force.TRAFFIC, 120, at=s(20))
    assert h.out[-1].outcome is AssignmentOutcome.UNASSIGNED  # still one record
    (assigned,) = h.unit("st-new", Force.STATION, 2000, at=s(30))
    assert assigned.incident_id == "INC-1"
    assert assigned.unit_id == "st-new"
    assert assigned.attempt == 2
    assert assigned.assigned_at == T0 + s(30)


def test_unit_freed_by_cleared_is_assigned_again() -> None:
    h = Harness()
    h.unit("st-only", Force.STATION, 100, at=s(0))
    assert units_of(h.incident("INC-1", at=s(10))) == ["st-only"]
    h.update("INC-1", "acknowledged", "st-only", at=s(12))
    assert units_of(h.incident("INC-2", at=s(11))) == [None]
    h.unit("st-only", Force.STATION, 100, at=s(290))  # on scene, still reporting
    (reassigned,) = h.update("INC-1", "cleared", at=s(300))
    assert reassigned.incident_id == "INC-2"
    assert reassigned.unit_id == "st-only"


def test_slot_is_unfilled_after_the_attempt_limit() -> None:
    h = Harness()
    for n in range(4):
        h.unit(f"st-{n}", Force.STATION, 100 + 100 * n, at=s(0))
    h.incident("INC-1", at=s(10))
    h.update("INC-1", "declined", "st-0", at=s(11))
    h.update("INC-1", "declined", "st-1", at=s(12))
    (last,) = h.update("INC-1", "declined", "st-2", at=s(13))
    assert last.outcome is AssignmentOutcome.UNFILLED
    assert last.unit_id is None
    assert last.attempt == 4


def test_invalid_calls_are_never_dispatched_and_outside_calls_are_out_of_area(
    city_centre: Harness,
) -> None:
    (invalid,) = city_centre.incident("INC-X", at=s(10), category="invalid")
    assert invalid.outcome is AssignmentOutcome.NOT_DISPATCHED
    (outside,) = city_centre.incident("INC-Y", at=s(10), north_m=60_000)
    assert outside.outcome is AssignmentOutcome.OUT_OF_AREA
    assert outside.zone_id is None
    assert outside.region_id in CITY.regions
    assert units_of(city_centre.incident("INC-Z", at=s(11))) == ["st-near"]  # nobody was taken


def test_a_person_dispatching_to_an_out_of_area_call_gets_a_record_of_its_own(
    city_centre: Harness,
) -> None:
    """The out_of_area record is slot 0's: the manual one must not reuse its id (found by the
    exactly-once crash test as one assignment_id written twice, with two outcomes)."""
    (outside,) = city_centre.incident("INC-Y", at=s(10), north_m=60_000)
    (manual,) = city_centre.update("INC-Y", "dispatched", "st-near", at=s(40))
    assert manual.outcome is AssignmentOutcome.MANUAL
    assert manual.unit_id == "st-near"
    assert manual.assignment_id != outside.assignment_id


def test_every_person_dispatching_to_an_out_of_area_call_gets_an_id_of_their_own(
    city_centre: Harness,
) -> None:
    """Two manual dispatches of different units to one out-of-area call: two ids (the second
    reused the first's id and the crash test saw one assignment_id with two units). When a
    manual unit declines, the re-dispatch fills that same slot with another unit."""
    (outside,) = city_centre.incident("INC-Y", at=s(10), north_m=60_000)
    (first,) = city_centre.update("INC-Y", "dispatched", "st-near", at=s(40))
    (second,) = city_centre.update("INC-Y", "dispatched", "st-mid", at=s(60))
    ids = {outside.assignment_id, first.assignment_id, second.assignment_id}
    assert len(ids) == 3
    assert (first.slot, second.slot) == (1, 2)
    again = city_centre.update("INC-Y", "declined", "st-mid", at=s(70))
    assert [(a.slot, a.attempt) for a in again] == [(2, 2)]
    assert again[0].unit_id not in (None, "st-near", "st-mid")
    assert again[0].assignment_id not in ids


def test_a_unit_a_person_takes_is_not_offered_back_by_the_re_dispatch_it_causes() -> None:
    """A person dispatches a unit the engine had assigned elsewhere: its earlier call is
    re-dispatched, and that re-dispatch must not hand the same unit to a call that is waiting
    (it did, at a shift change: the unit stood committed to two calls until one timed out)."""
    h = Harness()
    h.unit("st-only", Force.STATION, 100, at=s(0))
    assert units_of(h.incident("INC-1", at=s(10))) == ["st-only"]
    assert units_of(h.incident("INC-2", at=s(11))) == [None]  # waiting for a unit
    h.incident("INC-Y", at=s(12), north_m=60_000)  # out of area: a person handles it
    produced = h.update("INC-Y", "dispatched", "st-only", at=s(20))
    assert [(r.incident_id, r.outcome, r.unit_id) for r in produced] == [
        ("INC-1", AssignmentOutcome.UNASSIGNED, None),  # re-dispatched: nobody left
        ("INC-Y", AssignmentOutcome.MANUAL, "st-only"),
    ]
    dispatch = h.processor.state("hailar").dispatch
    holding = [
        (incident.incident_id, slot.index)
        for incident in dispatch.incidents.values()
        for slot in incident.slots
        if slot.state is SlotState.ASSIGNED and slot.unit_id == "st-only"
    ]
    assert holding == [("INC-Y", 1)]
    # Freed by the call it went to, it goes to the oldest waiting call it was not taken from.
    h.unit("st-only", Force.STATION, 100, at=s(290))  # still reporting
    (next_call,) = h.update("INC-Y", "cleared", at=s(300))
    assert (next_call.incident_id, next_call.unit_id) == ("INC-2", "st-only")


def test_a_person_may_dispatch_a_unit_before_it_reports_and_it_is_committed_when_it_does() -> None:
    """Inputs read out of order (seen after a broker restart): a ``dispatched`` naming a unit
    this region has no report of yet. The worker's agent crashed on it (a manual record
    needed the unit's force); now it is recorded without one and the unit, on its first
    report, is committed to that call, also across a restart."""
    h = Harness()
    h.incident("INC-1", at=s(10))  # nobody on duty: unassigned
    (manual,) = h.update("INC-1", "dispatched", "st-late", at=s(20))
    assert (manual.outcome, manual.unit_id, manual.force) == (
        AssignmentOutcome.MANUAL,
        "st-late",
        None,
    )
    h.restart()
    assert h.unit("st-late", Force.STATION, 100, at=s(25)) == []  # not offered to INC-1's slot 0
    assert units_of(h.incident("INC-2", at=s(30))) == [None]  # nor to a new call
    (freed,) = h.update("INC-1", "cleared", at=s(60))
    assert (freed.incident_id, freed.unit_id) == ("INC-2", "st-late")  # the waiting call


def test_a_region_whose_event_failed_is_rebuilt_from_its_tables_as_before_that_event(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What the region agent does when processing raises (streams/region/agents.py,
    ``_failed``): forget the region in memory, where the event had half-changed it; the
    tables still hold the state before the event."""
    h = Harness()
    h.unit("st-only", Force.STATION, 100, at=s(0))
    region = h.processor.state("hailar")

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug half-way through an event")

    monkeypatch.setattr(region.response, "on_incident", broken)
    with pytest.raises(RuntimeError):
        h.incident("INC-1", at=s(10))
    assert region.dispatch.units["st-only"].committed_to == "INC-1"  # half-changed memory
    h.processor.forget_region("hailar")
    (next_call,) = h.incident("INC-2", at=s(11))  # INC-1 went to the dead-letter topic
    assert next_call.unit_id == "st-only"  # not held by a call whose decision was never sent


def test_a_unit_that_changes_region_keeps_a_row_in_each_region_across_a_restart() -> None:
    """Each region keeps its own row of a unit that crossed between them. Under one key the two
    regions' writes landed in two changelog partitions and a restore kept either one: a region
    came back without its unit and raised the unit's alerts again."""
    h = Harness()
    east = CITY.zones["z16"]
    assert east.region_id != CITY.zones["z05"].region_id
    h.unit("st-moving", Force.STATION, at=s(0))
    lat, lon = east.interior_point
    h.send(
        TelemetryEvent(
            telemetry=UnitTelemetry(
                unit_id="st-moving",
                at=T0 + s(30),
                location={"lat": lat, "lon": lon},
                status=UnitStatus.AVAILABLE,
                force=Force.STATION,
                region_id=east.region_id,  # a handoff is explicit (routing.home_region)
            )
        )
    )
    west = CITY.zones["z05"].region_id
    keys = {k for k in h.tables["units"] if k.endswith("/st-moving")}
    assert keys == {f"{west}/st-moving", f"{east.region_id}/st-moving"}
    h.restart()
    for region in (west, east.region_id):
        state = h.processor.state(region)
        assert "st-moving" in state.dispatch.units
        assert state.dispatch.units["st-moving"].region_id == region
        assert state.response.units["st-moving"].region_id == region
    west_unit = h.processor.state(west).dispatch.units["st-moving"]
    assert west_unit.status is UnitStatus.OUT_OF_SERVICE  # the old region no longer sends it


def test_update_before_its_incident_waits_and_is_applied_after_it(city_centre: Harness) -> None:
    assert city_centre.update("INC-1", "acknowledged", "st-near", at=s(12)) == []
    (record,) = city_centre.incident("INC-1", at=s(10))
    assert record.unit_id == "st-near"
    assert city_centre.tick(s(120)) == []  # the parked acknowledgement was applied


def test_duplicate_incident_report_takes_effect_once(city_centre: Harness) -> None:
    city_centre.incident("INC-1", at=s(10))
    assert city_centre.incident("INC-1", at=s(10)) == []


def test_restart_from_tables_continues_with_the_same_decisions(city_centre: Harness) -> None:
    city_centre.incident("INC-1", at=s(10))
    city_centre.incident("INC-2", at=s(11))
    city_centre.restart()  # a new worker: everything comes back from the tables
    assert units_of(city_centre.incident("INC-3", at=s(12))) == ["st-far"]
    (again,) = city_centre.update("INC-1", "declined", "st-near", at=s(13))
    assert again.unit_id is None  # st-mid and st-far are committed; st-near declined
    city_centre.restart()
    # INC-2's and INC-3's acknowledgement deadlines (41 s, 42 s) survived the restart.
    fired = city_centre.tick(s(60))
    assert [(r.incident_id, r.unit_id, r.attempt, r.assigned_at) for r in fired] == [
        ("INC-2", "st-near", 2, T0 + s(41)),  # st-mid timed out; st-near only declined INC-1
        ("INC-1", "st-mid", 3, T0 + s(41)),  # the freed st-mid goes to the waiting INC-1
        ("INC-3", None, 2, T0 + s(42)),  # st-far timed out and nobody else is free
    ]


def test_replay_of_the_same_input_writes_the_same_records() -> None:
    def run() -> list[str]:
        h = Harness()
        h.unit("st-a", Force.STATION, 100, at=s(0))
        h.unit("st-b", Force.STATION, 400, at=s(0))
        h.incident("INC-1", at=s(5))
        h.update("INC-1", "declined", "st-a", at=s(8))
        h.tick(s(60))
        return [r.model_dump_json() for r in h.out]

    assert run() == run()


def test_case_updates_become_case_facts_with_their_incident_zone(city_centre: Harness) -> None:
    city_centre.incident("INC-1", at=s(10))
    routed = city_centre.router.route(
        UpdateEvent(
            update=IncidentUpdate(
                incident_id="INC-1",
                at=T0 + s(20),
                kind=UpdateKind.CASE_FILED,
                case_id="A-1",
                case_type="criminal",
            )
        )
    )
    (event,) = routed.forward
    output = city_centre.processor.process(event)
    (case,) = output.cases
    assert (case.kind, case.case_id, case.zone_id, case.region_id) == (
        "case_filed",
        "A-1",
        "z05",
        "hailar",
    )
    assert output.dispatch.assignments == []  # a case update is not a dispatch event


def test_clearing_an_open_incident_reports_its_clearance_time(city_centre: Harness) -> None:
    city_centre.incident("INC-1", at=s(10))
    (event,) = city_centre.router.route(
        UpdateEvent(
            update=IncidentUpdate(incident_id="INC-1", at=T0 + s(910), kind=UpdateKind.CLEARED)
        )
    ).forward
    assert city_centre.processor.process(event).cleared == ("public_order", 900.0)
    (again,) = city_centre.router.route(
        UpdateEvent(
            update=IncidentUpdate(incident_id="INC-1", at=T0 + s(950), kind=UpdateKind.CLEARED)
        )
    ).forward
    assert city_centre.processor.process(again).cleared is None  # once per incident


def test_response_breach_fires_at_the_deadline_on_ticks_and_the_late_arrival_resolves_it(
    city_centre: Harness,
) -> None:
    (record,) = city_centre.incident("INC-1", at=s(10))
    city_centre.update("INC-1", "acknowledged", record.unit_id, at=s(15))
    assert record.target_s is not None
    deadline = T0 + s(10 + record.target_s)
    city_centre.tick(s(10 + record.target_s))  # watermark still 5 s short of the deadline
    assert [a for a in city_centre.alerts if a.kind.value == "response_breach"] == []
    city_centre.tick(s(10 + record.target_s + 6))  # only the wall clock moved: it fires
    (breach,) = [a for a in city_centre.alerts if a.kind.value == "response_breach"]
    assert (breach.incident_id, breach.raised_at, breach.target_s) == (
        "INC-1",
        deadline,
        record.target_s,
    )
    city_centre.update("INC-1", "arrived", record.unit_id, at=s(10 + record.target_s + 20))
    (resolved,) = [a for a in city_centre.alerts if a.kind.value == "resolved"]
    assert resolved.resolves_alert_id == breach.alert_id
    assert resolved.raised_at == T0 + s(10 + record.target_s + 20)


def test_a_fresh_deployment_replaying_old_data_does_not_start_its_clock_at_wall_time() -> None:
    """Ticks arrive before the first (day-old) event: they must not set the clock to today."""
    h = Harness()
    today = s(86_400)
    h.processor.wall_clock = lambda: T0 + today  # everything is read today
    h.tick(today)
    h.unit("st-a", Force.STATION, 100, at=s(0))
    (record,) = h.incident("INC-1", at=s(5))
    h.update("INC-1", "acknowledged", record.unit_id, at=s(6))
    h.update("INC-1", "arrived", record.unit_id, at=s(20))  # well within any target
    h.tick(today + s(1))
    assert [a.kind.value for a in h.alerts] == []  # no breach raised before the arrival was read


def test_after_a_restart_a_quiet_live_region_still_fires_its_deadlines() -> None:
    """The clock comes back from the table, so wall-clock ticks alone still move it."""
    h = Harness()
    h.unit("st-a", Force.STATION, 100, at=s(0))
    (record,) = h.incident("INC-1", at=s(5))
    h.update("INC-1", "acknowledged", record.unit_id, at=s(6))
    assert record.target_s is not None
    deadline = s(5 + record.target_s)
    h.unit("st-b", Force.STATION, 900, at=deadline - s(1))  # the last input before the restart
    h.restart()
    h.tick(deadline + s(6))  # nothing else arrives: only the wall clock moves
    breaches = [a for a in h.alerts if a.kind.value == "response_breach"]
    assert [(a.incident_id, a.raised_at) for a in breaches] == [("INC-1", T0 + deadline)]


def test_a_feed_running_behind_the_wall_clock_keeps_its_own_pace_on_ticks() -> None:
    """A simulator at 5x (or an upstream a minute late) is read two minutes behind the wall
    clock: ticks move its clock on by the wall time that passed, never to the wall clock."""
    h = Harness()
    behind = s(120)
    reading = [T0 + behind]
    h.processor.wall_clock = lambda: reading[0]
    h.unit("st-a", Force.STATION, 100, at=s(0))
    reading[0] = T0 + s(5) + behind
    (record,) = h.incident("INC-1", at=s(5))
    h.tick(s(5) + behind + s(1))  # the wall clock is 2 minutes ahead of the feed
    assert [a.kind.value for a in h.alerts] == []  # no unit flagged silent, no breach
    region = h.processor.regions[record.region_id]
    assert region.clock.watermark == T0 + s(5) + s(1) - s(5)  # event time + 1 s quiet - lateness
    assert record.target_s is not None
    quiet = s(record.target_s + 6)  # then nothing arrives: the deadline still fires
    h.tick(s(5) + behind + quiet)
    breaches = [a for a in h.alerts if a.kind.value == "response_breach"]
    assert [(a.incident_id, a.raised_at) for a in breaches] == [
        ("INC-1", T0 + s(5 + record.target_s))
    ]
