"""Alert conditions: deterministic ids, the severity ladder, raise / escalate / resolve. Pure.

A condition has a clock (``origin``) and a limit (``limit_s``: the target, the grace, the
staleness limit ...). Ladder step *m* is reached at ``origin + m * limit_s``. The alert is
raised at its ``due`` time with the highest step reached by then (at least the first step's
severity); each later step re-emits the same ``alert_id`` with the higher severity at the
moment the step is reached. A resolution carries ``resolves_alert_id``, the same subject
fields, the alert's last severity and the event time that ended the condition.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from schemas.alerts import AlertKind, ResponseAlert, Severity, alert_id_for
from streams.response.config import SEVERITY_RANK
from streams.response.records import AlertState

__all__ = ["condition", "fire", "instance_of", "resolve", "severity_at"]

Ladder = tuple[tuple[float, Severity], ...]


def instance_of(at: datetime) -> str:
    """A condition instance named by an instant: UTC ISO 8601, the same for every offset."""
    return at.astimezone(UTC).isoformat()


def condition(
    kind: AlertKind,
    *,
    origin: datetime,
    limit_s: float,
    due: datetime,
    instance: str = "",
    escalates: bool = True,
    incident_id: str | None = None,
    unit_id: str | None = None,
    post_id: str | None = None,
    zone_id: str | None = None,
    target_s: int | None = None,
) -> AlertState:
    """A pending condition, raised at ``due`` unless it ends first."""
    return AlertState(
        alert_id=alert_id_for(
            kind, incident_id=incident_id, unit_id=unit_id, post_id=post_id, instance=instance
        ),
        kind=kind.value,
        origin=origin,
        limit_s=limit_s,
        due=due,
        escalates=escalates,
        incident_id=incident_id,
        unit_id=unit_id,
        post_id=post_id,
        zone_id=zone_id,
        target_s=target_s,
    )


def _step_at(state: AlertState, multiple: float) -> datetime:
    return state.origin + timedelta(seconds=multiple * state.limit_s)


def severity_at(state: AlertState, at: datetime, ladder: Ladder) -> Severity:
    """The highest step reached at ``at``; the first step's severity if none is yet."""
    reached = [severity for m, severity in ladder if _step_at(state, m) <= at]
    return reached[-1] if reached else ladder[0][1]


def _next_step(state: AlertState, at: datetime, ladder: Ladder) -> datetime | None:
    assert state.severity is not None
    rank = SEVERITY_RANK[state.severity]
    for m, severity in ladder:
        when = _step_at(state, m)
        if when > at and SEVERITY_RANK[severity] > rank:
            return when
    return None


def _elapsed(state: AlertState, at: datetime) -> float:
    return round(max(0.0, (at - state.origin).total_seconds()), 3)


def fire(
    state: AlertState,
    at: datetime,
    ladder: Ladder,
    region_id: str,
    *,
    until: datetime | None = None,
    judged_at: datetime | None = None,
) -> ResponseAlert:
    """Raise the pending alert, or escalate the open one, at ``at`` (its ``due`` time).

    ``until``: the condition ends there by itself (a staffed window's end); no step at or
    after it is scheduled. ``judged_at``: judge the severity at another time than ``at``
    (a predicted breach is as severe as the predicted arrival is late).
    """
    if state.severity is None:
        state.raised_at = at
    state.severity = severity_at(state, judged_at or at, ladder)
    following = _next_step(state, at, ladder) if state.escalates else None
    if following is not None and until is not None and following >= until:
        following = None
    state.due = following
    return _record(state, AlertKind(state.kind), at, region_id)


def resolve(state: AlertState, at: datetime, region_id: str) -> ResponseAlert | None:
    """End the condition at ``at``: a ``resolved`` record if the alert was raised, else
    nothing (the condition ended before it was due)."""
    state.due = None
    if state.severity is None or state.resolved_at is not None:
        return None
    state.resolved_at = at
    return _record(state, AlertKind.RESOLVED, at, region_id)


def _record(state: AlertState, kind: AlertKind, at: datetime, region_id: str) -> ResponseAlert:
    assert state.severity is not None
    resolving = kind is AlertKind.RESOLVED
    return ResponseAlert(
        alert_id=(
            alert_id_for(
                AlertKind.RESOLVED,
                incident_id=state.incident_id,
                unit_id=state.unit_id,
                post_id=state.post_id,
                instance=state.alert_id,
            )
            if resolving
            else state.alert_id
        ),
        kind=kind,
        severity=state.severity,
        zone_id=state.zone_id,
        region_id=region_id,
        raised_at=at,
        incident_id=state.incident_id,
        unit_id=state.unit_id,
        post_id=state.post_id,
        target_s=state.target_s,
        elapsed_s=_elapsed(state, at),
        resolves_alert_id=state.alert_id if resolving else None,
    )
