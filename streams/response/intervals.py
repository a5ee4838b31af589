"""Response intervals of an incident, from its lifecycle events. Pure.

Incident intervals (one per incident):

- ``call_processing``: reported -> first assignment of a unit (assigned or manual record);
- ``response``: reported -> first arrival of any unit, reported or inferred from GPS. The
  one judged against the target; the first arrival counts even if that unit later leaves;
- ``on_scene``: first arrival -> cleared;
- ``total``: reported -> closed;
- ``feedback``: reported -> first feedback filed (反馈).

Assignment intervals (one per unit assignment, i.e. per dispatch record naming a unit):

- ``acknowledgement``: assigned -> first of acknowledged / en_route / arrived (all imply it);
- ``turnout``: assigned -> en_route;
- ``travel``: en_route -> that unit's arrival (reported or inferred, whichever is first).

An interval is reported once, when it becomes known. If a later (late) event changes it, it
is reported again with ``corrected=True``. Negative spans (clock skew between terminals and
the call system) count as 0.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from streams.response.records import IncidentWatch

__all__ = ["Interval", "IntervalKind", "changed_intervals", "incident_intervals"]


class IntervalKind(StrEnum):
    CALL_PROCESSING = "call_processing"
    ACKNOWLEDGEMENT = "acknowledgement"
    TURNOUT = "turnout"
    TRAVEL = "travel"
    RESPONSE = "response"
    ON_SCENE = "on_scene"
    TOTAL = "total"
    FEEDBACK = "feedback"


@dataclass(frozen=True, slots=True)
class Interval:
    """One measured interval, for a histogram by ``kind``, ``tier`` and ``category``."""

    kind: IntervalKind
    seconds: float
    tier: str
    category: str
    incident_id: str = ""
    unit_id: str | None = None
    #: The arrival it ends at (response, travel) or starts from (on_scene) was inferred.
    inferred: bool = False
    #: A change to an interval reported before (a late event corrected it).
    corrected: bool = False
    #: ``response`` only: within the target (``seconds <= target_s``).
    within_target: bool | None = None
    #: The arrival concerned was reported far from the unit's GPS position.
    arrival_mismatch: bool = False


def _span(start: datetime, end: datetime) -> float:
    return round(max(0.0, (end - start).total_seconds()), 3)


def incident_intervals(watch: IncidentWatch) -> dict[str, Interval]:
    """Every interval known now, by a key unique within the incident."""
    tier, category, iid = watch.tier, watch.category.value, watch.incident_id
    out: dict[str, Interval] = {}

    def put(
        key: str,
        kind: IntervalKind,
        start: datetime,
        end: datetime,
        *,
        unit_id: str | None = None,
        inferred: bool = False,
        within_target: bool | None = None,
        arrival_mismatch: bool = False,
    ) -> None:
        out[key] = Interval(
            kind,
            _span(start, end),
            tier,
            category,
            iid,
            unit_id=unit_id,
            inferred=inferred,
            within_target=within_target,
            arrival_mismatch=arrival_mismatch,
        )

    reported = watch.reported_at
    if watch.first_assigned_at is not None:
        put("call_processing", IntervalKind.CALL_PROCESSING, reported, watch.first_assigned_at)
    first = watch.first_arrival_at
    first_arrival = watch.arrivals.get(watch.first_arrival_unit or "")
    mismatch = first_arrival is not None and first_arrival.mismatch
    if first is not None:
        seconds = _span(reported, first)
        put(
            "response",
            IntervalKind.RESPONSE,
            reported,
            first,
            unit_id=watch.first_arrival_unit,
            inferred=watch.first_arrival_inferred,
            within_target=seconds <= watch.target_s,
            arrival_mismatch=mismatch,
        )
        if watch.cleared_at is not None:
            put(
                "on_scene",
                IntervalKind.ON_SCENE,
                first,
                watch.cleared_at,
                unit_id=watch.first_arrival_unit,
                inferred=watch.first_arrival_inferred,
            )
    if watch.closed_at is not None:
        put("total", IntervalKind.TOTAL, reported, watch.closed_at)
    if watch.feedback_at is not None:
        put("feedback", IntervalKind.FEEDBACK, reported, watch.feedback_at)
    for r in watch.responders:
        unit = r.unit_id
        if r.acknowledged_at is not None:
            ack = IntervalKind.ACKNOWLEDGEMENT
            put(f"acknowledgement:{r.key}", ack, r.assigned_at, r.acknowledged_at, unit_id=unit)
        if r.en_route_at is not None:
            turnout = IntervalKind.TURNOUT
            put(f"turnout:{r.key}", turnout, r.assigned_at, r.en_route_at, unit_id=unit)
            arrival = watch.arrivals.get(r.unit_id)
            if arrival is not None and arrival.at is not None and arrival.at >= r.assigned_at:
                put(
                    f"travel:{r.key}",
                    IntervalKind.TRAVEL,
                    r.en_route_at,
                    arrival.at,
                    inferred=arrival.inferred,
                    arrival_mismatch=arrival.mismatch,
                    unit_id=unit,
                )
    return out


def changed_intervals(watch: IncidentWatch) -> list[Interval]:
    """Intervals not reported yet or changed since, in a stable order; marks them reported."""
    reported: list[Interval] = []
    for key, interval in incident_intervals(watch).items():
        before = watch.intervals.get(key)
        if before == interval.seconds:
            continue
        if before is not None:
            interval = replace(interval, corrected=True)
        watch.intervals[key] = interval.seconds
        reported.append(interval)
    return reported
