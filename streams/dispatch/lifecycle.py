"""Dispatch of one region as a state machine: commitment, re-dispatch, release. Pure logic.

The region agent feeds it events in order and persists what it marks dirty; it never touches
Faust or Kafka. Rules (see ../shared/decisions.md, "Unit status"):

- Assigning a unit commits it at once: it leaves the spatial index, so the next incident cannot
  take it. Telemetry saying ``available`` does not free a committed unit (terminals lag).
- A unit is freed by ``cleared``/``closed``/``cancelled`` of its incident, its own ``declined``,
  or the acknowledgement timeout. A decline or timeout re-dispatches the slot to the next best
  unit, never to one that already failed on this incident; at the policy's maximum failures
  the slot is reported ``unfilled``.
- A slot nobody can fill gets one ``unassigned`` record and is retried when a unit frees up.
- Every record's id is a function of (incident, slot, attempt), where ``attempt`` numbers the
  decisions of a slot (1, 2, ...): a replay after a crash writes the same ids.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from schemas.dispatch import Assignment, AssignmentOutcome, assignment_id_for
from schemas.incidents import IncidentCategory, IncidentUpdate, UpdateKind
from schemas.units import Force, UnitStatus, UnitTelemetry
from streams.city.model import City
from streams.dispatch.policy import DispatchPolicy, SlotSpec
from streams.dispatch.records import (
    IncidentPhase,
    IncidentRecord,
    SlotRecord,
    SlotState,
    UnitRecord,
)
from streams.dispatch.selection import Choice, IncidentView, UnitView, choose
from streams.dispatch.spatial import UnitIndex
from streams.region.events import IncidentFacts

NEVER_DISPATCHED = frozenset({IncidentCategory.INVALID, IncidentCategory.NON_POLICE})
ENDING_KINDS = frozenset({UpdateKind.CLEARED, UpdateKind.CLOSED, UpdateKind.CANCELLED})
#: A unit on its way or on scene has evidently accepted the job.
IMPLIES_ACK = frozenset({UpdateKind.ACKNOWLEDGED, UpdateKind.EN_ROUTE, UpdateKind.ARRIVED})
#: Outside every zone no zone default applies: the national suburban norm (10 minutes).
OUT_OF_AREA_TARGET_S = 600


@dataclass
class Effects:
    """What one event changed: records to send and table rows to write."""

    assignments: list[Assignment] = field(default_factory=list)
    units: set[str] = field(default_factory=set)
    incidents: set[str] = field(default_factory=set)
    #: Why the event changed nothing, for metrics (``None`` when it did something).
    ignored: str | None = None
    redispatches: int = 0

    def merge(self, other: Effects) -> None:
        self.assignments += other.assignments
        self.units |= other.units
        self.incidents |= other.incidents
        self.redispatches += other.redispatches
        self.ignored = self.ignored or other.ignored


def unit_view(unit: UnitRecord) -> UnitView:
    return UnitView(
        unit_id=unit.unit_id,
        force=unit.force,
        lat=unit.lat,
        lon=unit.lon,
        status=unit.status,
        last_seen=unit.last_seen,
        zone_id=unit.zone_id,
        post_id=unit.post_id,
    )


class RegionDispatch:
    """Dispatch state of one region, rebuilt from its table rows after a restart."""

    def __init__(
        self,
        region_id: str,
        city: City,
        policy: DispatchPolicy,
        units: Iterable[UnitRecord] = (),
        incidents: Iterable[IncidentRecord] = (),
    ) -> None:
        self.region_id = region_id
        self.city = city
        self.policy = policy
        self.units: dict[str, UnitRecord] = {u.unit_id: u for u in units}
        self.incidents: dict[str, IncidentRecord] = {i.incident_id: i for i in incidents}
        self.index = UnitIndex.for_city(city)
        self.pending: set[str] = set()
        self._deadlines: list[tuple[datetime, str, int, int]] = []
        #: The region clock (watermark) last shown to ``on_clock``: no decision is older.
        self.clock: datetime | None = None
        #: Units a person dispatched before they reported here: unit -> (incident, slot).
        #: Committed when their first report arrives, if the slot still holds them.
        self.unseen_manual: dict[str, tuple[str, int]] = {}
        for unit in self.units.values():
            if unit.free:
                self.index.upsert(unit_view(unit))
        for incident in self.incidents.values():
            self._track(incident)

    # --- inputs ----------------------------------------------------------------------------

    def on_telemetry(self, t: UnitTelemetry) -> Effects:
        unit = self.units.get(t.unit_id)
        if unit is not None and t.at <= unit.last_seen:
            return Effects(ignored="out_of_order_telemetry")
        zone = self.city.zone_at(t.location.lat, t.location.lon)
        was_dispatchable = unit is not None and unit.unit_id in self.index
        if unit is None:
            unit = UnitRecord(
                unit_id=t.unit_id,
                region_id=self.region_id,
                force=t.force,
                lat=t.location.lat,
                lon=t.location.lon,
                status=t.status,
                last_seen=t.at,
            )
            self.units[t.unit_id] = unit
            self._commit_if_held(unit)
        unit.lat, unit.lon, unit.status, unit.last_seen = (
            t.location.lat,
            t.location.lon,
            t.status,
            t.at,
        )
        unit.force, unit.post_id, unit.speed_mps = t.force, t.post_id, t.speed_mps
        unit.zone_id = zone.zone_id if zone else None
        effects = Effects(units={unit.unit_id})
        if unit.free:
            self.index.upsert(unit_view(unit))
            if not was_dispatchable:
                effects.merge(self._retry_pending(t.at))
        else:
            self.index.remove(unit.unit_id)
        return effects

    def on_incident(self, facts: IncidentFacts, *, target_s: int | None = None) -> Effects:
        if facts.incident_id in self.incidents:
            return Effects(ignored="duplicate_incident")
        incident = IncidentRecord(
            facts=facts,
            region_id=self.region_id,
            target_s=target_s if target_s is not None else self._target_s(facts),
        )
        self.incidents[facts.incident_id] = incident
        effects = Effects(incidents={facts.incident_id})
        now = facts.reported_at
        if facts.category in NEVER_DISPATCHED:
            effects.assignments.append(
                self._record(
                    incident,
                    slot=0,
                    attempt=1,
                    outcome=AssignmentOutcome.NOT_DISPATCHED,
                    at=now,
                    reason=f"category_{facts.category.value}",
                )
            )
            incident.phase, incident.ended_at = IncidentPhase.ENDED, now
            return effects
        if facts.zone_id is None:
            # Outside every zone: routed to the nearest region, decided by a person there.
            effects.assignments.append(
                self._record(
                    incident,
                    slot=0,
                    attempt=1,
                    outcome=AssignmentOutcome.OUT_OF_AREA,
                    at=now,
                    reason="outside_every_zone",
                )
            )
            return effects
        cards = self.policy.run_cards[(facts.category, facts.priority)]
        incident.slots = [
            SlotRecord(index=i, label=spec.label, forces=tuple(sorted(spec.forces)))
            for i, spec in enumerate(cards)
        ]
        effects.merge(self._fill(incident, now))
        return effects

    def on_update(self, u: IncidentUpdate) -> Effects:
        incident = self.incidents.get(u.incident_id)
        if incident is None:
            return Effects(ignored="unknown_incident")
        if incident.phase is IncidentPhase.ENDED:
            return Effects(ignored="incident_ended")
        if u.kind in ENDING_KINDS:
            return self._end(incident, u.at)
        if u.kind is UpdateKind.DISPATCHED and u.unit_id is not None:
            return self._manual(incident, u.unit_id, u.at)
        slot = self._slot_of(incident, u.unit_id)
        if slot is None:
            return Effects(ignored="unit_not_on_incident")
        if u.kind in IMPLIES_ACK:
            if slot.acknowledged:
                return Effects(ignored="already_acknowledged")
            slot.acknowledged, slot.ack_deadline = True, None
            return Effects(incidents={incident.incident_id})
        if u.kind is UpdateKind.DECLINED:
            return self._fail(incident, slot, u.at, reason="declined")
        return Effects(ignored="not_a_dispatch_event")

    def on_clock(self, watermark: datetime) -> Effects:
        """Fire acknowledgement timeouts whose deadline the watermark has passed."""
        effects = Effects()
        while self._deadlines and self._deadlines[0][0] <= watermark:
            deadline, incident_id, index, attempt = heapq.heappop(self._deadlines)
            incident = self.incidents.get(incident_id)
            if incident is None or incident.phase is IncidentPhase.ENDED:
                continue
            slot = _slot_numbered(incident, index)
            if (
                slot.state is SlotState.ASSIGNED
                and slot.attempt == attempt
                and not slot.acknowledged
                and slot.ack_deadline == deadline
            ):
                effects.merge(self._fail(incident, slot, deadline, reason="ack_timeout"))
        # After the deadlines: each was decided at its own time (later than the last clock).
        if self.clock is None or watermark > self.clock:
            self.clock = watermark
        return effects

    # --- state for gauges ------------------------------------------------------------------

    def available_by_force(self, now: datetime | None) -> dict[str, int]:
        """Free units reporting ``available`` with fresh telemetry, per force (all forces)."""
        counts = {force.value: 0 for force in Force}
        stale = timedelta(seconds=self.policy.stale_after_s)
        for unit in self.units.values():
            if (
                unit.free
                and unit.status is UnitStatus.AVAILABLE
                and (now is None or now - unit.last_seen <= stale)
            ):
                counts[unit.force.value] += 1
        return counts

    def open_incident_count(self) -> int:
        return sum(1 for i in self.incidents.values() if i.phase is IncidentPhase.OPEN)

    # --- decisions -------------------------------------------------------------------------

    def _fill(self, incident: IncidentRecord, now: datetime) -> Effects:
        """Offer every pending slot of ``incident`` to the best eligible units."""
        effects = Effects(incidents={incident.incident_id})
        open_slots = [s for s in incident.slots if s.state is SlotState.PENDING]
        if not open_slots:
            self.pending.discard(incident.incident_id)
            return effects
        facts = incident.facts
        view = IncidentView(
            incident_id=facts.incident_id,
            category=facts.category,
            priority=facts.priority,
            lat=facts.lat,
            lon=facts.lon,
            zone_id=facts.zone_id,
        )
        assigned_forces = [
            self.units[s.unit_id].force
            for s in incident.slots
            if s.state is SlotState.ASSIGNED and s.unit_id in self.units
        ]
        choices = choose(
            view,
            [(s.index, self._spec(s)) for s in open_slots],
            self.index,
            now=now,
            policy=self.policy,
            city=self.city,
            exclude=frozenset(incident.tried),
            assigned_forces=assigned_forces,
        )
        for choice in choices:
            slot = _slot_numbered(incident, choice.slot_index)
            if choice.unit is not None:
                self._commit(incident, slot, choice, now, effects)
            elif not slot.waiting_reported:
                slot.attempt += 1
                slot.waiting_reported = True
                effects.assignments.append(
                    self._record(
                        incident,
                        slot=slot.index,
                        attempt=slot.attempt,
                        outcome=AssignmentOutcome.UNASSIGNED,
                        at=now,
                        reason=choice.reason,
                    )
                )
        still_pending = any(s.state is SlotState.PENDING for s in incident.slots)
        (self.pending.add if still_pending else self.pending.discard)(incident.incident_id)
        return effects

    def _commit(
        self,
        incident: IncidentRecord,
        slot: SlotRecord,
        choice: Choice,
        now: datetime,
        effects: Effects,
    ) -> None:
        assert choice.unit is not None
        now = self._stamp(now)
        unit = self.units[choice.unit.unit_id]
        unit.committed_to, unit.committed_slot = incident.incident_id, slot.index
        self.index.remove(unit.unit_id)
        slot.attempt += 1
        slot.state, slot.unit_id, slot.assigned_at = SlotState.ASSIGNED, unit.unit_id, now
        slot.acknowledged, slot.waiting_reported = False, False
        slot.ack_deadline = now + timedelta(seconds=self.policy.ack_timeout_s)
        heapq.heappush(
            self._deadlines, (slot.ack_deadline, incident.incident_id, slot.index, slot.attempt)
        )
        effects.units.add(unit.unit_id)
        effects.assignments.append(
            self._record(
                incident,
                slot=slot.index,
                attempt=slot.attempt,
                outcome=AssignmentOutcome.ASSIGNED,
                at=now,
                reason=choice.reason,
                unit=unit,
                eta_s=choice.eta_s,
                distance_m=choice.route_distance_m,
                post_uncovered=choice.post_uncovered,
            )
        )

    def _fail(
        self, incident: IncidentRecord, slot: SlotRecord, at: datetime, reason: str
    ) -> Effects:
        """A decline or an acknowledgement timeout: free the unit, try the next best."""
        effects = Effects(incidents={incident.incident_id}, redispatches=1)
        if slot.unit_id is not None:
            incident.tried.append(slot.unit_id)
            effects.units.add(slot.unit_id)
            self._release_unit(slot.unit_id, incident.incident_id)
        slot.failures += 1
        slot.unit_id, slot.ack_deadline, slot.acknowledged = None, None, False
        if slot.failures >= self.policy.max_attempts_per_slot:
            slot.state = SlotState.UNFILLED
            slot.attempt += 1
            effects.assignments.append(
                self._record(
                    incident,
                    slot=slot.index,
                    attempt=slot.attempt,
                    outcome=AssignmentOutcome.UNFILLED,
                    at=at,
                    reason=f"{reason}_limit",
                )
            )
        else:
            slot.state = SlotState.PENDING
            effects.merge(self._fill(incident, at))
        effects.merge(self._retry_pending(at, skip=incident.incident_id))
        return effects

    def _end(self, incident: IncidentRecord, at: datetime) -> Effects:
        effects = Effects(incidents={incident.incident_id})
        for slot in incident.slots:
            if slot.state is SlotState.ASSIGNED and slot.unit_id is not None:
                effects.units.add(slot.unit_id)
                self._release_unit(slot.unit_id, incident.incident_id)
            if slot.state in (SlotState.ASSIGNED, SlotState.PENDING):
                slot.state, slot.ack_deadline = SlotState.RELEASED, None
        incident.phase, incident.ended_at = IncidentPhase.ENDED, at
        self.pending.discard(incident.incident_id)
        if effects.units:
            effects.merge(self._retry_pending(at))
        return effects

    def _manual(self, incident: IncidentRecord, unit_id: str, at: datetime) -> Effects:
        """A person upstream assigned a unit: record it and commit the unit here too."""
        effects = Effects(incidents={incident.incident_id})
        unit = self.units.get(unit_id)
        if unit is not None and unit.committed_to == incident.incident_id:
            return Effects(ignored="already_assigned")
        other = self.incidents.get(unit.committed_to) if unit and unit.committed_to else None
        previous = self._slot_of(other, unit_id) if other else None
        slot = SlotRecord(
            index=_next_slot_index(incident),
            label="manual",
            forces=(unit.force,) if unit else (),
            manual=True,
            attempt=1,
            state=SlotState.ASSIGNED,
            unit_id=unit_id,
            assigned_at=self._stamp(at),
            acknowledged=True,
        )
        incident.slots.append(slot)
        if unit is not None:
            unit.committed_to, unit.committed_slot = incident.incident_id, slot.index
            self.index.remove(unit_id)
            effects.units.add(unit_id)
        else:  # not reported here yet (reordered inputs, a unit from elsewhere): held for it
            self.unseen_manual[unit_id] = (incident.incident_id, slot.index)
        if other is not None and previous is not None:
            # The person's decision wins: the unit's earlier slot is re-dispatched. Committed
            # here first, so that re-dispatch cannot offer the unit back to a waiting incident
            # (it did: at a shift change the crash test saw a unit taken by a person and, in
            # the same step, assigned again to another call until that one timed out).
            effects.merge(self._fail(other, previous, at, reason="reassigned_manually"))
        effects.assignments.append(
            self._record(
                incident,
                slot=slot.index,
                attempt=1,
                outcome=AssignmentOutcome.MANUAL,
                at=at,
                reason="dispatched_upstream",
                unit=unit,
                unit_id=unit_id,
            )
        )
        return effects

    def _retry_pending(self, now: datetime, skip: str | None = None) -> Effects:
        """A unit freed up: offer it to waiting incidents, most urgent and oldest first."""
        effects = Effects()
        waiting = sorted(
            (self.incidents[i] for i in self.pending if i != skip),
            key=lambda inc: (inc.facts.priority, inc.facts.reported_at, inc.incident_id),
        )
        for incident in waiting:
            if not len(self.index):
                break
            effects.merge(self._fill(incident, now))
        return effects

    # --- helpers ---------------------------------------------------------------------------

    def _release_unit(self, unit_id: str, incident_id: str) -> None:
        """Free a unit from ``incident_id``; a unit committed elsewhere meanwhile stays so."""
        unit = self.units.get(unit_id)
        if unit is None or unit.committed_to != incident_id:
            return
        unit.committed_to = unit.committed_slot = None
        if unit.free:
            self.index.upsert(unit_view(unit))

    def _stamp(self, at: datetime) -> datetime:
        """When a decision caused by something at ``at`` is made: the region clock if that
        came late (the watermark had passed it). Stamped with a late event's own time, a
        unit's acknowledgement window could start already expired, and a unit freed at a
        deadline looked committed to its next incident before it was freed (the kill -9
        test's backlogs: 51 units "committed twice at once"). Deadlines fire before the
        clock moves on, so each is decided at its own time; stamps never go back."""
        return at if self.clock is None or at >= self.clock else self.clock

    def _slot_of(self, incident: IncidentRecord, unit_id: str | None) -> SlotRecord | None:
        for slot in incident.slots:
            if slot.state is SlotState.ASSIGNED and slot.unit_id == unit_id:
                return slot
        return None

    def _spec(self, slot: SlotRecord) -> SlotSpec:
        return SlotSpec(forces=frozenset(slot.forces), label=slot.label)

    def _target_s(self, facts: IncidentFacts) -> int:
        zone = self.city.zones.get(facts.zone_id) if facts.zone_id else None
        return zone.default_target_s if zone else OUT_OF_AREA_TARGET_S

    def _commit_if_held(self, unit: UnitRecord) -> None:
        """A unit's first report: committed if a person dispatched it before, still held."""
        held = self.unseen_manual.pop(unit.unit_id, None)
        incident = self.incidents.get(held[0]) if held else None
        if held is None or incident is None or incident.phase is IncidentPhase.ENDED:
            return
        slot = _slot_numbered(incident, held[1])
        if slot.state is SlotState.ASSIGNED and slot.unit_id == unit.unit_id:
            unit.committed_to, unit.committed_slot = incident.incident_id, slot.index

    def _track(self, incident: IncidentRecord) -> None:
        """Rebuild the pending set, the deadline heap and the units held before they
        reported from a restored incident."""
        if incident.phase is IncidentPhase.ENDED:
            return
        for slot in incident.slots:
            unit_id = slot.unit_id if slot.state is SlotState.ASSIGNED else None
            if unit_id is not None and unit_id not in self.units:
                self.unseen_manual[unit_id] = (incident.incident_id, slot.index)
            if slot.state is SlotState.PENDING:
                self.pending.add(incident.incident_id)
            elif slot.state is SlotState.ASSIGNED and slot.ack_deadline and not slot.acknowledged:
                heapq.heappush(
                    self._deadlines,
                    (slot.ack_deadline, incident.incident_id, slot.index, slot.attempt),
                )

    def _record(
        self,
        incident: IncidentRecord,
        *,
        slot: int,
        attempt: int,
        outcome: AssignmentOutcome,
        at: datetime,
        reason: str,
        unit: UnitRecord | None = None,
        unit_id: str | None = None,
        eta_s: float | None = None,
        distance_m: float | None = None,
        post_uncovered: str | None = None,
    ) -> Assignment:
        facts = incident.facts
        return Assignment(
            assignment_id=assignment_id_for(facts.incident_id, slot, attempt),
            incident_id=facts.incident_id,
            slot=slot,
            attempt=attempt,
            outcome=outcome,
            unit_id=unit.unit_id if unit else unit_id,
            force=unit.force if unit else None,
            zone_id=facts.zone_id,
            region_id=self.region_id,
            assigned_at=self._stamp(at),
            eta_s=round(eta_s, 1) if eta_s is not None else None,
            distance_m=round(distance_m, 1) if distance_m is not None else None,
            target_s=incident.target_s,
            reason=reason,
            post_uncovered=post_uncovered is not None,
            post_id=post_uncovered,
        )


def _next_slot_index(incident: IncidentRecord) -> int:
    """The number of a slot added to ``incident`` (a person's dispatch): never one in use.

    A slot's number is part of its records' assignment_id. An out-of-area incident has no
    slots, but its out_of_area record took number 0; and each manual dispatch adds a slot.
    Counting the slots (the first way) gave a second manual dispatch to an out-of-area call the
    number of the first, i.e. its id (the exactly-once crash test found one id with two units).
    """
    reserved = 1 if incident.facts.zone_id is None else 0
    return max([reserved, *(slot.index + 1 for slot in incident.slots)])


def _slot_numbered(incident: IncidentRecord, index: int) -> SlotRecord:
    """A slot by its number (not its position: an out-of-area incident's slots start at 1)."""
    for slot in incident.slots:
        if slot.index == index:
            return slot
    raise KeyError(f"{incident.incident_id} has no slot {index}")
