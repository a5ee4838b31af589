"""The response-time engine of one region: targets, intervals, alerts. Pure logic.

The region core calls it next to dispatch, per region, in event order (see
``docs/response.md`` for the rules and the wiring). It never touches Faust or Kafka: it takes
plain values and returns :class:`ResponseEffects` (alerts to send, intervals to observe,
watches to persist).

How time works here:

- Every condition that can become an alert (a response target, an acknowledgement, a post's
  grace, a unit's silence) is stored in its subject's watch as a pending
  :class:`~streams.response.records.AlertState` with the time it is due. A heap of
  ``(due, rank, subject)`` (rebuilt from the watches after a restart) lets :meth:`on_clock`
  fire exactly the due ones, oldest first, without scanning.
- A deadline ``d`` fires when the watermark passes it (``d < watermark``), or when an event
  of the same subject with a time after ``d`` arrives first: the subject is *advanced* to the
  event's time before the event is applied. So whether the watermark got there first (live
  ticks) or the event did (a replay) changes when an alert is emitted, never what it says.
- An event at exactly the deadline is in time (an arrival at ``target_s`` is within target).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Final

from schemas.alerts import AlertKind, ResponseAlert
from schemas.dispatch import Assignment, AssignmentOutcome
from schemas.incidents import IncidentUpdate, UpdateKind
from streams.city.geo import distance_m
from streams.city.model import City
from streams.dispatch.lifecycle import ENDING_KINDS, IMPLIES_ACK, NEVER_DISPATCHED
from streams.dispatch.records import NO_NEW_WORK, UnitRecord
from streams.region.events import IncidentFacts
from streams.response.alerting import condition, fire, instance_of, resolve
from streams.response.config import ResponseConfig
from streams.response.intervals import Interval, changed_intervals
from streams.response.posts import PostIndex, next_stretch_start, staffed_stretch
from streams.response.records import (
    AlertState,
    IncidentWatch,
    PostWatch,
    Responder,
    UnitArrival,
    UnitWatch,
)
from streams.response.targets import Target, target_for

__all__ = ["RegionResponse", "ResponseEffects"]

# Heap ranks: at the same instant, units (silence) before posts before incidents.
_UNIT: Final = 0
_POST: Final = 1
_INCIDENT: Final = 2

_WITH_UNIT: Final = frozenset({AssignmentOutcome.ASSIGNED, AssignmentOutcome.MANUAL})
#: Decisions that leave a slot without a unit: each starts an ``unassigned`` condition.
_NO_UNIT: Final = frozenset(
    {AssignmentOutcome.UNASSIGNED, AssignmentOutcome.UNFILLED, AssignmentOutcome.OUT_OF_AREA}
)
_BREACH: Final = "response_breach"


@dataclass
class ResponseEffects:
    """What one call changed: alerts to send, intervals to observe, watches to persist."""

    alerts: list[ResponseAlert] = field(default_factory=list)
    #: Ids of the watches that changed (persist ``engine.incidents[id].to_bytes()`` etc.).
    incidents: set[str] = field(default_factory=set)
    posts: set[str] = field(default_factory=set)
    units: set[str] = field(default_factory=set)
    intervals: list[Interval] = field(default_factory=list)
    #: Input events older than the watermark: applied (they correct the record) and counted.
    late_events: int = 0
    inferred_arrivals: int = 0
    arrival_mismatches: int = 0
    #: Why the call changed nothing, for metrics (None when it did something).
    ignored: str | None = None

    def merge(self, other: ResponseEffects) -> None:
        self.alerts += other.alerts
        self.incidents |= other.incidents
        self.posts |= other.posts
        self.units |= other.units
        self.intervals += other.intervals
        self.late_events += other.late_events
        self.inferred_arrivals += other.inferred_arrivals
        self.arrival_mismatches += other.arrival_mismatches
        self.ignored = self.ignored or other.ignored


def _utc(at: datetime) -> datetime:
    return at.astimezone(UTC)


class RegionResponse:
    """Response state of one region, restored from its watches after a restart."""

    def __init__(
        self,
        region_id: str,
        city: City,
        config: ResponseConfig,
        *,
        incidents: Iterable[IncidentWatch] = (),
        posts: Iterable[PostWatch] = (),
        units: Iterable[UnitWatch] = (),
    ) -> None:
        self.region_id = region_id
        self.city = city
        self.config = config
        self.post_ids: tuple[str, ...] = tuple(city.region_posts.get(region_id, ()))
        self.incidents: dict[str, IncidentWatch] = {w.incident_id: w for w in incidents}
        self.posts: dict[str, PostWatch] = {
            w.post_id: w for w in posts if w.post_id in city.posts and w.post_id in self.post_ids
        }
        self.units: dict[str, UnitWatch] = {w.unit_id: w for w in units}
        #: The latest watermark seen by :meth:`on_clock` (None before the first).
        self.watermark: datetime | None = None
        self.index = PostIndex(
            (city.posts[p] for p in self.post_ids), city.plane, config.post_radius_m
        )
        self._stale = timedelta(seconds=config.telemetry_stale_s)
        self._heap: list[tuple[datetime, int, str]] = []
        self._queued: dict[tuple[int, str], datetime] = {}
        #: unit_id -> the incident it is actively assigned to (from the assignment records).
        self._active: dict[str, str] = {}
        for incident_id in sorted(self.incidents):
            for responder in self.incidents[incident_id].responders:
                if responder.active:
                    self._active[responder.unit_id] = incident_id
            self._schedule(_INCIDENT, incident_id)
        for post_id in sorted(self.posts):
            self._schedule(_POST, post_id)
        for unit_id in sorted(self.units):
            self._schedule(_UNIT, unit_id)

    # --- inputs ----------------------------------------------------------------------------

    def target(self, facts: IncidentFacts) -> Target:
        return target_for(facts, self.city, self.config)

    def on_incident(self, facts: IncidentFacts, target: Target) -> ResponseEffects:
        """A new incident (``zone_id`` None: outside every zone). Starts its target clock."""
        fx = ResponseEffects()
        if facts.incident_id in self.incidents:
            fx.ignored = "duplicate_incident"
            return fx
        at = _utc(facts.reported_at)
        self._begin(at, fx, input_event=True)
        watch = IncidentWatch(
            incident_id=facts.incident_id,
            region_id=self.region_id,
            zone_id=facts.zone_id,
            category=facts.category,
            priority=facts.priority,
            reported_at=at,
            lat=facts.lat,
            lon=facts.lon,
            target_s=target.target_s,
            tier=target.tier,
            circle_post_id=target.circle_post_id,
        )
        if facts.category not in NEVER_DISPATCHED:
            watch.alerts[_BREACH] = self._incident_condition(
                watch,
                AlertKind.RESPONSE_BREACH,
                origin=at,
                limit_s=target.target_s,
                due=watch.deadline,
            )
        self.incidents[facts.incident_id] = watch
        self._touched(_INCIDENT, facts.incident_id, fx)
        return fx

    def on_assignment(self, record: Assignment) -> ResponseEffects:
        """Every ``dispatch.assignments`` record of the region, in the order written."""
        fx = ResponseEffects()
        watch = self.incidents.get(record.incident_id)
        if watch is None:
            fx.ignored = "unknown_incident"
            return fx
        at = _utc(record.assigned_at)
        self._begin(at, fx, input_event=False)
        self._advance(_INCIDENT, watch.incident_id, at, fx)
        key = f"{record.slot}:{record.attempt}"
        if record.outcome is AssignmentOutcome.NOT_DISPATCHED:
            self._end(watch, at, fx)
        elif record.outcome in _WITH_UNIT and record.unit_id is not None:
            if any(r.key == key for r in watch.responders):
                fx.ignored = "duplicate_assignment"
            else:
                self._assigned(watch, record, at, fx)
        elif record.outcome in _NO_UNIT:
            name = f"unassigned:{key}"
            if watch.ended_at is not None:
                fx.ignored = "incident_ended"
            elif name in watch.alerts:
                fx.ignored = "duplicate_assignment"
            else:
                self._release_slot(watch, record.slot, at, fx)
                state = self._incident_condition(
                    watch,
                    AlertKind.UNASSIGNED,
                    origin=watch.reported_at,
                    limit_s=watch.target_s,
                    due=at + timedelta(seconds=self.config.unassigned_delay_s),
                    instance=key,
                )
                watch.alerts[name] = state
                self._raise_if_due(state, at, fx)
        fx.intervals += changed_intervals(watch)
        self._touched(_INCIDENT, watch.incident_id, fx)
        return fx

    def on_update(self, update: IncidentUpdate) -> ResponseEffects:
        """A lifecycle update of an incident of the region (every kind, also ``feedback``)."""
        fx = ResponseEffects()
        watch = self.incidents.get(update.incident_id)
        if watch is None:
            fx.ignored = "unknown_incident"
            return fx
        at = _utc(update.at)
        self._begin(at, fx, input_event=True)
        self._advance(_INCIDENT, watch.incident_id, at, fx)
        kind, unit_id = update.kind, update.unit_id
        if kind in IMPLIES_ACK and unit_id is not None:
            responder = self._responder(watch, unit_id)
            if responder is not None:
                responder.acknowledged_at = _earliest(responder.acknowledged_at, at)
                if kind is UpdateKind.EN_ROUTE:
                    responder.en_route_at = _earliest(responder.en_route_at, at)
                self._finish_named(watch, f"ack_overdue:{responder.key}", at, fx)
        if kind is UpdateKind.ARRIVED:
            if unit_id is not None:
                self._reported_arrival(watch, unit_id, at, fx)
            self._arrival(watch, at, unit_id, inferred=False, fx=fx)
        elif kind is UpdateKind.DECLINED and unit_id is not None:
            responder = self._responder(watch, unit_id)
            if responder is not None and responder.active:
                self._release(watch, responder, at, fx, redispatched=False)
        elif kind in ENDING_KINDS:
            if kind is UpdateKind.CLEARED:
                watch.cleared_at = _earliest(watch.cleared_at, at)
            elif kind is UpdateKind.CLOSED:
                watch.closed_at = _earliest(watch.closed_at, at)
            self._end(watch, at, fx)
        elif kind is UpdateKind.FEEDBACK:
            watch.feedback_at = _earliest(watch.feedback_at, at)
        fx.intervals += changed_intervals(watch)
        self._touched(_INCIDENT, watch.incident_id, fx)
        return fx

    def on_unit(self, unit: UnitRecord) -> ResponseEffects:
        """A new telemetry fix, as dispatch applied it (position, speed, status, last seen)."""
        fx = ResponseEffects()
        unit_id, at = unit.unit_id, _utc(unit.last_seen)
        watch = self.units.get(unit_id)
        if watch is not None and at <= watch.last_seen:
            fx.ignored = "out_of_order_telemetry"
            return fx
        self._begin(at, fx, input_event=True)
        on_duty = unit.status not in NO_NEW_WORK
        new_posts = self.index.within(unit.lat, unit.lon) if on_duty else []
        old_posts = list(watch.posts) if watch is not None else []
        touched_posts = sorted(p for p in set(old_posts) | set(new_posts) if p in self.posts)
        incident_id = self._active.get(unit_id)
        # Everything this fix may change is first brought up to its time.
        if watch is not None:
            self._advance(_UNIT, unit_id, at, fx)
        for post_id in touched_posts:
            self._advance(_POST, post_id, at, fx)
        if incident_id is not None:
            self._advance(_INCIDENT, incident_id, at, fx)

        speed = unit.speed_mps
        if watch is None:
            watch = UnitWatch(
                unit_id=unit_id,
                region_id=self.region_id,
                lat=unit.lat,
                lon=unit.lon,
                status=unit.status,
                last_seen=at,
            )
            self.units[unit_id] = watch
        else:
            if speed is None:  # the speed between the last two fixes
                seconds = (at - watch.last_seen).total_seconds()
                speed = distance_m(watch.lat, watch.lon, unit.lat, unit.lon) / seconds
            if watch.stale is not None:
                self._finish(watch.stale, at, fx)
        watch.lat, watch.lon, watch.status, watch.last_seen = unit.lat, unit.lon, unit.status, at
        watch.speed_mps, watch.zone_id = unit.speed_mps, unit.zone_id
        watch.stale = None
        if on_duty:
            watch.stale = condition(
                AlertKind.TELEMETRY_STALE,
                origin=at,
                limit_s=self.config.telemetry_stale_s,
                due=at + self._stale,
                instance=instance_of(at),
                unit_id=unit_id,
                zone_id=unit.zone_id,
            )
        for post_id in old_posts:
            if post_id not in new_posts and post_id in self.posts:
                self._uncover(self.posts[post_id], unit_id, at, fx)
        for post_id in new_posts:
            if post_id in self.posts:
                self._cover(self.posts[post_id], unit_id, at, fx)
        watch.posts = new_posts
        for post_id in touched_posts:
            self._touched(_POST, post_id, fx)
        if incident_id is not None:
            incident = self.incidents[incident_id]
            if self._infer_arrival(incident, unit, speed, at, fx):
                fx.intervals += changed_intervals(incident)
                self._touched(_INCIDENT, incident_id, fx)
        self._touched(_UNIT, unit_id, fx)
        return fx

    def on_clock(self, watermark: datetime) -> ResponseEffects:
        """The region's watermark: fire every deadline before it, oldest first."""
        fx = ResponseEffects()
        watermark = _utc(watermark)
        if self.watermark is None or watermark > self.watermark:
            self.watermark = watermark
        while self._heap and self._heap[0][0] < watermark:
            due, rank, subject = heapq.heappop(self._heap)
            if self._queued.get((rank, subject)) == due:
                del self._queued[(rank, subject)]
            if self._next_due(rank, subject) != due:
                continue  # superseded: the subject changed since this entry was queued
            self._step(rank, subject, due, fx)
            self._touched(rank, subject, fx)
        return fx

    # --- state for gauges ------------------------------------------------------------------

    def open_incident_count(self) -> int:
        return sum(1 for w in self.incidents.values() if w.ended_at is None)

    def post_coverage(self, at: datetime) -> tuple[int, int]:
        """``(covered, staffed)``: posts that should be covered at ``at``, and how many are
        (a unit on duty within ``post_radius_m`` whose fix is fresh at ``at``)."""
        staffed = covered = 0
        for post_id in self.post_ids:
            if not self.city.post_staffed(post_id, at):
                continue
            staffed += 1
            watch = self.posts.get(post_id)
            if watch is not None and any(until > at for until in watch.covering.values()):
                covered += 1
        return covered, staffed

    # --- incidents -------------------------------------------------------------------------

    def _assigned(
        self, watch: IncidentWatch, record: Assignment, at: datetime, fx: ResponseEffects
    ) -> None:
        assert record.unit_id is not None
        unit_id, incident_id = record.unit_id, watch.incident_id
        self._release_slot(watch, record.slot, at, fx)
        prefix = f"unassigned:{record.slot}:"
        for name, state in watch.alerts.items():
            if name.startswith(prefix):
                self._finish(state, at, fx)
        elsewhere = self._active.get(unit_id)
        if elsewhere is not None and elsewhere != incident_id and elsewhere in self.incidents:
            other = self.incidents[elsewhere]  # one unit, one incident (dispatch's commitment)
            self._advance(_INCIDENT, elsewhere, at, fx)
            for responder in other.responders:
                if responder.active and responder.unit_id == unit_id:
                    self._release(other, responder, at, fx, redispatched=True)
            self._touched(_INCIDENT, elsewhere, fx)
        responder = Responder(
            unit_id=unit_id,
            slot=record.slot,
            attempt=record.attempt,
            assigned_at=at,
            manual=record.outcome is AssignmentOutcome.MANUAL,
            eta_s=record.eta_s,
            active=watch.ended_at is None,
        )
        watch.responders.append(responder)
        watch.first_assigned_at = _earliest(watch.first_assigned_at, at)
        if watch.ended_at is not None:
            return
        self._active[unit_id] = incident_id
        if record.outcome is not AssignmentOutcome.ASSIGNED:
            return  # a person's dispatch upstream counts as acknowledged (as dispatch holds)
        ack_s = self.config.ack_overdue_s
        watch.alerts[f"ack_overdue:{responder.key}"] = self._incident_condition(
            watch,
            AlertKind.ACK_OVERDUE,
            origin=at,
            limit_s=ack_s,
            due=at + timedelta(seconds=ack_s),
            instance=responder.key,
            unit_id=unit_id,
        )
        if record.eta_s is None or watch.first_arrival_at is not None or at >= watch.deadline:
            return
        predicted = at + timedelta(seconds=record.eta_s)
        if predicted > watch.deadline:
            state = self._incident_condition(
                watch,
                AlertKind.PREDICTED_BREACH,
                origin=watch.reported_at,
                limit_s=watch.target_s,
                due=at,
                instance=responder.key,
                unit_id=unit_id,
                escalates=False,
            )
            watch.alerts[f"predicted_breach:{responder.key}"] = state
            fx.alerts.append(
                fire(state, at, self.config.severity_ladder, self.region_id, judged_at=predicted)
            )

    def _reported_arrival(
        self, watch: IncidentWatch, unit_id: str, at: datetime, fx: ResponseEffects
    ) -> None:
        """A person reported ``arrived``: kept as reported; judged against the unit's GPS."""
        arrival = watch.arrivals.setdefault(unit_id, UnitArrival())
        if arrival.reported_at is not None:
            arrival.reported_at = min(arrival.reported_at, at)
            return  # judged at the first report that came in
        arrival.reported_at = at
        unit = self.units.get(unit_id)
        if unit is None or abs((at - unit.last_seen).total_seconds()) > self._stale.total_seconds():
            return  # no fresh fix: nothing to judge by
        metres = distance_m(unit.lat, unit.lon, watch.lat, watch.lon)
        arrival.reported_fix_m = round(metres, 1)
        if metres <= self.config.arrival_mismatch_m:
            return
        arrival.mismatch = True
        fx.arrival_mismatches += 1
        if watch.ended_at is None:
            state = self._incident_condition(
                watch,
                AlertKind.ARRIVAL_MISMATCH,
                origin=at,
                limit_s=1.0,
                due=at,
                unit_id=unit_id,
                escalates=False,
            )
            watch.alerts[f"arrival_mismatch:{unit_id}"] = state
            fx.alerts.append(fire(state, at, self.config.severity_ladder, self.region_id))

    def _infer_arrival(
        self,
        watch: IncidentWatch,
        unit: UnitRecord,
        speed: float | None,
        at: datetime,
        fx: ResponseEffects,
    ) -> bool:
        """An assigned unit stopped at the scene with no (credible) reported arrival."""
        if watch.ended_at is not None:
            return False
        responder = next(
            (r for r in watch.responders if r.active and r.unit_id == unit.unit_id), None
        )
        if responder is None or at < responder.assigned_at:
            return False
        arrival = watch.arrivals.get(unit.unit_id)
        if arrival is not None and (
            arrival.inferred_at is not None
            or (arrival.reported_at is not None and not arrival.mismatch)
        ):
            return False
        if distance_m(unit.lat, unit.lon, watch.lat, watch.lon) > self.config.arrival_radius_m:
            return False
        if speed is not None and speed > self.config.arrival_max_speed_mps:
            return False
        watch.arrivals.setdefault(unit.unit_id, UnitArrival()).inferred_at = at
        fx.inferred_arrivals += 1
        self._finish_named(watch, f"ack_overdue:{responder.key}", at, fx)
        self._arrival(watch, at, unit.unit_id, inferred=True, fx=fx)
        return True

    def _arrival(
        self,
        watch: IncidentWatch,
        at: datetime,
        unit_id: str | None,
        *,
        inferred: bool,
        fx: ResponseEffects,
    ) -> None:
        first = watch.first_arrival_at
        if first is None or at < first or (at == first and watch.first_arrival_inferred):
            watch.first_arrival_at = at
            watch.first_arrival_unit = unit_id
            watch.first_arrival_inferred = inferred
        for name, state in watch.alerts.items():
            if name == _BREACH or name.startswith("predicted_breach:"):
                self._finish(state, at, fx)

    def _release_slot(
        self, watch: IncidentWatch, slot: int, at: datetime, fx: ResponseEffects
    ) -> None:
        """A new decision for the slot: its previous unit is no longer assigned."""
        for responder in watch.responders:
            if responder.active and responder.slot == slot:
                self._release(watch, responder, at, fx, redispatched=True)

    def _release(
        self,
        watch: IncidentWatch,
        responder: Responder,
        at: datetime,
        fx: ResponseEffects,
        *,
        redispatched: bool,
    ) -> None:
        responder.active = False
        unit_id = responder.unit_id
        if self._active.get(unit_id) == watch.incident_id and not any(
            r.active and r.unit_id == unit_id for r in watch.responders
        ):
            del self._active[unit_id]
        overdue = watch.alerts.get(f"ack_overdue:{responder.key}")
        if overdue is not None and redispatched:
            # Re-dispatched because the acknowledgement did not come in time: the condition
            # was true at its deadline even when the re-dispatch has that very timestamp.
            while overdue.due is not None and overdue.due <= at:
                fx.alerts.append(
                    fire(overdue, overdue.due, self.config.severity_ladder, self.region_id)
                )
        for name in (f"ack_overdue:{responder.key}", f"predicted_breach:{responder.key}"):
            self._finish_named(watch, name, at, fx)

    def _end(self, watch: IncidentWatch, at: datetime, fx: ResponseEffects) -> None:
        """Cleared, closed, cancelled or not dispatched: every condition ends here."""
        if watch.ended_at is not None:
            return
        watch.ended_at = at
        for responder in watch.responders:
            if responder.active:
                self._release(watch, responder, at, fx, redispatched=False)
        for state in watch.alerts.values():
            self._finish(state, at, fx)

    @staticmethod
    def _responder(watch: IncidentWatch, unit_id: str) -> Responder | None:
        """The unit's active assignment to the incident, else its latest one."""
        latest: Responder | None = None
        for responder in watch.responders:
            if responder.unit_id == unit_id:
                if responder.active:
                    return responder
                latest = responder
        return latest

    def _incident_condition(
        self,
        watch: IncidentWatch,
        kind: AlertKind,
        *,
        origin: datetime,
        limit_s: float,
        due: datetime,
        instance: str = "",
        unit_id: str | None = None,
        escalates: bool = True,
    ) -> AlertState:
        return condition(
            kind,
            origin=origin,
            limit_s=limit_s,
            due=due,
            instance=instance,
            escalates=escalates,
            incident_id=watch.incident_id,
            unit_id=unit_id,
            zone_id=watch.zone_id,
            target_s=watch.target_s,
        )

    def _finish_named(
        self, watch: IncidentWatch, name: str, at: datetime, fx: ResponseEffects
    ) -> None:
        state = watch.alerts.get(name)
        if state is not None:
            self._finish(state, at, fx)

    def _finish(self, state: AlertState, at: datetime, fx: ResponseEffects) -> None:
        """The condition ended at ``at``: resolve the alert if raised, else drop the deadline."""
        record = resolve(state, at, self.region_id)
        if record is not None:
            fx.alerts.append(record)

    def _raise_if_due(self, state: AlertState, at: datetime, fx: ResponseEffects) -> None:
        """A condition already true when it starts (e.g. no delay) is raised at once."""
        if state.due is not None and state.due <= at:
            fx.alerts.append(fire(state, state.due, self.config.severity_ladder, self.region_id))

    # --- posts -----------------------------------------------------------------------------

    def _begin(self, at: datetime, fx: ResponseEffects, *, input_event: bool) -> None:
        if input_event and self.watermark is not None and at < self.watermark:
            fx.late_events += 1
        if len(self.posts) < len(self.post_ids):
            # The region's first event: every post starts uncovered, units have the grace.
            for post_id in self.post_ids:
                if post_id not in self.posts:
                    post = self.city.posts[post_id]
                    watch = PostWatch(
                        post_id=post_id,
                        region_id=self.region_id,
                        zone_id=post.zone_id,
                        uncovered_since=at,
                    )
                    self.posts[post_id] = watch
                    self._track_post(watch, at, fx)
                    self._touched(_POST, post_id, fx)

    def _cover(self, watch: PostWatch, unit_id: str, at: datetime, fx: ResponseEffects) -> None:
        until = at + self._stale
        if watch.uncovered_since is not None:
            judged_from = watch.alert.origin if watch.alert is not None else watch.uncovered_since
            if until <= judged_from:
                # A late fix whose cover ran out before the gap being judged began (before the
                # post went uncovered, or before its staffed window opened) changes nothing
                # about that gap. Taken as a relief, it resolved the open alert, and the same
                # gap (same start, so the same alert_id) was raised again at the next step:
                # one alert raised twice (found replaying a crash run's region events).
                watch.uncovered_since = max(watch.uncovered_since, until)
                return
        watch.covering[unit_id] = until
        if watch.uncovered_since is None:
            return
        if watch.alert is not None:
            self._finish(watch.alert, at, fx)
        watch.alert = watch.uncovered_since = None
        watch.in_window, watch.window_start, watch.window_end = False, None, None
        watch.next_window = None

    def _uncover(self, watch: PostWatch, unit_id: str, at: datetime, fx: ResponseEffects) -> None:
        if watch.covering.pop(unit_id, None) is None or watch.covering:
            return
        if watch.uncovered_since is None:
            watch.uncovered_since = at
            self._track_post(watch, at, fx)

    def _track_post(self, watch: PostWatch, at: datetime, fx: ResponseEffects) -> None:
        """The post is uncovered at ``at`` (since ``uncovered_since``), or a staffed stretch
        starts at ``at`` while it is: arm the grace condition, or wait for the next window."""
        assert watch.uncovered_since is not None
        post = self.city.posts[watch.post_id]
        watch.alert = None
        stretch = staffed_stretch(self.city, post, at)
        if stretch is None:
            watch.in_window, watch.window_start, watch.window_end = False, None, None
            watch.next_window = next_stretch_start(self.city, post, at)
            return
        start, end = stretch
        watch.in_window, watch.window_start, watch.window_end = True, start, end
        watch.next_window = None
        origin = watch.uncovered_since if start is None else max(watch.uncovered_since, start)
        due = origin + timedelta(seconds=self.config.post_grace_s)
        if end is not None and due >= end:
            return  # the window ends before the grace runs out
        watch.alert = condition(
            AlertKind.POST_UNCOVERED,
            origin=origin,
            limit_s=self.config.post_grace_s,
            due=due,
            instance=instance_of(origin),
            post_id=watch.post_id,
            zone_id=watch.zone_id,
        )
        if due <= at:
            fx.alerts.append(
                fire(watch.alert, due, self.config.severity_ladder, self.region_id, until=end)
            )

    def _close_window(self, watch: PostWatch, at: datetime, fx: ResponseEffects) -> None:
        if watch.alert is not None:
            self._finish(watch.alert, at, fx)
        watch.alert = None
        watch.in_window, watch.window_start, watch.window_end = False, None, None
        watch.next_window = next_stretch_start(self.city, self.city.posts[watch.post_id], at)

    # --- the deadline heap -----------------------------------------------------------------

    def _next_due(self, rank: int, subject: str) -> datetime | None:
        if rank == _INCIDENT:
            incident = self.incidents.get(subject)
            if incident is None:
                return None
            dues = [s.due for s in incident.alerts.values() if s.due is not None]
            return min(dues) if dues else None
        if rank == _UNIT:
            unit = self.units.get(subject)
            return unit.stale.due if unit is not None and unit.stale is not None else None
        post = self.posts.get(subject)
        if post is None:
            return None
        times = list(post.covering.values())
        if post.alert is not None and post.alert.due is not None:
            times.append(post.alert.due)
        if post.uncovered_since is not None:
            if post.in_window and post.window_end is not None:
                times.append(post.window_end)
            elif not post.in_window and post.next_window is not None:
                times.append(post.next_window)
        return min(times) if times else None

    def _step(self, rank: int, subject: str, at: datetime, fx: ResponseEffects) -> None:
        """Everything of one subject that is due at exactly ``at``."""
        ladder, region = self.config.severity_ladder, self.region_id
        if rank == _INCIDENT:
            for state in self.incidents[subject].alerts.values():
                if state.due == at:
                    fx.alerts.append(fire(state, at, ladder, region))
        elif rank == _UNIT:
            stale = self.units[subject].stale
            assert stale is not None
            fx.alerts.append(fire(stale, at, ladder, region))
        else:
            post = self.posts[subject]
            expired = sorted(u for u, until in post.covering.items() if until <= at)
            for unit_id in expired:
                del post.covering[unit_id]
            if expired and not post.covering and post.uncovered_since is None:
                post.uncovered_since = at  # the last covering unit went silent
                self._track_post(post, at, fx)
            if post.alert is not None and post.alert.due == at:
                until = post.window_end if post.in_window else None
                fx.alerts.append(fire(post.alert, at, ladder, region, until=until))
            if post.uncovered_since is not None:
                if post.in_window and post.window_end == at:
                    self._close_window(post, at, fx)
                elif not post.in_window and post.next_window == at:
                    self._track_post(post, at, fx)

    def _advance(self, rank: int, subject: str, at: datetime, fx: ResponseEffects) -> None:
        """Fire the subject's deadlines before ``at`` (an event at ``at`` is about to apply)."""
        while (due := self._next_due(rank, subject)) is not None and due < at:
            self._step(rank, subject, due, fx)
            self._touched(rank, subject, fx)

    def _schedule(self, rank: int, subject: str) -> None:
        due = self._next_due(rank, subject)
        if due is None or self._queued.get((rank, subject)) == due:
            return
        self._queued[(rank, subject)] = due
        heapq.heappush(self._heap, (due, rank, subject))

    def _touched(self, rank: int, subject: str, fx: ResponseEffects) -> None:
        """Mark the subject's watch for persisting and queue its next deadline."""
        (fx.units if rank == _UNIT else fx.posts if rank == _POST else fx.incidents).add(subject)
        self._schedule(rank, subject)


def _earliest(current: datetime | None, at: datetime) -> datetime:
    return at if current is None or at < current else current
