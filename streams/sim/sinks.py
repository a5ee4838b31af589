"""Where simulated and recorded events go: a JSON Lines file, or patrolflow's input topics.

**The file** (``.jsonl``, or ``.jsonl.gz`` compressed) has one record per line, in order::

    {"topic":"units.telemetry","key":"u-swat-p03-b","timestamp":1746790200123,"value":{...}}

``topic`` is the canonical topic name (a deployment's ``PATROLFLOW_TOPIC_PREFIX`` is added
when publishing), ``key`` the record key (a string, or null), ``timestamp`` the event time in
milliseconds since the epoch (the Kafka record timestamp), ``value`` the record's JSON value
embedded as is. A value that is not JSON (a deliberately bad record) is stored as text in
``raw`` instead, or base64 in ``raw_b64`` if it is not UTF-8. An optional ``headers`` member,
a list of ``[name, value]`` string pairs, is published as record headers.

**Publishing** (:func:`publish`) keys records by incident or unit id, sets the record
timestamp to the event time, and paces records by event time: at ``speed`` N, a record whose
event time is ``d`` seconds after the first one is sent ``d / N`` seconds after it (speed 0:
as fast as the producer goes). It can be bounded by a number of records and by wall-clock
seconds, and returns a :class:`Summary`.

:func:`simulate_main` is the ``patrolflow simulate`` command as a plain function.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import gzip
import itertools
import math
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Final, NamedTuple, cast

import orjson
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)

from streams.settings import Settings
from streams.sim.generator import (
    SimEvent,
    SimStats,
    default_start,
    format_speed,
    generate,
    is_max_speed,
)
from streams.sim.model import EPOCH, SimConfig, to_ms

__all__ = [
    "ProgressReporter",
    "Recorded",
    "Summary",
    "decode_line",
    "encode_line",
    "open_output",
    "publish",
    "simulate_main",
    "to_jsonl",
]

Headers = tuple[tuple[str, bytes], ...]
#: Producer futures awaited together (bounds memory and keeps the counts current).
_DRAIN_EVERY: Final = 2000
#: Sleeps shorter than this are skipped (the event loop's timer resolution).
_MIN_SLEEP_S: Final = 0.002


class Recorded(NamedTuple):
    """A record read back from a file: a :class:`SimEvent` plus record headers."""

    topic: str
    key: str | None
    value: bytes
    event_time: datetime
    headers: Headers = ()

    @property
    def timestamp_ms(self) -> int:
        return to_ms(self.event_time)


Event = SimEvent | Recorded


# --- JSON Lines ---------------------------------------------------------------------------------


def encode_line(event: Event) -> bytes:
    """One JSON Lines record (with its newline). JSON values are embedded byte for byte."""
    head = orjson.dumps({"topic": event.topic, "key": event.key, "timestamp": event.timestamp_ms})[
        :-1
    ]
    headers = getattr(event, "headers", ())
    if headers:
        pairs = [[name, value.decode("utf-8", "replace")] for name, value in headers]
        head += b',"headers":' + orjson.dumps(pairs)
    value = event.value
    try:
        orjson.loads(value)
    except orjson.JSONDecodeError:
        try:
            raw = b',"raw":' + orjson.dumps(value.decode("utf-8"))
        except UnicodeDecodeError:
            raw = b',"raw_b64":' + orjson.dumps(base64.b64encode(value).decode("ascii"))
        return head + raw + b"}\n"
    return head + b',"value":' + value.strip() + b"}\n"


def decode_line(line: bytes | str) -> Recorded:
    """A record from one JSON Lines line; :class:`ValueError` naming what is wrong."""
    try:
        data = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object")
    topic, key, timestamp = data.get("topic"), data.get("key"), data.get("timestamp")
    if not isinstance(topic, str) or not topic:
        raise ValueError("'topic' must be a non-empty string")
    if key is not None and not isinstance(key, str):
        raise ValueError("'key' must be a string or null")
    if not isinstance(timestamp, int) or isinstance(timestamp, bool) or timestamp < 0:
        raise ValueError("'timestamp' must be milliseconds since the epoch (an integer)")
    if "value" in data:
        value = orjson.dumps(data["value"])
    elif isinstance(data.get("raw"), str):
        value = data["raw"].encode("utf-8")
    elif isinstance(data.get("raw_b64"), str):
        try:
            value = base64.b64decode(data["raw_b64"], validate=True)
        except ValueError:
            raise ValueError("'raw_b64' is not base64") from None
    else:
        raise ValueError("needs 'value' (JSON), 'raw' (text) or 'raw_b64'")
    headers: Headers = ()
    if "headers" in data:
        pairs = data["headers"]
        if not isinstance(pairs, list) or not all(
            isinstance(p, list) and len(p) == 2 and all(isinstance(s, str) for s in p)
            for p in pairs
        ):
            raise ValueError("'headers' must be a list of [name, value] string pairs")
        headers = tuple((name, text.encode("utf-8")) for name, text in pairs)
    event_time = EPOCH + timedelta(milliseconds=timestamp)
    return Recorded(topic, key, value, event_time, headers)


@contextlib.contextmanager
def open_output(path: Path | str) -> Iterator[IO[bytes]]:
    """A binary file for writing JSON Lines: ``-`` is standard output, ``*.gz`` is gzipped."""
    if str(path) == "-":
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.suffix == ".gz":
        with gzip.open(target, "wb", compresslevel=5) as gz:
            yield cast(IO[bytes], gz)
    else:
        with target.open("wb", buffering=1 << 20) as fh:
            yield fh


def to_jsonl(path: Path | str, events: Iterable[Event]) -> int:
    """Write events to a JSON Lines file (see the module docstring); returns the count."""
    count = 0
    with open_output(path) as fh:
        write = fh.write
        for event in events:
            write(encode_line(event))
            count += 1
    return count


# --- publishing ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Summary:
    """What a publish or replay did. ``errors`` counts records that were not sent (the broker
    refused them, or a replayed line could not be read: those are ``unreadable`` too)."""

    sent: int
    errors: int
    seconds: float
    rate: float
    unreadable: int = 0
    first_error: str | None = None
    by_topic: Mapping[str, int] = field(default_factory=dict)
    first_event_time: datetime | None = None
    last_event_time: datetime | None = None

    def text(self) -> str:
        line = (
            f"sent {self.sent:,} events in {self.seconds:.1f} s ({self.rate:,.0f}/s), "
            f"{self.errors:,} errors"
        )
        if self.unreadable:
            line += f" ({self.unreadable:,} unreadable lines)"
        if self.first_error:
            line += f"; first error: {self.first_error}"
        return line


ProgressCallback = Callable[[int, Event], None]


async def publish(
    events: Iterable[Event],
    settings: Settings,
    speed: float = 1.0,
    *,
    max_events: int | None = None,
    max_seconds: float | None = None,
    headers: Sequence[tuple[str, bytes]] | None = None,
    progress: ProgressCallback | None = None,
    producer: Any = None,
) -> Summary:
    """Publish events to ``settings.topic(event.topic)``, paced by event time at ``speed``
    (0: as fast as possible). Keys as given, record timestamp = event time in ms, ``headers``
    added to every record (recorded headers of a :class:`Recorded` win). Stops after
    ``max_events`` records or ``max_seconds`` of wall time. Errors are counted, not raised.

    ``producer``: an already started ``AIOKafkaProducer`` to use (left running); default a
    new one on ``settings.bootstrap`` with ``acks=all``, stopped (flushed) at the end.
    """
    from aiokafka import AIOKafkaProducer
    from aiokafka.errors import KafkaError

    from streams.security import client_kwargs

    own = producer is None
    if own:
        producer = AIOKafkaProducer(
            bootstrap_servers=settings.bootstrap,
            acks="all",
            linger_ms=10,
            max_batch_size=256 * 1024,
            client_id="patrolflow-sim",
            **client_kwargs(settings),
        )
        await producer.start()
    loop = asyncio.get_running_loop()
    fast = is_max_speed(speed)
    default_headers = list(headers) if headers else None
    names: dict[str, str] = {}
    by_topic: Counter[str] = Counter()
    pending: list[tuple[str, asyncio.Future[Any]]] = []
    sent = errors = queued = 0
    first_error: str | None = None
    first_time: datetime | None = None
    last_time: datetime | None = None

    def fail(exc: BaseException) -> None:
        nonlocal errors, first_error
        errors += 1
        if first_error is None:
            first_error = f"{type(exc).__name__}: {exc}"

    async def drain() -> None:
        nonlocal sent
        batch = pending[:]
        pending.clear()
        results = await asyncio.gather(*(f for _, f in batch), return_exceptions=True)
        for (topic, _), result in zip(batch, results, strict=True):
            if isinstance(result, BaseException):
                fail(result)
            else:
                sent += 1
                by_topic[topic] += 1

    began = loop.time()
    deadline = None if max_seconds is None else began + max_seconds
    first_ms: int | None = None
    try:
        for event in events:
            if max_events is not None and queued >= max_events:
                break
            at_ms = event.timestamp_ms
            if first_ms is None:
                first_ms = at_ms
            if not fast:
                due = began + (at_ms - first_ms) / 1000.0 / speed
                if deadline is not None and due >= deadline:
                    break
                delay = due - loop.time()
                if delay > _MIN_SLEEP_S:
                    if pending:
                        await drain()
                        delay = due - loop.time()
                    if delay > 0:
                        await asyncio.sleep(delay)
            elif deadline is not None and loop.time() >= deadline:
                break
            topic = names.get(event.topic)
            if topic is None:
                topic = names[event.topic] = settings.topic(event.topic)
            record_headers = getattr(event, "headers", None) or default_headers
            queued += 1
            if first_time is None:
                first_time = event.event_time
            last_time = event.event_time
            try:
                future = await producer.send(
                    topic,
                    value=event.value,
                    key=None if event.key is None else event.key.encode(),
                    timestamp_ms=at_ms,
                    headers=list(record_headers) if record_headers else None,
                )
            except KafkaError as exc:
                fail(exc)
            else:
                pending.append((event.topic, future))
                if len(pending) >= _DRAIN_EVERY:
                    await drain()
            if progress is not None:
                progress(queued, event)
        if pending:
            await drain()
    finally:
        if pending:
            with contextlib.suppress(BaseException):
                await drain()
        if own:
            await producer.stop()
    seconds = max(loop.time() - began, 1e-9)
    return Summary(
        sent=sent,
        errors=errors,
        seconds=seconds,
        rate=sent / seconds,
        first_error=first_error,
        by_topic=dict(by_topic),
        first_event_time=first_time,
        last_event_time=last_time,
    )


# --- progress -----------------------------------------------------------------------------------


class ProgressReporter:
    """A progress bar on a terminal (rich), a line every few seconds otherwise, nothing when
    disabled. ``total`` and the ``completed`` values given to :meth:`update` are in the same
    unit (records, or seconds of event time)."""

    PLAIN_EVERY_S: Final = 5.0
    BAR_EVERY_S: Final = 0.1

    def __init__(
        self,
        label: str,
        *,
        total: float | None,
        console: Console,
        enabled: bool = True,
        tz: Any = None,
    ) -> None:
        self.label = label
        self.total = total
        self.console = console
        self.enabled = enabled
        self.tz = tz
        self._bar: Progress | None = None
        self._task: Any = None
        self._next = 0.0
        self._last: tuple[float, int, datetime | None] = (0.0, 0, None)

    def __enter__(self) -> ProgressReporter:
        if self.enabled and self.console.is_terminal:
            self._bar = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                TaskProgressColumn(),
                TextColumn("{task.fields[detail]}"),
                TimeElapsedColumn(),
                console=self.console,
                transient=False,
            )
            self._bar.start()
            self._task = self._bar.add_task(self.label, total=self.total, detail="")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._bar is not None:
            completed, count, at = self._last
            self._bar.update(self._task, completed=completed, detail=self._detail(count, at))
            self._bar.stop()
        elif self.enabled and self._last[1]:
            self._plain(*self._last)

    def _detail(self, count: int, at: datetime | None) -> str:
        when = "" if at is None else f", event time {self._when(at)}"
        return f"{count:,} events{when}"

    def _when(self, at: datetime) -> str:
        local = at.astimezone(self.tz) if self.tz is not None else at
        return local.isoformat(timespec="seconds")

    def _plain(self, completed: float, count: int, at: datetime | None) -> None:
        share = ""
        if self.total:
            share = f" ({min(completed / self.total, 1.0):.0%})"
        self.console.print(f"{self.label}: {self._detail(count, at)}{share}", highlight=False)

    def update(self, completed: float, count: int, at: datetime | None = None) -> None:
        self._last = (completed, count, at)
        if not self.enabled:
            return
        now = time.monotonic()
        if now < self._next:
            return
        if self._bar is not None:
            self._next = now + self.BAR_EVERY_S
            self._bar.update(self._task, completed=completed, detail=self._detail(count, at))
        else:
            if self._next == 0.0:  # no line for the first moment: short runs stay quiet
                self._next = now + self.PLAIN_EVERY_S
                return
            self._next = now + self.PLAIN_EVERY_S
            self._plain(completed, count, at)


# --- patrolflow simulate ------------------------------------------------------------------------


def simulate_main(
    *,
    seed: int = 7,
    start: datetime | None = None,
    duration_s: float = 3600.0,
    speed: float = 1.0,
    out: Path | str | None = None,
    publish_to_kafka: bool | None = None,
    settings: Settings | None = None,
    telemetry_interval_s: float = 10.0,
    calls_per_hour: float = 20.0,
    invalid_share: float = 0.30,
    non_police_share: float = 0.15,
    bad_share: float = 0.0,
    case_time_scale: float = 1.0,
    max_events: int | None = None,
    max_seconds: float | None = None,
    progress: bool = True,
    console: Console | None = None,
    config_overrides: Mapping[str, Any] | None = None,
) -> int:
    """``patrolflow simulate``: run the simulator for the configured city (``settings.city``,
    default the demo city) and write JSON Lines to ``out``, publish to the input topics, or
    both (``out`` and ``publish_to_kafka=True``: the file records what was published).
    ``publish_to_kafka`` None: publish unless ``out`` is given. ``start`` None:
    :func:`~streams.sim.generator.default_start` for ``speed``. ``config_overrides``: any
    other :class:`~streams.sim.model.SimConfig` field. Prints the run's statistics.
    Returns the exit code: 0, or 1 when records could not be published.
    """
    from streams.city.model import load_city
    from streams.dispatch.policy import default_policy, load_policy

    settings = settings if settings is not None else Settings()
    to_kafka = out is None if publish_to_kafka is None else publish_to_kafka
    if console is None:
        console = Console(stderr=str(out) == "-", highlight=False)
    city = load_city(settings.city)
    policy = load_policy(settings.dispatch_policy) if settings.dispatch_policy else default_policy()
    config = SimConfig(
        seed=seed,
        start=start if start is not None else default_start(duration_s, speed),
        duration_s=duration_s,
        telemetry_interval_s=telemetry_interval_s,
        calls_per_hour=calls_per_hour,
        invalid_share=invalid_share,
        non_police_share=non_police_share,
        bad_share=bad_share,
        case_time_scale=case_time_scale,
        **dict(config_overrides or {}),
    )
    stats = SimStats(config, city, policy)
    begin_ms = to_ms(config.start)
    where = []
    if out is not None:
        where.append(str(out))
    if to_kafka:
        where.append(f"{settings.bootstrap} at {format_speed(speed)}")
    console.print(
        f"simulating {city.name}: {config.start.astimezone(city.timezone).isoformat()} "
        f"+ {duration_s:g} s, seed {seed} -> {' and '.join(where)}",
        highlight=False,
    )

    reporter = ProgressReporter(
        "simulate", total=duration_s, console=console, enabled=progress, tz=city.timezone
    )
    summary: Summary | None = None
    interrupted = False
    wall = time.monotonic()
    events: Iterable[Event] = generate(config, city=city, policy=policy)
    if max_events is not None:
        events = itertools.islice(events, max_events)
    with reporter, contextlib.ExitStack() as stack:
        fh = stack.enter_context(open_output(out)) if out is not None else None

        def sink(count: int, event: Event) -> None:
            stats.add(event)
            if fh is not None:
                fh.write(encode_line(event))
            reporter.update((event.timestamp_ms - begin_ms) / 1000.0, count, event.event_time)

        try:
            if to_kafka:
                summary = asyncio.run(
                    publish(events, settings, speed, max_seconds=max_seconds, progress=sink)
                )
            else:
                for count, event in enumerate(events, start=1):
                    sink(count, event)
        except KeyboardInterrupt:
            interrupted = True
    seconds = time.monotonic() - wall
    if interrupted:
        console.print("interrupted: the statistics cover what was produced so far")
    for line in stats.lines():
        console.print(line, highlight=False)
    if interrupted:
        return 130
    if summary is not None:
        console.print(summary.text(), highlight=False)
        return 0 if summary.errors == 0 else 1
    written = stats.events
    rate = written / seconds if seconds > 0 else math.inf
    console.print(f"wrote {written:,} events to {out} in {seconds:.1f} s ({rate:,.0f}/s)")
    return 0
