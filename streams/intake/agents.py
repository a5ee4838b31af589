"""Intake agents: thin adapters from the raw input topics to the decoder and the dead-letter topic.

Each agent has a stable stage name, used in logs, metric labels and dead-letter headers.
Accepted events are slimmed (no personal data) and handed to the region core's routing topic.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from pydantic import BaseModel

from schemas import topics as names
from schemas.incidents import IncidentReported, IncidentUpdate
from schemas.units import UnitTelemetry
from streams.app import app, incidents_reported, incidents_updates, units_telemetry
from streams.dead_letter import dead_letter
from streams.intake import metrics
from streams.intake.decode import Accepted, decode, region_event
from streams.region.agents import to_routing
from streams.transactions import gate

log = logging.getLogger(__name__)


async def intake(
    stream: AsyncIterator[Any], model: type[BaseModel], canonical_topic: str, stage: str
) -> AsyncIterator[Accepted[Any]]:
    """Decode every record of ``stream``; yield accepted ones, dead-letter the rest."""
    async for event in stream:  # stream.events(): we need the message, not just the value
        # One gate step per record, held while the caller handles what we yield: the record's
        # outputs and its ack fall on the same side of an exactly-once commit.
        async with gate.step():
            message = event.message
            started = time.perf_counter()
            verdict = decode(model, message.value, message.headers, message.key)
            metrics.DECODE_SECONDS.labels(canonical_topic).observe(time.perf_counter() - started)
            if isinstance(verdict, Accepted):
                metrics.RECORDS.labels(canonical_topic, "accepted").inc()
                yield verdict
                continue
            # Log the position and reason only: never the payload (it may carry personal data).
            log.warning(
                "dead-lettered %s[%s]@%s: %s (%s)",
                message.topic,
                message.partition,
                message.offset,
                verdict.reason.value,
                verdict.error_class,
            )
            await dead_letter(message, stage, verdict.error_class, verdict.message)
            metrics.RECORDS.labels(canonical_topic, "dead_lettered").inc()
            metrics.DEAD_LETTERS.labels(canonical_topic, verdict.reason.value).inc()


@app.agent(incidents_reported, name="intake.incidents_reported")
async def intake_incidents_reported(stream: Any) -> None:
    stage = "intake.incidents_reported"
    async for accepted in intake(
        stream.events(), IncidentReported, names.INCIDENTS_REPORTED, stage
    ):
        await to_routing(region_event(accepted))


@app.agent(incidents_updates, name="intake.incidents_updates")
async def intake_incidents_updates(stream: Any) -> None:
    stage = "intake.incidents_updates"
    async for accepted in intake(stream.events(), IncidentUpdate, names.INCIDENTS_UPDATES, stage):
        await to_routing(region_event(accepted))


@app.agent(units_telemetry, name="intake.units_telemetry")
async def intake_units_telemetry(stream: Any) -> None:
    stage = "intake.units_telemetry"
    async for accepted in intake(stream.events(), UnitTelemetry, names.UNITS_TELEMETRY, stage):
        await to_routing(region_event(accepted))
