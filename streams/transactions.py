"""Exactly-once that holds: an event's outputs, table writes and offset commit in ONE transaction.

faust-streaming 0.15 keeps one transactional producer per (topic group, partition) and commits a
producer's transaction together with the offsets consumed from the partition of the same number.
But it picks the producer for a record by the record's *destination* partition. An assignment
of an incident read from region partition 0 that hashes to ``dispatch.assignments`` partition 1,
or any case fact (the cases topic has one partition), lands in another partition's transaction:
not atomic with the offset of the event that caused it, and lost when that other partition goes
quiet and its transaction times out (tests/integration/test_crash.py found both).

Two changes make it Kafka Streams' model (commit = offsets + everything they caused):

- ``SourcePartitionTransactions.send`` puts every record sent while an event is processed into
  the transaction of the partition that event was read from. Table changelog writes are already
  there: Faust writes a row to the changelog partition of the event's own partition number.
- ``CommitGate``: a commit waits until no agent is between receiving an event and acking it,
  and no agent starts one until the commit is done. Otherwise a commit racing an agent would
  end a transaction holding half of an event's records while its offset is left for the next
  commit (after a crash: the event processed again, its first half doubled). Faust's buffered
  sends (the changelog writes) are drained into their transactions inside the gate
  (``BufferDrain``: Faust's own flush can return with records still unsent).

And table recovery reads every changelog to its last stable offset, asked of the broker (Faust
asks a cache that is empty in a fresh worker, and then recovers nothing).

Producers are started only for partitions a worker processes, never for its standby replicas
(Faust started both, and a second worker fenced the first).

A commit takes each partition to one past its last acked record (``commit_position``): Faust
stopped at gaps it could not explain (transaction markers), so a transaction committed the
records an event caused while that event's offset stayed behind.

Agents wrap each event in ``gate.step()``; it costs nothing under at-least-once.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, cast

import faust
from faust.transport.consumer import TransactionManager
from faust.types import TP


class CommitGate:
    """Many agent steps at once, or one commit: never both (a writer-preferring gate)."""

    def __init__(self) -> None:
        self.enabled = False
        self._steps = 0
        self._idle: asyncio.Event | None = None
        self._open: asyncio.Event | None = None

    def _events(self) -> tuple[asyncio.Event, asyncio.Event]:
        # Created lazily: on the worker's loop, not at import.
        if self._idle is None or self._open is None:
            self._idle, self._open = asyncio.Event(), asyncio.Event()
            self._idle.set()
            self._open.set()
        return self._idle, self._open

    @asynccontextmanager
    async def step(self) -> AsyncIterator[None]:
        """One event's processing. Must not suspend on exit: the ack follows it directly."""
        if not self.enabled:
            yield
            return
        idle, opened = self._events()
        while not opened.is_set():
            await opened.wait()
        self._steps += 1
        idle.clear()
        try:
            yield
        finally:
            self._steps -= 1
            if self._steps == 0:
                idle.set()

    @asynccontextmanager
    async def commit(self) -> AsyncIterator[None]:
        idle, opened = self._events()
        opened.clear()
        try:
            await idle.wait()
            yield
        finally:
            opened.set()


gate = CommitGate()
#: Faust's send buffer under exactly_once (set by install()).
_changelog_writes: BufferDrain | None = None


class BufferDrain:
    """Empties Faust's send buffer for real: every table write handed to the producer.

    Table rows reach their changelog through ``ProducerBuffer``: a queue and one task sending
    from it. ``ProducerBuffer.flush()`` counts only the queue, so the record that task is
    sending right now is missed, and it gives up when a record takes 0.1 s (a busy machine).
    Either way a commit went ahead while an event's row was not yet in its transaction: the
    row fell into the next one, and a kill -9 before that committed lost it while the event's
    offset and outputs stayed committed (seen: a unit's watch restored without the fix that
    resolved its telemetry_stale alert, and the alert resolved again at the next fix).
    """

    def __init__(self, buffer: Any) -> None:
        self.buffer = buffer
        self._send: Callable[[Any], Awaitable[None]] = buffer._send_pending
        self._sending = 0
        self._idle: asyncio.Event | None = None
        # The buffer's task binds this when it starts (install() runs before the app starts).
        buffer._send_pending = self._tracked

    def _event(self) -> asyncio.Event:
        if self._idle is None:
            self._idle = asyncio.Event()
            self._idle.set()
        return self._idle

    async def _tracked(self, fut: Any) -> None:
        idle = self._event()
        self._sending += 1
        idle.clear()
        try:
            await self._send(fut)
        finally:
            self._sending -= 1
            if self._sending == 0:
                idle.set()

    async def drain(self) -> None:
        """Every buffered record handed to the producer, in order. Call with agents paused."""
        queue: asyncio.Queue[Any] = self.buffer.pending
        while True:
            await self._event().wait()  # the buffer task's record first (order per key)
            if queue.empty():
                return
            # The rest ourselves, in order: the task may not run again before the commit. All
            # taken off the queue at once, so the task cannot send one of them meanwhile.
            waiting = [queue.get_nowait() for _ in range(queue.qsize())]
            for fut in waiting:
                await self._tracked(fut)


class SourcePartitionTransactions(TransactionManager):
    """Records sent while processing an event join the transaction of the event's partition."""

    async def send(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        partition: int | None,
        timestamp: float | None,
        headers: Any,
        *,
        transactional_id: str | None = None,
    ) -> Awaitable[Any]:
        event = faust.current_event()
        if event is None or topic.endswith("-changelog"):
            # Faust writes a table row to the changelog partition numbered like the event's
            # own, so its choice is right for changelogs, whichever task flushes them.
            return await super().send(topic, key, value, partition, timestamp, headers)
        source: TP = event.message.tp
        tid = self._transactional_id(source)
        destination = self.consumer.key_partition(topic, key, partition)
        return cast(
            Awaitable[Any],
            await self.producer.send(
                topic, key, value, destination, timestamp, headers, transactional_id=tid
            ),
        )

    async def on_rebalance(self, assigned: Any, revoked: Any, newly_assigned: Any) -> None:
        """Transactional producers for the partitions this worker processes, not its standbys.

        Faust starts one for every assigned partition number, standby replicas of changelogs
        included: a second worker holding a standby of partition 0 started the producer of
        partition 0 and fenced the worker processing it (ProducerFenced, the worker crashed;
        seen when a second worker joined). The same id is never started in two workers now.

        Every producer of a revoked partition stops, as in Faust (its open transaction is
        aborted when that partition's next producer starts, here or elsewhere). Faust picks
        them after the new assignment is known and skips partitions that are now standbys: a
        worker kept the producer of a partition it handed over, fenced by the new owner, and
        when the partition came back it began a transaction on that fenced producer
        (ProducerFenced on every send; seen when the second worker left again).
        """
        if _changelog_writes is not None:  # into the transactions they belong to, first
            await _changelog_writes.drain()
        actives = self.app.assignor.assigned_actives()
        needed = self._tps_to_transactional_ids({tp for tp in assigned if tp in actives})
        running: set[str] = set(cast(Any, self.producer)._transaction_producers)
        stop = {tid for tid in map(self._transactional_id, revoked) if tid in running}
        await self._stop_transactions(sorted(stop | (running - needed)))
        await self._start_transactions(sorted(needed))

    def _transactional_id(self, tp: TP) -> str | None:
        try:
            group = self.app.assignor.group_for_topic(tp.topic)
        except KeyError:  # a topic no longer subscribed
            return None
        return f"{self.app.conf.id}-{group}-{tp.partition}"


def install(app: faust.App) -> None:
    """Use all of it on ``app`` (exactly_once only): after ``faust.Worker(app)``, before it
    starts."""
    # Faust decides once (cached) whether the app is transactional, when its consumer is
    # created, from app.in_worker, which its Worker sets only when it starts: set it now.
    app.in_worker = True
    discard_local_tables(app)
    gate.enabled = True
    cast(Any, app.transport).TransactionManager = SourcePartitionTransactions
    consumer = cast(Any, app.consumer)
    assert consumer.in_transaction
    assert isinstance(consumer.transactions, SourcePartitionTransactions)
    commit_tps: Callable[..., Awaitable[bool]] = consumer._commit_tps
    global _changelog_writes
    changelog_writes = _changelog_writes = BufferDrain(cast(Any, app.producer).buffer)

    async def gated_commit_tps(tps: Any, start_new_transaction: bool) -> bool:
        async with gate.commit():
            # Changelog writes wait in Faust's send buffer: into their transactions first.
            await changelog_writes.drain()
            return await commit_tps(tps, start_new_transaction)

    consumer._commit_tps = gated_commit_tps

    # Table recovery reads each changelog up to its "highwater". Under exactly_once Faust takes
    # it from aiokafka's last_stable_offset(), which is known only after a fetch of that
    # partition: in a fresh worker it is None, Faust reads that as "nothing to recover", and
    # the worker starts with tables missing committed rows (seen: units committed to two
    # incidents at once, alerts raised again after a kill -9). Ask the broker instead: a
    # read_committed consumer's end_offsets() are the last stable offsets.
    thread = consumer._thread

    async def last_stable_offsets(partitions: Any) -> Any:
        return await thread._ensure_consumer().end_offsets(partitions)

    thread._highwaters = last_stable_offsets

    def processed_position(tp: TP) -> int | None:
        position = commit_position(consumer._acked[tp])
        if position is not None:
            consumer._acked[tp] = []
            consumer._acked_index[tp] = set()
            consumer._gap.pop(tp, None)
        return position

    consumer._new_offset = processed_position

    revoke = consumer.on_partitions_revoked

    async def finish_then_revoke(revoked: Any) -> None:
        # Kafka Streams' order: finish every event already handed to an agent and commit it
        # all, then give partitions up. Faust forgets the revoked partitions' acked offsets
        # first and then lets its agents finish their queued events: none of that was
        # committed, the open transactions were aborted at the new assignment, but the local
        # tables kept those events' writes (a partition kept across the rebalance then
        # re-processed them against rows that already held them: outputs lost). And its
        # last commit there ended the transactions without starting new ones, so a table
        # write still in the send buffer crashed the worker ("Can't send messages while not
        # in transaction", seen when a second worker joined). Here no new record is handed
        # out, the agents finish, and wait_empty commits everything (through the gate and
        # the buffer drain) before Faust's own revoke finds nothing left to do.
        consumer.stop_flow()
        await consumer.wait_empty()
        await revoke(revoked)

    consumer.on_partitions_revoked = finish_then_revoke

    async def commit_keeping_transactions_open() -> None:
        # Faust's version commits with start_new_transaction=False: transactions end and none
        # begins, yet during a rebalance agents can still be handed a record fetched just
        # before the flow stopped, and its sends crashed the worker ("Can't send messages
        # while not in transaction"). A transaction left open is aborted when the producer
        # of its partition starts again (here or in another worker): nothing is lost, the
        # records after the last commit are processed again.
        await consumer.commit()

    consumer.commit_and_end_transactions = commit_keeping_transactions_open


def commit_position(acked: list[int]) -> int | None:
    """The offset to commit for a partition: one past the last record its agent acked.

    Faust commits only up to the first gap in the acked offsets it cannot explain. Read
    committed, every transaction marker and aborted record is such a gap (never delivered),
    and Faust's gap tracking misses some (none before offset 1, none right after a seek): its
    commits fell further and further behind what the agent had processed, while the
    transaction of that partition number, holding the records the processing sent, committed
    anyway. After a kill -9 those events were processed again and their records sent twice
    (the kill test: one routing record forwarded by two workers, both committed). Under the
    commit gate no agent is mid-event at a commit and a partition's records are acked in
    order, so every offset below the last acked one was processed or is a gap.
    """
    return max(acked) + 1 if acked else None


def discard_local_tables(app: faust.App) -> None:
    """Under exactly_once, tables start from their changelogs (read committed), never from
    the local store: after a kill -9 that store may hold writes of aborted transactions,
    i.e. state ahead of the committed offsets (Kafka Streams wipes it for the same reason)."""
    shutil.rmtree(Path(app.conf.tabledir), ignore_errors=True)
