"""The demo's fold: records and /metrics text in, what the view and the summary show out."""

from __future__ import annotations

import copy
from typing import Any

import orjson

from schemas import topics
from schemas.alerts import ResponseAlert, alert_id_for
from schemas.clearance import ClearanceSnapshot
from schemas.dispatch import Assignment, assignment_id_for
from schemas.incidents import IncidentReported
from streams.demo.state import DemoState, parse_metrics

PHONE = "+86-000-1234-5678"
SUMMARY = "[SIMULATED] fight outside a restaurant"


def example(model: Any) -> dict[str, Any]:
    return copy.deepcopy(model.model_config["json_schema_extra"]["examples"][0])


def report(n: int, **fields: Any) -> bytes:
    value = example(IncidentReported) | {"incident_id": f"HLR-20250501-{n:06d}"} | fields
    return orjson.dumps(value)


def assignment(incident: str, slot: int, attempt: int, **fields: Any) -> bytes:
    value = example(Assignment) | {
        "assignment_id": assignment_id_for(incident, slot, attempt),
        "incident_id": incident,
        "slot": slot,
        "attempt": attempt,
    }
    return orjson.dumps(value | fields)


def alert(kind: str, incident: str, severity: str = "warning", **fields: Any) -> bytes:
    value = example(ResponseAlert) | {
        "alert_id": alert_id_for(kind, incident_id=incident),
        "kind": kind,
        "severity": severity,
        "incident_id": incident,
    }
    return orjson.dumps(value | fields)


def snapshot(
    window: str = "30d", computed_at: str = "2025-05-01T00:00:00+08:00", **f: Any
) -> bytes:
    value = example(ClearanceSnapshot) | {"window": window, "computed_at": computed_at}
    return orjson.dumps(value | f)


def test_incidents_keep_category_zone_priority_and_never_personal_data() -> None:
    state = DemoState(locate=lambda lat, lon: "z99")
    state.apply(
        topics.INCIDENTS_REPORTED,
        report(1, caller_phone=PHONE, summary=SUMMARY, category="fire", priority=1),
    )
    state.apply(topics.INCIDENTS_REPORTED, report(2, zone_id=None))

    assert state.incident_count == 2
    newest, oldest = state.incidents
    assert (oldest.category, oldest.zone_id, oldest.priority) == ("fire", "z07", 1)
    assert newest.zone_id == "z99"  # not named by the report: located
    shown = repr(state) + state.status_line(1.0) + "\n".join(state.summary_lines(1.0))
    assert PHONE not in shown
    assert "restaurant" not in shown


def test_a_report_read_twice_is_one_incident() -> None:
    state = DemoState()
    for _ in range(2):
        state.apply(topics.INCIDENTS_REPORTED, report(1))
    assert state.incident_count == 1
    assert len(state.incidents) == 1


def test_assignments_are_counted_once_per_decision_by_outcome() -> None:
    state = DemoState()
    state.apply(topics.DISPATCH_ASSIGNMENTS, assignment("HLR-1", 0, 1))
    state.apply(topics.DISPATCH_ASSIGNMENTS, assignment("HLR-1", 0, 1))  # redelivered
    state.apply(
        topics.DISPATCH_ASSIGNMENTS,
        assignment("HLR-2", 0, 1, outcome="unassigned", unit_id=None, eta_s=None, distance_m=None),
    )

    assert state.assignment_count == 2
    assert state.outcomes == {"assigned": 1, "unassigned": 1}
    latest = state.assignments[0]
    assert (latest.incident_id, latest.outcome, latest.unit_id) == ("HLR-2", "unassigned", None)
    assert state.assignments[1].eta_s == 142.0


def test_an_escalation_is_one_alert_and_a_resolve_is_its_own_kind() -> None:
    state = DemoState()
    state.apply(topics.ALERTS_RESPONSE, alert("response_breach", "HLR-1"))
    state.apply(topics.ALERTS_RESPONSE, alert("response_breach", "HLR-1"))  # redelivered
    state.apply(topics.ALERTS_RESPONSE, alert("response_breach", "HLR-1", severity="critical"))
    breach_id = alert_id_for("response_breach", incident_id="HLR-1")
    resolved = alert("resolved", "HLR-1", severity="info", resolves_alert_id=breach_id)
    state.apply(topics.ALERTS_RESPONSE, resolved)

    assert state.alert_kinds == {"response_breach": 1, "resolved": 1}
    assert state.escalations == 1
    assert [(a.kind, a.severity, a.escalation) for a in state.alerts] == [
        ("resolved", "info", False),
        ("response_breach", "critical", True),
        ("response_breach", "warning", False),
    ]


def test_recent_lists_keep_the_newest_rows() -> None:
    state = DemoState(recent=3)
    for n in range(1, 6):
        state.apply(topics.INCIDENTS_REPORTED, report(n))
    assert [row.incident_id[-1] for row in state.incidents] == ["5", "4", "3"]
    assert state.incident_count == 5


def test_the_latest_30_day_snapshot_of_each_case_type_is_shown() -> None:
    state = DemoState()
    assert state.clearance_text() == "no snapshot yet"
    state.apply(topics.METRICS_CLEARANCE, snapshot(window="7d"))  # another series
    assert not state.clearance
    nothing = {"filed": 0, "cleared": 0, "solved_in_period": 0, "rate": None}
    # before its first case the ledger stamps wall time, then event time (earlier in a
    # sped-up run): the snapshot read last is the latest all the same
    state.apply(
        topics.METRICS_CLEARANCE, snapshot(computed_at="2025-05-01T12:00:00+08:00", **nothing)
    )
    state.apply(topics.METRICS_CLEARANCE, snapshot(computed_at="2025-05-01T09:00:00+08:00"))
    assert state.clearance_text() == "30d criminal 86.13% (118/137)"
    admin = snapshot(case_type="administrative", **nothing)
    state.apply(topics.METRICS_CLEARANCE, admin)
    assert state.clearance_text() == "30d criminal 86.13% (118/137), administrative no cases filed"


def test_undecodable_records_are_counted_and_other_topics_ignored() -> None:
    state = DemoState()
    state.apply(topics.DISPATCH_ASSIGNMENTS, b'{"outcome": "teleported"}')
    state.apply(topics.ALERTS_RESPONSE, b"not json")
    state.apply(topics.UNITS_TELEMETRY, b"whatever")
    assert state.unreadable == 2
    assert state.assignment_count == state.alert_count == 0


METRICS = """\
# TYPE patrolflow_dispatch_open_incidents gauge
patrolflow_dispatch_open_incidents{region="hailar"} 7.0
patrolflow_dispatch_open_incidents{region="hailar-east"} 2.0
# TYPE patrolflow_response_arrivals_total counter
patrolflow_response_arrivals_total{tier="1min",within_target="true"} 3.0
patrolflow_response_arrivals_total{tier="3min",within_target="true"} 1.0
patrolflow_response_arrivals_total{tier="3min",within_target="false"} 4.0
# TYPE patrolflow_response_posts_required gauge
patrolflow_response_posts_required{region="hailar"} 20.0
patrolflow_response_posts_required{region="hailar-east"} 3.0
# TYPE patrolflow_response_posts_uncovered gauge
patrolflow_response_posts_uncovered{region="hailar"} 2.0
patrolflow_response_posts_uncovered{region="hailar-east"} 0.0
# TYPE patrolflow_intake_records_total counter
patrolflow_intake_records_total{topic="units.telemetry",outcome="accepted"} 100.0
patrolflow_intake_records_total{topic="incidents.reported",outcome="dead_lettered"} 2.0
"""


def test_kpis_from_the_workers_metrics_sum_over_regions() -> None:
    figures = parse_metrics(METRICS)
    assert figures.open_incidents == 9
    assert figures.within_target_share == 0.5
    assert (figures.posts_covered, figures.posts_required) == (21, 23)
    assert figures.records_in == 102

    state = DemoState()
    state.apply_metrics(METRICS)
    line = state.status_line(12.0)
    assert "open 9" in line
    assert "within target 50%" in line
    assert "posts covered 21/23" in line


def test_figures_not_exported_yet_show_as_unknown() -> None:
    figures = parse_metrics("# nothing yet\n")
    assert figures.open_incidents is None
    assert figures.within_target_share is None
    assert figures.posts_covered is None
    assert "open - | within target - | posts covered -" in DemoState().status_line(0.0)


def test_the_summary_counts_incidents_assignments_by_outcome_and_alerts_by_kind() -> None:
    state = DemoState()
    state.apply(topics.INCIDENTS_REPORTED, report(1))
    state.apply(topics.DISPATCH_ASSIGNMENTS, assignment("HLR-1", 0, 1))
    state.apply(topics.ALERTS_RESPONSE, alert("predicted_breach", "HLR-1"))
    lines = state.summary_lines(61.26)
    assert lines[0] == "incidents: 1 (dispute 1)"
    assert lines[1] == "assignments: 1 (assigned 1)"
    assert lines[2] == "alerts: 1 (predicted_breach 1), 0 escalations"
    assert lines[-1] == "elapsed: 61.3 s"
