"""The region core's agents: routing, region processing, and the clock tick.

Flow: intake -> ``<app>-routing`` (keyed by incident or unit: routing memory lives in tables
co-partitioned with it) -> ``<app>-region-events`` (keyed by region: one ordered stream per
region, one worker owns it) -> dispatch decisions on ``dispatch.assignments``.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from schemas import topics as names
from schemas.deadletter import describe_exception
from streams.app import app, raw_topic, send_from_timer, settings, table_options
from streams.city.model import load_city
from streams.dead_letter import dead_letter
from streams.dispatch import metrics as dispatch_metrics
from streams.dispatch.policy import default_policy, load_policy
from streams.region import metrics
from streams.region.events import AnyEvent, IncidentEvent, TickEvent, decode, encode, routing_key
from streams.region.processing import RegionProcessor, RegionTables, Router
from streams.response import metrics as response_metrics
from streams.response.config import default_response_config, load_response_config
from streams.transactions import gate

log = logging.getLogger(__name__)

city = load_city(settings.city)
policy = load_policy(settings.dispatch_policy) if settings.dispatch_policy else default_policy()
response_config = (
    load_response_config(settings.response_config)
    if settings.response_config
    else default_response_config()
)


def _internal(name: str) -> Any:
    return app.topic(
        settings.internal_topic(name),
        internal=True,
        partitions=settings.internal_partitions,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
    )


def _table(name: str) -> Any:
    return app.Table(
        name,
        key_type=str,
        value_type=bytes,
        partitions=settings.internal_partitions,
        options=table_options(settings),
    )


routing_topic = _internal("routing")
#: Case facts for the clearance ledger: few per day, so one partition holds the whole ledger.
cases_topic = app.topic(
    settings.internal_topic("cases"),
    internal=True,
    partitions=1,
    key_type=bytes,
    value_type=bytes,
    key_serializer="raw",
    value_serializer="raw",
)
CASES_KEY = b"cases"
region_topic = _internal("region-events")
assignments_topic = raw_topic(names.DISPATCH_ASSIGNMENTS)
alerts_topic = raw_topic(names.ALERTS_RESPONSE)

incident_routes = _table("incident-routes")
unit_homes = _table("unit-homes")
parked_updates = _table("parked-updates")
region_tables = RegionTables(
    units=_table("region-units"),
    incidents=_table("region-incidents"),
    clocks=_table("region-clocks"),
    incident_watches=_table("response-incidents"),
    post_watches=_table("response-posts"),
)

router = Router(city, incident_routes, unit_homes, parked_updates, _table("update-ids"))
processor = RegionProcessor(
    city,
    policy,
    region_tables,
    response_config=response_config,
    lateness=timedelta(seconds=settings.allowed_lateness_s),
    live_window=timedelta(seconds=settings.live_window_s),
)


async def to_routing(event: AnyEvent) -> None:
    """Intake's hand-off: every accepted input enters the region core here."""
    await routing_topic.send(key=routing_key(event), value=encode(event))


@app.agent(routing_topic, name="region.routing")
async def route(stream: Any) -> None:
    async for value in stream:
        async with gate.step():
            routed = router.route(decode(value))
            metrics.PARKED.inc(routed.parked)
            if routed.duplicate:
                metrics.EVENTS.labels("update", "duplicate_update").inc()
            if routed.handoff:
                metrics.HANDOFFS.inc()
            for event in routed.forward:
                assert event.region_id is not None
                await region_topic.send(key=event.region_id.encode(), value=encode(event))


@app.agent(region_topic, name="region.process")
async def process(stream: Any) -> None:
    stage = "region.process"
    async for record in stream.events():  # the message too: a failed event is dead-lettered
        async with gate.step():
            event = decode(record.value)
            started = time.perf_counter()
            try:
                output = processor.process(event)
            except Exception as exc:  # a bug must not stop every region: see _failed
                await _failed(record.message, event, exc, stage)
                continue
            effects = output.dispatch
            elapsed = time.perf_counter() - started
            metrics.EVENTS.labels(event.kind, effects.ignored or "applied").inc()
            if isinstance(event, IncidentEvent) and effects.ignored is None:
                dispatch_metrics.DECISION_SECONDS.observe(elapsed)
                metrics.INCIDENTS.labels(event.incident.category.value).inc()
            if output.cleared is not None:
                metrics.CLEARANCE_SECONDS.labels(output.cleared[0]).observe(output.cleared[1])
            if effects.redispatches:
                dispatch_metrics.REDISPATCHES.inc(effects.redispatches)
            for assignment in effects.assignments:
                dispatch_metrics.ASSIGNMENTS.labels(
                    assignment.force.value if assignment.force else "none", assignment.outcome.value
                ).inc()
                await assignments_topic.send(
                    key=assignment.kafka_key().encode(), value=assignment.to_json_bytes()
                )
            response_metrics.observe(output.response)
            for alert in output.response.alerts:
                await alerts_topic.send(key=alert.kafka_key().encode(), value=alert.to_json_bytes())
            for case in output.cases:
                await cases_topic.send(key=CASES_KEY, value=case.to_bytes())
            if isinstance(event, TickEvent) and event.region_id is not None:
                _export_region_gauges(event.region_id)


async def _failed(message: Any, event: AnyEvent, exc: Exception, stage: str) -> None:
    """Processing one event raised (a bug: inputs were validated at intake). The region's
    state in memory may be half-changed, so it is rebuilt from its tables, which hold the
    state before this event (they are written only when an event is done); the event goes
    to the dead-letter topic and is counted, and the region goes on with the next one.
    Before, the agent crashed and Faust restarted it with the half-changed state (seen after
    a broker restart: an alert resolved whose raise was never sent)."""
    if event.region_id is not None:
        processor.forget_region(event.region_id)
    metrics.EVENTS.labels(event.kind, "failed").inc()
    log.error(
        "%s: %s[%s]@%s failed (%s); region %s rebuilt from its tables, event dead-lettered",
        stage,
        message.topic,
        message.partition,
        message.offset,
        type(exc).__name__,
        event.region_id,
        exc_info=exc,  # internal events carry no personal data (intake strips it)
    )
    await dead_letter(message, stage, type(exc).__name__, describe_exception(exc))


def _export_region_gauges(region_id: str) -> None:
    """State gauges for regions this worker owns (refreshed on each tick)."""
    state = processor.state(region_id)
    dispatch, watermark = state.dispatch, state.clock.watermark
    for force, count in dispatch.available_by_force(watermark).items():
        dispatch_metrics.UNITS_AVAILABLE.labels(region_id, force).set(count)
    dispatch_metrics.UNASSIGNED.labels(region_id).set(len(dispatch.pending))
    dispatch_metrics.OPEN_INCIDENTS.labels(region_id).set(dispatch.open_incident_count())
    if watermark is not None:
        covered, staffed = state.response.post_coverage(watermark)
        response_metrics.POSTS_REQUIRED.labels(region_id).set(staffed)
        response_metrics.POSTS_UNCOVERED.labels(region_id).set(staffed - covered)
        delay = (datetime.now(UTC) - watermark).total_seconds()
        metrics.WATERMARK_DELAY.labels(region_id).set(delay)


@app.timer(interval=settings.tick_interval_s, on_leader=True, name="region.tick")  # type: ignore[untyped-decorator]
async def tick() -> None:
    """Wall-clock ticks travel through the region stream, so deadlines fire in order there."""
    now = datetime.now(UTC)
    for region_id in sorted(city.regions):
        event = TickEvent(region_id=region_id, wall=now)
        try:
            await send_from_timer(region_topic, region_id.encode(), encode(event))
        except Exception:  # the broker may be away: the next tick tries again; stay up
            log.exception("tick for %s not sent", region_id)
            metrics.TICKS_FAILED.inc()


def _forget_regions(sender: Any, *args: Any, **kwargs: Any) -> None:
    processor.forget()
    dispatch_metrics.clear_region_gauges()
    response_metrics.clear_region_gauges()
    metrics.WATERMARK_DELAY.clear()


app.on_partitions_revoked.connect(_forget_regions)  # type: ignore[arg-type]
