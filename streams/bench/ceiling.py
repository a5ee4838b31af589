"""The ceiling: a raw aiokafka consumer reading and decoding the pre-loaded input topics.

What Python can do with these records on this machine without Faust: fetch them and validate
each with the same pydantic models and the same ``decode`` intake uses (size check, CloudEvents
headers, JSON + schema), nothing else. One pass reads only, one reads and decodes.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiokafka import AIOKafkaConsumer
from pydantic import BaseModel

from schemas import topics
from schemas.incidents import IncidentReported, IncidentUpdate
from schemas.units import UnitTelemetry
from streams.intake.decode import Accepted, decode
from streams.settings import Settings

MODELS: dict[str, type[BaseModel]] = {
    topics.INCIDENTS_REPORTED: IncidentReported,
    topics.INCIDENTS_UPDATES: IncidentUpdate,
    topics.UNITS_TELEMETRY: UnitTelemetry,
}


async def _pass(settings: Settings, *, decode_values: bool, timeout_s: float) -> dict[str, Any]:
    by_name = {settings.topic(name): model for name, model in MODELS.items()}
    consumer = AIOKafkaConsumer(
        *by_name,
        bootstrap_servers=settings.bootstrap,
        group_id=None,  # no group: every partition, from the beginning, nothing committed
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_partition_fetch_bytes=4 * 1024 * 1024,
    )
    await consumer.start()
    try:
        ready_by = time.monotonic() + 30
        while len(consumer.assignment()) < settings.topic_partitions * len(by_name):
            if time.monotonic() > ready_by:
                raise TimeoutError("the raw consumer got no partitions of the input topics")
            await asyncio.sleep(0.05)
        tps = sorted(consumer.assignment())
        expected = sum((await consumer.end_offsets(tps)).values()) - sum(
            (await consumer.beginning_offsets(tps)).values()
        )
        seen = accepted = 0
        started = time.perf_counter()
        deadline = started + timeout_s
        while seen < expected and time.perf_counter() < deadline:
            batch = await consumer.getmany(timeout_ms=200, max_records=10_000)
            for tp, records in batch.items():
                seen += len(records)
                if decode_values:
                    model = by_name[tp.topic]
                    for r in records:
                        if isinstance(decode(model, r.value, r.headers, r.key), Accepted):
                            accepted += 1
        elapsed = time.perf_counter() - started
    finally:
        await consumer.stop()
    return {
        "messages": seen,
        "expected": expected,
        "accepted": accepted if decode_values else None,
        "seconds": elapsed,
        "per_s": seen / elapsed if elapsed > 0 else 0.0,
        "complete": seen >= expected,
    }


async def run(settings: Settings, *, timeout_s: float = 120.0) -> dict[str, Any]:
    """Read-only pass, then read + decode (the ceiling); both on the same pre-loaded records."""
    read = await _pass(settings, decode_values=False, timeout_s=timeout_s)
    decoded = await _pass(settings, decode_values=True, timeout_s=timeout_s)
    return {
        "messages_per_s": decoded["per_s"],
        "messages": decoded["messages"],
        "accepted": decoded["accepted"],
        "seconds": decoded["seconds"],
        "complete": decoded["complete"],
        "read_only_messages_per_s": read["per_s"],
    }
