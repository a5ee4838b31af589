"""Record and replay: publish a JSON Lines recording into patrolflow's topics.

A recording is what ``patrolflow simulate --out FILE`` writes (the format is described in
:mod:`streams.sim.sinks`); any tool can write one. :func:`replay` publishes its records in file
order to ``settings.topic(record.topic)`` with their keys, headers and event times (the Kafka
record timestamp is the recorded event time, unchanged), paced by event time at ``speed``
(1 = as recorded, N = N times faster, 0 = as fast as possible). Lines that cannot be read are
counted as errors and skipped. Progress: a rich progress bar on a terminal, a line every few
seconds otherwise; a summary at the end (events sent, rate, errors).

Replaying old data is driven by its own event time (patrolflow's clock follows event time), so
yesterday's recording does not fire every deadline at once. Event times are kept: a recording
whose event times lie in the future is refused by Kafka 4 brokers beyond one hour ahead of wall
time (those records count as errors; a warning says why).
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import itertools
import time
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import IO, Any, Final, cast

from rich.console import Console

from streams.settings import Settings
from streams.sim.generator import format_speed
from streams.sim.sinks import Event, ProgressReporter, Recorded, Summary, decode_line, publish

__all__ = ["JsonlReader", "count_records", "replay", "replay_main"]

#: Warn when a record's event time is this far ahead of wall time (ms).
_AHEAD_WARNING_MS: Final = 60_000


@contextlib.contextmanager
def _open(path: Path) -> Iterator[IO[bytes]]:
    if path.suffix == ".gz":
        with gzip.open(path, "rb") as gz:
            yield cast(IO[bytes], gz)
    else:
        with path.open("rb", buffering=1 << 20) as fh:
            yield fh


def count_records(path: Path | str) -> int:
    """Non-blank lines of a recording (the progress bar's total)."""
    count = 0
    with _open(Path(path)) as fh:
        for line in fh:
            if line.strip():
                count += 1
    return count


class JsonlReader:
    """Reads a recording; lines that cannot be decoded are counted and skipped."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.unreadable = 0
        self.first_problem: str | None = None

    def records(self) -> Iterator[Recorded]:
        with _open(self.path) as fh:
            for number, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    yield decode_line(line)
                except ValueError as exc:
                    self.unreadable += 1
                    if self.first_problem is None:
                        self.first_problem = f"{self.path}:{number}: {exc}"


async def replay(
    path: Path | str,
    settings: Settings,
    speed: float = 1.0,
    progress: bool = True,
    *,
    max_events: int | None = None,
    max_seconds: float | None = None,
    console: Console | None = None,
    producer: Any = None,
) -> Summary:
    """Publish a recording keeping its event times and order, paced by ``speed`` (0: max).
    With ``progress``: a progress bar (or plain lines when not on a terminal) and the summary
    at the end. ``errors`` in the result counts unsent records and unreadable lines."""
    source = Path(path)
    console = console if console is not None else Console(highlight=False)
    total = count_records(source)
    if max_events is not None:
        total = min(total, max_events)
    reader = JsonlReader(source)
    reporter = ProgressReporter("replay", total=total, console=console, enabled=progress)
    warned = False

    def track(count: int, event: Event) -> None:
        nonlocal warned
        if not warned and event.timestamp_ms - time.time() * 1000 > _AHEAD_WARNING_MS:
            warned = True
            console.print(
                f"warning: event time {event.event_time.isoformat()} is ahead of wall time; "
                "Kafka 4 brokers refuse timestamps more than 1 h ahead "
                "(replay more slowly, or record with an earlier --start)",
                highlight=False,
            )
        reporter.update(count + reader.unreadable, count, event.event_time)

    if progress:
        console.print(
            f"replaying {source} ({total:,} records) to {settings.bootstrap} "
            f"at {format_speed(speed)}",
            highlight=False,
        )
    records: Iterable[Recorded] = reader.records()
    if max_events is not None:
        records = itertools.islice(records, max_events)
    with reporter:
        summary = await publish(
            records,
            settings,
            speed,
            max_seconds=max_seconds,
            progress=track,
            producer=producer,
        )
    summary = replace(
        summary,
        errors=summary.errors + reader.unreadable,
        unreadable=reader.unreadable,
        first_error=summary.first_error or reader.first_problem,
    )
    if progress:
        console.print(summary.text(), highlight=False)
    return summary


def replay_main(
    path: Path | str,
    *,
    speed: float = 1.0,
    settings: Settings | None = None,
    progress: bool = True,
    max_events: int | None = None,
    max_seconds: float | None = None,
    console: Console | None = None,
) -> int:
    """``patrolflow replay FILE --speed N``. Returns the exit code: 0 when every record was
    sent, 1 when some were not (or lines could not be read), 2 when the file is missing."""
    console = console if console is not None else Console(highlight=False)
    source = Path(path)
    if not source.is_file():
        console.print(f"no such recording: {source}", highlight=False)
        return 2
    try:
        summary = asyncio.run(
            replay(
                source,
                settings if settings is not None else Settings(),
                speed,
                progress,
                max_events=max_events,
                max_seconds=max_seconds,
                console=console,
            )
        )
    except KeyboardInterrupt:
        console.print("interrupted")
        return 130
    return 0 if summary.errors == 0 else 1
