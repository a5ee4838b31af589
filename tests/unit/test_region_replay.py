"""The crash tests' simulated load through one region core, in input order, without Kafka.

Each load crosses a shift change of the demo city (crews come on and off duty at 00:00,
08:00, 16:00 and 20:00 local time, and the 110 centre dispatches some units by hand), the
moments a unit's commitments change most. The same check as the crash tests: no unit held
by two open incidents at once, every incident decided. This is how a unit a person took from
one call got handed to a second call in the same step: the exactly-once crash runs that
crossed 20:00 found it, and before the fix a sweep of this replay (3 seeds, a start every
30 minutes) found it in 9 of the first 27 loads; the unit test in test_region_core pins it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from schemas import topics
from schemas.dispatch import Assignment
from schemas.incidents import IncidentReported, IncidentUpdate
from schemas.units import UnitTelemetry
from streams.intake.decode import Accepted, decode, region_event
from streams.region.events import UpdateEvent
from tests.support.region_core import Harness
from tests.support.sim_load import UpdateKey, double_commitments, make_load

MODELS = {
    topics.INCIDENTS_REPORTED: IncidentReported,
    topics.INCIDENTS_UPDATES: IncidentUpdate,
    topics.UNITS_TELEMETRY: UnitTelemetry,
}


@pytest.mark.parametrize(
    ("seed", "start"),
    [
        (23, "2026-05-01T19:50:00+08:00"),  # the 20:00 change: day crews off, night crews on
        (23, "2026-05-01T19:55:00+08:00"),
        (22, "2026-05-01T07:50:00+08:00"),  # 08:00: night crews off, day and post crews on
        (21, "2026-05-01T15:50:00+08:00"),  # 16:00: community and post crews change
        (21, "2026-05-01T23:50:00+08:00"),  # midnight: post crews change
    ],
)
def test_no_unit_is_held_by_two_open_incidents_across_a_shift_change(seed: int, start: str) -> None:
    load = make_load(seed, city_minutes=20, calls_per_hour=600, start=datetime.fromisoformat(start))
    region = Harness()
    decided: dict[str, int] = {}  # assignment id -> input position that decided it
    reached: dict[UpdateKey, int] = {}  # lifecycle update -> its input position
    assignments: list[Assignment] = []
    for position, record in enumerate(load.events):
        key = record.key.encode() if record.key else None
        read_at = record.event_time + timedelta(seconds=1)
        verdict = decode(MODELS[record.topic], record.value, None, key, now=read_at)
        if not isinstance(verdict, Accepted):
            continue  # the load's invalid share: dead-lettered by intake
        event = region_event(verdict)
        if isinstance(event, UpdateEvent):
            u = event.update
            reached.setdefault((u.incident_id, u.kind.value, u.unit_id, u.at), position)
        for assignment in region.send(event):
            decided[assignment.assignment_id] = position
            assignments.append(assignment)

    assert double_commitments(assignments, load, decided, reached) == []
    assert len(load.incidents) > 100
    assert {a.incident_id for a in assignments} == load.incidents  # every call decided
    assert len(decided) == len(assignments)  # each id decided once
