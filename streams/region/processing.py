"""What the routing and region agents do with one event, over plain mutable mappings.

The agents pass Faust tables (durable, changelogged) as the mappings; tests pass dicts. Nothing
here imports Faust or Kafka.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
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
    ArrivalFact,
    CaseEvent,
    IncidentEvent,
    IncidentFacts,
    LedgerFact,
    ReportedFact,
    TelemetryEvent,
    TickEvent,
    UpdateEvent,
    decode,
    encode,
    event_time,
)
from streams.region.routing import (
    decode_home,
    encode_home,
    home_region,
    locate_incident,
    seen_before,
)
from streams.response.config import ResponseConfig
from streams.response.engine import RegionResponse, ResponseEffects
from streams.response.intervals import IntervalKind
from streams.response.records import IncidentWatch, PostWatch, UnitWatch

Table = MutableMapping[str, bytes]

#: Updates for an incident not seen yet wait here (never dropped); this many per incident.
MAX_PARKED_PER_INCIDENT = 200


@dataclass
class Routed:
    """Events to forward to the region stream, and what routing could not place yet."""

    forward: list[AnyEvent] = field(default_factory=list)
    parked: int = 0
    handoff: bool = False
    #: A lifecycle update routed before (same id or natural key): dropped, counted.
    duplicate: bool = False


class Router:
    """Routing memory: incident -> region, unit -> home region, parked early updates."""

    def __init__(
        self, city: City, routes: Table, homes: Table, parked: Table, seen: Table | None = None
    ) -> None:
        self.city, self.routes, self.homes, self.parked = city, routes, homes, parked
        self.seen = seen  # ids of the updates routed per incident (see routing.seen_before)

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
        if self.seen is not None and seen_before(self.seen, event.update):
            return Routed(duplicate=True)
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
        known, since = decode_home(self.homes.get(unit_id))
        home = home_region(self.city, event.telemetry, known, since)
        routed = Routed(forward=[event.model_copy(update={"region_id": home})])
        if known is None or known != home:
            self.homes[unit_id] = encode_home(home, event.telemetry.at)
            if known is not None:
                # Handoff: the old region stops dispatching the unit at once.
                routed.handoff = True
                gone = event.telemetry.model_copy(update={"status": UnitStatus.OUT_OF_SERVICE})
                routed.forward.insert(0, TelemetryEvent(region_id=known, telemetry=gone))
        return routed


@dataclass
class RegionOutput:
    """Everything one region event produced: dispatch effects and case facts for clearance."""

    dispatch: Effects
    response: ResponseEffects = field(default_factory=ResponseEffects)
    #: Facts for the clearance ledger: cases filed/solved, incidents reported, first arrivals.
    cases: list[LedgerFact] = field(default_factory=list)
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


def reported_fact(facts: IncidentFacts, region_id: str) -> ReportedFact:
    """The ledger's count of an incident reported (sent for its first report only)."""
    return ReportedFact(
        incident_id=facts.incident_id,
        category=facts.category,
        zone_id=facts.zone_id,
        region_id=region_id,
        at=facts.reported_at,
    )


def arrival_facts(effects: ResponseEffects, response: RegionResponse) -> list[ArrivalFact]:
    """A first-arrival fact per ``response`` interval reported (first time or corrected).

    The engine reports an interval once, and again only when a late event changes it, so a
    fact is sent once per incident unless corrected; the ledger keys them by incident id.
    """
    facts = []
    for interval in effects.intervals:
        watch = response.incidents.get(interval.incident_id)
        if interval.kind is not IntervalKind.RESPONSE or watch is None:
            continue
        facts.append(
            ArrivalFact(
                incident_id=watch.incident_id,
                zone_id=watch.zone_id,
                region_id=watch.region_id,
                at=watch.reported_at,
                tier=interval.tier,
                target_s=watch.target_s,
                seconds=interval.seconds,
                within_target=bool(interval.within_target),
                inferred=interval.inferred,
            )
        )
    return facts


@dataclass(frozen=True)
class RegionTables:
    """The region core's durable state: dispatch rows, response watches, clocks.

    ``units`` holds one row per unit and region with both dispatch's record and response's
    watch of it (``unit_row``): a telemetry fix changes both, and one table write per fix
    instead of two is the largest single saving of worker CPU (docs/benchmarks.md).
    """

    units: Table
    incidents: Table
    clocks: Table
    incident_watches: Table
    post_watches: Table


@dataclass
class RegionState:
    dispatch: RegionDispatch
    response: RegionResponse
    clock: RegionClock
    #: The watermark last written to the clocks table (None: never).
    saved_watermark: datetime | None = None


class RegionProcessor:
    """The region core of one worker: dispatch, response and a clock per region it owns.

    Per event: the clock observes its time; deadlines the watermark passed fire (dispatch's
    acknowledgement timeouts, then response deadlines); then the event goes to dispatch and
    to response, and every dispatch record is shown to response, in the order written.
    """

    def __init__(
        self,
        city: City,
        policy: DispatchPolicy,
        tables: RegionTables,
        *,
        response_config: ResponseConfig,
        lateness: timedelta,
        live_window: timedelta,
        wall_clock: Callable[[], datetime | None] = lambda: datetime.now(UTC),
    ) -> None:
        """``wall_clock``: when an input is read (for the live clock); returning None means
        "at its own event time" (tests and simulations without a wall clock)."""
        self.wall_clock = wall_clock
        self.city, self.policy, self.tables = city, policy, tables
        self.response_config = response_config
        self.lateness, self.live_window = lateness, live_window
        self.regions: dict[str, RegionState] = {}

    def forget(self) -> None:
        """Partitions were revoked: rebuild from the tables when events come back."""
        self.regions.clear()

    def forget_region(self, region_id: str) -> None:
        """Drop one region's state in memory: its next event rebuilds it from the tables."""
        self.regions.pop(region_id, None)

    def state(self, region_id: str) -> RegionState:
        if region_id not in self.regions:
            self.regions[region_id] = self._restore(region_id)
        return self.regions[region_id]

    def process(self, event: AnyEvent) -> RegionOutput:
        assert event.region_id is not None, "region events are routed"
        state = self.state(event.region_id)
        dispatch, response, clock = state.dispatch, state.response, state.clock
        output = RegionOutput(Effects())
        if isinstance(event, TickEvent):
            if not clock.tick(event.wall):
                return RegionOutput(Effects(ignored="tick_not_live"))
            self._deadlines(state, output)
            self._save_clock(event.region_id, state)
        else:
            clock.observe(event_time(event), self.wall_clock())
            self._deadlines(state, output)
            if _saved_long_ago(state):  # so a restart resumes the clock, not just the rows
                self._save_clock(event.region_id, state)
            if isinstance(event, IncidentEvent):
                facts = event.incident
                target = response.target(facts)
                decided = dispatch.on_incident(facts, target_s=target.target_s)
                if decided.ignored is None:
                    output.response.merge(response.on_incident(facts, target))
                    output.cases.append(reported_fact(facts, event.region_id))
                self._apply(state, output, decided)
            elif isinstance(event, UpdateEvent):
                self._update(state, output, event.update, event.region_id)
            else:
                decided = dispatch.on_telemetry(event.telemetry)
                if decided.ignored is None:
                    unit = dispatch.units[event.telemetry.unit_id]
                    output.response.merge(response.on_unit(unit))
                self._apply(state, output, decided)
        output.cases += arrival_facts(output.response, response)
        self._persist(state, output)
        return output

    def _deadlines(self, state: RegionState, output: RegionOutput) -> None:
        watermark = self._watermark(state.clock)
        fired = state.dispatch.on_clock(watermark)
        output.response.merge(state.response.on_clock(watermark))
        self._apply(state, output, fired)

    def _update(
        self, state: RegionState, output: RegionOutput, update: IncidentUpdate, region_id: str
    ) -> None:
        incident = state.dispatch.incidents.get(update.incident_id)
        case = case_event(update, incident, region_id)
        if case is not None:
            output.cases.append(case)
            return
        was_open = incident is not None and incident.phase is IncidentPhase.OPEN
        decided = state.dispatch.on_update(update)
        output.response.merge(state.response.on_update(update))
        self._apply(state, output, decided)
        if was_open and incident is not None and update.kind is UpdateKind.CLEARED:
            took = (update.at - incident.facts.reported_at).total_seconds()
            output.cleared = (incident.facts.category.value, max(took, 0.0))

    @staticmethod
    def _apply(state: RegionState, output: RegionOutput, decided: Effects) -> None:
        """Take dispatch's effects, and show each record it wrote to response, in order."""
        output.dispatch.merge(decided)
        for record in decided.assignments:
            output.response.merge(state.response.on_assignment(record))

    def _persist(self, state: RegionState, output: RegionOutput) -> None:
        t, dispatch, response = self.tables, state.dispatch, state.response
        region = dispatch.region_id
        for unit_id in output.dispatch.units | output.response.units:
            t.units[unit_key(region, unit_id)] = unit_row(
                dispatch.units.get(unit_id), response.units.get(unit_id)
            )
        for incident_id in output.dispatch.incidents:
            t.incidents[incident_id] = dispatch.incidents[incident_id].to_bytes()
        for incident_id in output.response.incidents:
            t.incident_watches[incident_id] = response.incidents[incident_id].to_bytes()
        for post_id in output.response.posts:
            t.post_watches[post_id] = response.posts[post_id].to_bytes()

    def _restore(self, region_id: str) -> RegionState:
        t = self.tables

        def mine(table: Table, model: type[M]) -> list[M]:
            return [r for r in _records(table, model) if r.region_id == region_id]

        unit_rows = [read_unit_row(raw) for raw in t.units.values()]
        clock = RegionClock(lateness=self.lateness, live_window=self.live_window)
        saved = t.clocks.get(region_id)
        if saved is not None:
            restored = orjson.loads(saved)
            clock.max_event_time = _dt(restored.get("max_event_time"))
            clock.watermark = _dt(restored.get("watermark"))
            clock.read_at = _dt(restored.get("read_at"))
        dispatch = RegionDispatch(
            region_id,
            self.city,
            self.policy,
            [u for u, _ in unit_rows if u is not None and u.region_id == region_id],
            mine(t.incidents, IncidentRecord),
        )
        response = RegionResponse(
            region_id,
            self.city,
            self.response_config,
            incidents=mine(t.incident_watches, IncidentWatch),
            posts=mine(t.post_watches, PostWatch),
            units=[w for _, w in unit_rows if w is not None and w.region_id == region_id],
        )
        return RegionState(dispatch, response, clock, saved_watermark=clock.watermark)

    def _save_clock(self, region_id: str, state: RegionState) -> None:
        clock = state.clock
        state.saved_watermark = clock.watermark
        self.tables.clocks[region_id] = orjson.dumps(
            {
                "max_event_time": clock.max_event_time.isoformat()
                if clock.max_event_time
                else None,
                "watermark": clock.watermark.isoformat() if clock.watermark else None,
                "read_at": clock.read_at.isoformat() if clock.read_at else None,
            }
        )

    @staticmethod
    def _watermark(clock: RegionClock) -> datetime:
        assert clock.watermark is not None
        return clock.watermark


def unit_key(region_id: str, unit_id: str) -> str:
    """A unit's row in a region's tables. A unit that moves between regions has a row in each
    (the old one keeps it out of service). Keyed by unit id alone, the two regions' writes
    went to two changelog partitions under one key, and a restore kept whichever partition it
    read last: a region could come back without its units' rows and raise their alerts again
    (the exactly-once kill test saw telemetry_stale and post_uncovered alerts twice)."""
    return f"{region_id}/{unit_id}"


def unit_row(unit: UnitRecord | None, watch: UnitWatch | None) -> bytes:
    """A unit's row: dispatch's record and response's watch (either may be absent)."""
    return b"".join(
        (
            b'{"dispatch":',
            unit.to_bytes() if unit is not None else b"null",
            b',"response":',
            watch.to_bytes() if watch is not None else b"null",
            b"}",
        )
    )


def read_unit_row(raw: bytes) -> tuple[UnitRecord | None, UnitWatch | None]:
    body = orjson.loads(raw)
    unit, watch = body.get("dispatch"), body.get("response")
    return (
        UnitRecord.model_validate(unit) if unit is not None else None,
        UnitWatch.model_validate(watch) if watch is not None else None,
    )


M = TypeVar("M", IncidentRecord, IncidentWatch, PostWatch)


def _records(table: Table, model: type[M]) -> Iterator[M]:
    for value in table.values():
        yield model.model_validate_json(value)


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


#: Event time the clock may advance between two writes of it to the table: one small write
#: per second of event time, not one per event (a restart re-derives the rest from the input).
CLOCK_SAVE_EVERY = timedelta(seconds=1)


def _saved_long_ago(state: RegionState) -> bool:
    watermark, saved = state.clock.watermark, state.saved_watermark
    if watermark is None:
        return False
    return saved is None or watermark - saved >= CLOCK_SAVE_EVERY
