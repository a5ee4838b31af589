"""What the routing and region agents do with one event, over plain mutable mappings.

The agents pass Faust tables (durable, changelogged) as the mappings; tests pass dicts. Nothing
here imports Faust or Kafka.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

import orjson

from schemas.incidents import CASE_KINDS, IncidentUpdate, UpdateKind
from schemas.units import UnitStatus
from streams.city.model import City
from streams.dispatch.lifecycle import Effects, RegionDispatch
from streams.dispatch.policy import DispatchPolicy
from streams.dispatch.records import IncidentPhase, IncidentRecord, UnitRecord
from streams.region.clock import RegionClock
from streams.region.events import (
    AnyEvent,
    CaseEvent,
    IncidentEvent,
    TelemetryEvent,
    TickEvent,
    UpdateEvent,
    decode,
    encode,
    event_time,
)
from streams.region.routing import home_region, locate_incident

Table = MutableMapping[str, bytes]

#: Updates for an incident not seen yet wait here (never dropped); this many per incident.
MAX_PARKED_PER_INCIDENT = 200


@dataclass
class Routed:
    """Events to forward to the region stream, and what routing could not place yet."""

    forward: list[AnyEvent] = field(default_factory=list)
    parked: int = 0
    handoff: bool = False


class Router:
    """Routing memory: incident -> region, unit -> home region, parked early updates."""

    def __init__(self, city: City, routes: Table, homes: Table, parked: Table) -> None:
        self.city, self.routes, self.homes, self.parked = city, routes, homes, parked

    def route(self, event: AnyEvent) -> Routed:
        if isinstance(event, IncidentEvent):
            return self._incident(event)
        if isinstance(event, UpdateEvent):
            return self._update(event)
        if isinstance(event, TelemetryEvent):
            return self._telemetry(event)
        return Routed(forward=[event])

    def _incident(self, event: IncidentEvent) -> Routed:
        incident_id = event.incident.incident_id
        known = self.routes.get(incident_id)
        if known is not None:  # a repeated report goes where the first went (region dedups)
            region, zone = known.decode(), event.incident.zone_id
        else:
            region, zone = locate_incident(self.city, event.incident)
            self.routes[incident_id] = region.encode()
        facts = event.incident.model_copy(update={"zone_id": zone})
        routed = Routed(forward=[IncidentEvent(region_id=region, incident=facts)])
        waiting = self.parked.pop(incident_id, None)
        if waiting is not None:  # updates that arrived before their incident, in order
            for raw in orjson.loads(waiting):
                update = decode(raw.encode())
                assert isinstance(update, UpdateEvent)
                routed.forward.append(update.model_copy(update={"region_id": region}))
        return routed

    def _update(self, event: UpdateEvent) -> Routed:
        incident_id = event.update.incident_id
        region = self.routes.get(incident_id)
        if region is not None:
            return Routed(forward=[event.model_copy(update={"region_id": region.decode()})])
        waiting: list[str] = orjson.loads(self.parked.get(incident_id, b"[]"))
        if len(waiting) < MAX_PARKED_PER_INCIDENT:
            waiting.append(encode(event).decode())
            self.parked[incident_id] = orjson.dumps(waiting)
        # Past the cap the oldest are kept and the excess is reported (see agents' metric).
        return Routed(parked=1)

    def _telemetry(self, event: TelemetryEvent) -> Routed:
        unit_id = event.telemetry.unit_id
        known = self.homes.get(unit_id)
        home = home_region(self.city, event.telemetry, known.decode() if known else None)
        routed = Routed(forward=[event.model_copy(update={"region_id": home})])
        if known is None or known.decode() != home:
            self.homes[unit_id] = home.encode()
            if known is not None:
                # Handoff: the old region stops dispatching the unit at once.
                routed.handoff = True
                gone = event.telemetry.model_copy(update={"status": UnitStatus.OUT_OF_SERVICE})
                routed.forward.insert(0, TelemetryEvent(region_id=known.decode(), telemetry=gone))
        return routed


@dataclass
class RegionOutput:
    """Everything one region event produced: dispatch effects and case facts for clearance."""

    dispatch: Effects
    cases: list[CaseEvent] = field(default_factory=list)
    #: (category, seconds from report to cleared) when this event cleared an open incident.
    cleared: tuple[str, float] | None = None


def case_event(
    update: IncidentUpdate, incident: IncidentRecord | None, region_id: str
) -> CaseEvent | None:
    """The clearance ledger's view of a case update (None for lifecycle updates)."""
    if update.kind not in CASE_KINDS or update.case_id is None or update.case_type is None:
        return None
    return CaseEvent(
        kind=update.kind.value,
        case_id=update.case_id,
        case_type=update.case_type,
        incident_id=update.incident_id,
        zone_id=incident.facts.zone_id if incident else None,
        region_id=region_id,
        at=update.at,
    )


class RegionProcessor:
    """The region core of one worker: dispatch state and a clock per region it owns."""

    def __init__(
        self,
        city: City,
        policy: DispatchPolicy,
        units: Table,
        incidents: Table,
        clocks: Table,
        *,
        lateness: timedelta,
        live_window: timedelta,
    ) -> None:
        self.city, self.policy = city, policy
        self.units, self.incidents, self.clocks = units, incidents, clocks
        self.lateness, self.live_window = lateness, live_window
        self.regions: dict[str, tuple[RegionDispatch, RegionClock]] = {}

    def forget(self) -> None:
        """Partitions were revoked: rebuild from the tables when events come back."""
        self.regions.clear()

    def state(self, region_id: str) -> tuple[RegionDispatch, RegionClock]:
        if region_id not in self.regions:
            self.regions[region_id] = self._restore(region_id)
        return self.regions[region_id]

    def process(self, event: AnyEvent) -> RegionOutput:
        assert event.region_id is not None, "region events are routed"
        dispatch, clock = self.state(event.region_id)
        output = RegionOutput(Effects())
        if isinstance(event, TickEvent):
            if not clock.tick(event.wall):
                return RegionOutput(Effects(ignored="tick_not_live"))
            output.dispatch = dispatch.on_clock(self._watermark(clock))
            self._save_clock(event.region_id, clock)
        else:
            clock.observe(event_time(event))
            effects = output.dispatch = dispatch.on_clock(self._watermark(clock))
            if isinstance(event, IncidentEvent):
                effects.merge(dispatch.on_incident(event.incident))
            elif isinstance(event, UpdateEvent):
                incident = dispatch.incidents.get(event.update.incident_id)
                case = case_event(event.update, incident, event.region_id)
                if case is not None:
                    output.cases.append(case)
                else:
                    was_open = incident is not None and incident.phase is IncidentPhase.OPEN
                    effects.merge(dispatch.on_update(event.update))
                    if (
                        was_open
                        and incident is not None
                        and event.update.kind is UpdateKind.CLEARED
                    ):
                        took = (event.update.at - incident.facts.reported_at).total_seconds()
                        output.cleared = (incident.facts.category.value, max(took, 0.0))
            else:
                effects.merge(dispatch.on_telemetry(event.telemetry))
        self._persist(dispatch, output.dispatch)
        return output

    def _persist(self, dispatch: RegionDispatch, effects: Effects) -> None:
        for unit_id in effects.units:
            self.units[unit_id] = dispatch.units[unit_id].to_bytes()
        for incident_id in effects.incidents:
            self.incidents[incident_id] = dispatch.incidents[incident_id].to_bytes()

    def _restore(self, region_id: str) -> tuple[RegionDispatch, RegionClock]:
        units = [u for u in _records(self.units, UnitRecord) if u.region_id == region_id]
        incidents = [
            i for i in _records(self.incidents, IncidentRecord) if i.region_id == region_id
        ]
        clock = RegionClock(lateness=self.lateness, live_window=self.live_window)
        saved = self.clocks.get(region_id)
        if saved is not None:
            restored = orjson.loads(saved)
            clock.max_event_time = _dt(restored.get("max_event_time"))
            clock.watermark = _dt(restored.get("watermark"))
        return RegionDispatch(region_id, self.city, self.policy, units, incidents), clock

    def _save_clock(self, region_id: str, clock: RegionClock) -> None:
        self.clocks[region_id] = orjson.dumps(
            {
                "max_event_time": clock.max_event_time.isoformat()
                if clock.max_event_time
                else None,
                "watermark": clock.watermark.isoformat() if clock.watermark else None,
            }
        )

    @staticmethod
    def _watermark(clock: RegionClock) -> datetime:
        assert clock.watermark is not None
        return clock.watermark


R = TypeVar("R", UnitRecord, IncidentRecord)


def _records(table: Table, model: type[R]) -> Iterator[R]:
    for value in table.values():
        yield model.model_validate_json(value)


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None
