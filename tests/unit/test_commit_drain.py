"""Exactly-once commit steps that need no broker: the commit gate and the changelog drain.

The drain runs on Faust's own ``ProducerBuffer`` (its queue and sending task); the records go
to a recording channel instead of Kafka, slowly, as on a busy machine.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest
from faust.transport.producer import ProducerBuffer

from streams.transactions import BufferDrain, CommitGate, commit_position


@dataclass
class SlowChannel:
    """Stands in for a topic: publishing takes ``delay`` seconds, sent values are recorded."""

    delay: float
    sent: list[int] = field(default_factory=list)
    started: asyncio.Event = field(default_factory=asyncio.Event)

    async def publish_message(self, fut: Any, wait: bool = False) -> None:
        self.started.set()
        await asyncio.sleep(self.delay)
        self.sent.append(fut.message.value)


def record(channel: SlowChannel, value: int) -> Any:
    return SimpleNamespace(message=SimpleNamespace(channel=channel, value=value))


@pytest.mark.asyncio
async def test_the_drain_hands_over_every_buffered_write_in_order() -> None:
    """Faust's flush counts only the queue (the record being sent is missed) and gives up on
    a record slower than 0.1 s: a commit then left a table row out of its transaction."""
    buffer = ProducerBuffer()
    buffer.app = SimpleNamespace(conf=SimpleNamespace(producer_threaded=False))
    drain = BufferDrain(buffer)  # before the buffer's task starts, as install() does
    channel = SlowChannel(delay=0.15)
    await buffer.start()
    try:
        for value in range(4):
            buffer.put(record(channel, value))
        await asyncio.wait_for(channel.started.wait(), 5)  # the task is sending the first
        await asyncio.wait_for(drain.drain(), 10)
        assert channel.sent == [0, 1, 2, 3]
        assert buffer.size == 0
    finally:
        await buffer.stop()


@pytest.mark.asyncio
async def test_a_commit_waits_for_agents_mid_event_and_holds_new_ones() -> None:
    gate = CommitGate()
    gate.enabled = True
    steps: list[str] = []
    inside = asyncio.Event()
    finish = asyncio.Event()

    async def agent_event(name: str) -> None:
        async with gate.step():
            steps.append(f"{name} start")
            inside.set()
            await finish.wait()
            steps.append(f"{name} end")

    async def commit() -> None:
        async with gate.commit():
            steps.append("commit")

    first = asyncio.create_task(agent_event("a"))
    await asyncio.wait_for(inside.wait(), 5)
    committing = asyncio.create_task(commit())
    await asyncio.sleep(0)  # the commit is now waiting for the gate
    later = asyncio.create_task(agent_event("b"))
    await asyncio.sleep(0)
    finish.set()
    await asyncio.wait_for(asyncio.gather(first, committing, later), 5)
    assert steps == ["a start", "a end", "commit", "b start", "b end"]


def test_a_commit_goes_past_the_offsets_transaction_markers_take() -> None:
    """Read committed, a marker's offset is never delivered: Faust stopped its commit there
    (at 5 here) while the transaction held what 6 to 10 had sent."""
    assert commit_position([3, 4, 6, 7, 8, 10]) == 11
    assert commit_position([]) is None
