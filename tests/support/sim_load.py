"""The crash tests' simulated load and their commitment check, shared with the pure replay.

``make_load`` builds a run's input from the demo city's simulator and indexes what the checks
need; ``double_commitments`` rebuilds every unit's commitments from the decisions and the
lifecycle updates and names any unit held by two open incidents at once. The crash tests
run them against a real broker; tests/unit/test_region_replay.py runs the same load through
one ``RegionProcessor`` in input order, without Kafka.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import orjson

from schemas import topics
from schemas.dispatch import Assignment, AssignmentOutcome
from schemas.incidents import IncidentCategory
from streams.sim import SimConfig, SimEvent, generate

#: Updates that end an incident and so release every unit committed to it.
ENDING = frozenset({"cleared", "closed", "cancelled"})


#: A lifecycle update as the load has it: (incident_id, kind, unit_id, event time).
UpdateKey = tuple[str, str, str | None, datetime]


@dataclass
class Load:
    """One run's input, and what the checks need to know about it."""

    events: list[SimEvent]
    incidents: set[str] = field(default_factory=set)
    update_ids: set[str] = field(default_factory=set)
    #: incident -> [(event time, kind, unit)] of its lifecycle updates
    updates: dict[str, list[tuple[datetime, str, str | None]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    #: case id -> (case type, incident) of its filing; case ids solved
    filed: dict[str, tuple[str, str]] = field(default_factory=dict)
    solved: set[str] = field(default_factory=set)


def across_the_evening_shift_change(city_minutes: int, tz: ZoneInfo) -> datetime:
    """A start for a load of ``city_minutes`` whose middle is the city's 20:00 shift change
    (day crews off, night crews on, the busiest change of commitments), the latest one that
    ends at least three hours before now: every run crosses it, and every run of a seed is
    the same load (runs that started at whatever the wall clock said crossed it by chance,
    and their failures could not be reproduced)."""
    latest = datetime.now(UTC) - timedelta(hours=3, minutes=city_minutes)
    start = datetime.combine(latest.astimezone(tz).date(), time(20), tz) - timedelta(
        minutes=city_minutes / 2
    )
    if start > latest:
        start -= timedelta(days=1)
    return start.astimezone(UTC)


def make_load(
    seed: int, city_minutes: int, calls_per_hour: float, start: datetime | None = None
) -> Load:
    """Hundreds of incidents, most of them criminal or public order (so cases get filed),
    by default starting three hours ago: event time never comes near the wall clock, so the
    regions' clocks run on event time alone and wall-clock ticks change nothing."""
    if start is None:
        start = (datetime.now(UTC) - timedelta(hours=3)).replace(microsecond=0)
    config = SimConfig(
        start=start,
        duration_s=city_minutes * 60.0,
        seed=seed,
        calls_per_hour=calls_per_hour,
        telemetry_interval_s=60.0,
        off_duty_interval_s=3600.0,
        invalid_share=0.15,
        non_police_share=0.05,
        category_weights={
            IncidentCategory.CRIMINAL: 3.0,
            IncidentCategory.PUBLIC_ORDER: 2.0,
            IncidentCategory.DISPUTE: 1.0,
            IncidentCategory.TRAFFIC: 1.0,
        },
        criminal_case_share=1.0,
        admin_case_share=1.0,
        case_time_scale=0.0003,
    )
    load = Load(list(generate(config)))
    for event in load.events:
        body = orjson.loads(event.value)
        if event.topic == topics.INCIDENTS_REPORTED:
            load.incidents.add(body["incident_id"])
        elif event.topic == topics.INCIDENTS_UPDATES:
            load.update_ids.add(body["event_id"])
            kind, at = body["kind"], datetime.fromisoformat(body["at"])
            if kind == "case_filed":
                load.filed.setdefault(body["case_id"], (body["case_type"], body["incident_id"]))
            elif kind == "case_solved":
                load.solved.add(body["case_id"])
            else:
                load.updates[body["incident_id"]].append((at, kind, body.get("unit_id")))
    return load


def double_commitments(
    assignments: list[Assignment],
    load: Load,
    decided: dict[str, int],
    reached: dict[UpdateKey, int],
) -> list[str]:
    """Rebuild each unit's commitments from its decisions and the lifecycle updates.

    A decision naming a unit commits it from ``assigned_at`` until the earliest of: a later
    attempt of the same slot (re-dispatch after a decline, a timeout or a manual
    reassignment), the unit's own ``declined``, or the end of the incident (cleared, closed,
    cancelled). A second commitment of the unit to another incident must not start before
    the first one ends.

    "Before" in the order the region processed things, which event time alone does not give:
    an update read a second before an incident reported a second earlier frees the unit
    first (both inside the allowed lateness), and an end that came late (after an outage,
    read after the region had decided) frees it when it is read. So a second commitment
    counts as an overlap only if it started before the first one's end in event time AND
    its record was sent before that end reached the worker (the update's record time on the
    region stream, or the re-dispatch record's send time).
    """
    later: dict[tuple[str, int], list[Assignment]] = defaultdict(list)
    for a in assignments:
        later[(a.incident_id, a.slot)].append(a)
    # per unit: (start, end: (event time or None, wall ms) or None, incident, decision sent)
    Span = tuple[datetime, tuple[datetime | None, int] | None, str, int]
    spans: dict[str, list[Span]] = defaultdict(list)
    for a in assignments:
        if a.unit_id is None or a.outcome not in (
            AssignmentOutcome.ASSIGNED,
            AssignmentOutcome.MANUAL,
            AssignmentOutcome.OUT_OF_AREA,
        ):
            continue
        ends: list[tuple[datetime | None, int]] = [
            (b.assigned_at, decided[b.assignment_id])
            for b in later[(a.incident_id, a.slot)]
            if b.attempt > a.attempt and b.assigned_at >= a.assigned_at
        ]
        for at, kind, unit in load.updates.get(a.incident_id, ()):
            if kind in ENDING or (kind == "declined" and unit == a.unit_id):
                wall = reached.get((a.incident_id, kind, unit, at))
                if wall is not None:  # late (before the decision): freed when it was read
                    ends.append((at if at >= a.assigned_at else None, wall))
        end = min(ends, key=lambda e: e[1], default=None)
        spans[a.unit_id].append((a.assigned_at, end, a.incident_id, decided[a.assignment_id]))
    found = []
    for unit_id, unit_spans in spans.items():
        unit_spans.sort(key=lambda span: (span[0], span[3]))
        for (_, end, first, _), (start, _, second, sent) in pairwise(unit_spans):
            if first == second:
                continue
            if end is None:
                overlap = True  # the first commitment never ended
            else:
                end_at, end_wall = end
                overlap = sent < end_wall and (end_at is None or start < end_at)
            if overlap:
                until = f"{end[0]:%H:%M:%S}" if end and end[0] else "its end"
                found.append(f"{unit_id}: {first} until {until}, {second} from {start:%T}")
    return found
