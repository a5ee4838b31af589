"""Sinks without a broker: the JSON Lines format, pacing and bounds of publishing (with a fake
producer), replay's reading and summary, progress output, and the two main functions."""

from __future__ import annotations

import asyncio
import gzip
import io
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka.errors import KafkaTimeoutError
from rich.console import Console

from schemas import topics
from streams.city import load_city
from streams.settings import Settings
from streams.sim.generator import SimConfig, SimEvent, generate
from streams.sim.replay import JsonlReader, count_records, replay, replay_main
from streams.sim.sinks import (
    ProgressReporter,
    Recorded,
    decode_line,
    encode_line,
    publish,
    simulate_main,
    to_jsonl,
)

CITY = load_city(None)
T0 = datetime(2025, 5, 9, 12, 0, tzinfo=UTC)
SETTINGS = Settings(kafka_bootstrap="127.0.0.1:1", topic_prefix="test.")


def event(seconds: float, key: str = "u-1", value: bytes | None = None) -> SimEvent:
    body = value if value is not None else orjson.dumps({"unit_id": key, "n": seconds})
    return SimEvent(topics.UNITS_TELEMETRY, key, body, T0 + timedelta(seconds=seconds))


class FakeProducer:
    """Records what is sent; fails the records whose keys are in ``fail``."""

    def __init__(self, fail: Sequence[str] = (), refuse: Sequence[str] = ()) -> None:
        self.fail = set(fail)
        self.refuse = set(refuse)
        self.sent: list[dict[str, Any]] = []

    async def send(
        self,
        topic: str,
        value: bytes | None = None,
        key: bytes | None = None,
        partition: int | None = None,
        timestamp_ms: int | None = None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> asyncio.Future[None]:
        name = (key or b"").decode()
        if name in self.refuse:
            raise KafkaTimeoutError("buffer full")
        self.sent.append(
            {
                "topic": topic,
                "key": key,
                "value": value,
                "timestamp_ms": timestamp_ms,
                "headers": headers,
                "wall": time.monotonic(),
            }
        )
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if name in self.fail:
            future.set_exception(KafkaTimeoutError("no ack"))
        else:
            future.set_result(None)
        return future


# --- the file format ------------------------------------------------------------------------------


def test_lines_embed_json_values_byte_for_byte() -> None:
    original = event(1.5)
    line = encode_line(original)
    assert line.endswith(b"}\n")
    assert original.value in line
    data = orjson.loads(line)
    assert data["topic"] == "units.telemetry"
    assert data["key"] == "u-1"
    assert data["timestamp"] == original.timestamp_ms
    back = decode_line(line)
    assert back == Recorded(*original)
    assert tuple(back)[:4] == tuple(original)


@pytest.mark.parametrize("value", [b'{"unit_id": "u-1", trunc', b"\xff\xfe\x00binary", b""])
def test_values_that_are_not_json_survive_the_round_trip(value: bytes) -> None:
    line = encode_line(event(0, value=value))
    assert b'"raw' in line
    assert decode_line(line).value == value


def test_headers_survive_the_round_trip() -> None:
    recorded = Recorded(*event(0), headers=(("ce_id", b"42"), ("ce_source", b"sim")))
    assert decode_line(encode_line(recorded)).headers == recorded.headers


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        (b"not json", "not JSON"),
        (b"[1]", "JSON object"),
        (b'{"key":"k","timestamp":1,"value":{}}', "topic"),
        (b'{"topic":"t","key":1,"timestamp":1,"value":{}}', "key"),
        (b'{"topic":"t","key":"k","timestamp":"now","value":{}}', "timestamp"),
        (b'{"topic":"t","key":"k","timestamp":1}', "value"),
        (b'{"topic":"t","key":"k","timestamp":1,"raw_b64":"***"}', "base64"),
        (b'{"topic":"t","key":"k","timestamp":1,"value":{},"headers":{"a":"b"}}', "headers"),
    ],
)
def test_unreadable_lines_are_named(line: bytes, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        decode_line(line)


@pytest.mark.parametrize("name", ["run.jsonl", "run.jsonl.gz"])
def test_files_are_written_and_read_back_skipping_bad_lines(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    events = [event(i, key=f"u-{i % 3}") for i in range(50)]
    assert to_jsonl(path, events) == 50
    if name.endswith(".gz"):
        assert gzip.decompress(path.read_bytes()).count(b"\n") == 50
        with gzip.open(path, "ab") as fh:
            fh.write(b"garbage\n\n")
    else:
        with path.open("ab") as fh:
            fh.write(b"garbage\n\n")
    assert count_records(path) == 51
    reader = JsonlReader(path)
    assert [Recorded(*e) for e in events] == list(reader.records())
    assert reader.unreadable == 1
    assert reader.first_problem is not None
    assert reader.first_problem.startswith(f"{path}:51: not JSON")


# --- publishing -----------------------------------------------------------------------------------


async def test_publish_keys_timestamps_and_prefixed_topics() -> None:
    producer = FakeProducer()
    events = [event(i / 10, key=f"u-{i}") for i in range(20)]
    summary = await publish(events, SETTINGS, 0, producer=producer, headers=[("x", b"1")])
    assert summary.sent == 20
    assert summary.errors == 0
    assert summary.rate > 0
    assert summary.by_topic == {topics.UNITS_TELEMETRY: 20}
    assert summary.first_event_time == T0
    assert summary.last_event_time == T0 + timedelta(seconds=1.9)
    assert [s["topic"] for s in producer.sent] == ["test.units.telemetry"] * 20
    assert [s["key"] for s in producer.sent] == [f"u-{i}".encode() for i in range(20)]
    assert [s["timestamp_ms"] for s in producer.sent] == [e.timestamp_ms for e in events]
    assert [s["value"] for s in producer.sent] == [e.value for e in events]
    assert producer.sent[0]["headers"] == [("x", b"1")]


async def test_publish_paces_by_event_time() -> None:
    producer = FakeProducer()
    events = [event(i * 0.5) for i in range(5)]  # two seconds of event time
    summary = await publish(events, SETTINGS, 4.0, producer=producer)  # half a second
    walls = [s["wall"] - producer.sent[0]["wall"] for s in producer.sent]
    assert walls == pytest.approx([0, 0.125, 0.25, 0.375, 0.5], abs=0.05)
    assert 0.45 < summary.seconds < 1.0


async def test_publish_is_bounded_by_count_and_time() -> None:
    producer = FakeProducer()
    summary = await publish(
        (event(i) for i in range(100)), SETTINGS, 0, max_events=7, producer=producer
    )
    assert summary.sent == 7
    producer = FakeProducer()
    began = time.monotonic()
    summary = await publish(
        (event(i * 0.1) for i in range(100)), SETTINGS, 1.0, max_seconds=0.35, producer=producer
    )
    assert time.monotonic() - began < 0.6
    assert 3 <= summary.sent <= 5


async def test_publish_counts_errors_and_carries_on() -> None:
    producer = FakeProducer(fail=["u-3"], refuse=["u-5"])
    events = [event(i, key=f"u-{i}") for i in range(10)]
    summary = await publish(events, SETTINGS, 0, producer=producer)
    assert summary.sent == 8
    assert summary.errors == 2
    assert summary.first_error is not None
    assert "KafkaTimeoutError" in summary.first_error
    assert "2 errors" in summary.text()


# --- replay without a broker ----------------------------------------------------------------------


async def test_replay_keeps_file_order_and_counts_unreadable_lines(tmp_path: Path) -> None:
    path = tmp_path / "rec.jsonl"
    events = [event(i, key=f"u-{i % 4}") for i in range(30)]
    events.insert(10, event(2))  # out of event-time order in the file: file order wins
    to_jsonl(path, events)
    with path.open("ab") as fh:
        fh.write(b"{broken\n")
    out = io.StringIO()
    producer = FakeProducer()
    summary = await replay(path, SETTINGS, 0, True, console=Console(file=out), producer=producer)
    assert [s["value"] for s in producer.sent] == [e.value for e in events]
    assert summary.sent == 31
    assert summary.unreadable == 1
    assert summary.errors == 1
    text = out.getvalue()
    assert "replaying" in text
    assert "sent 31 events" in text
    assert "1 unreadable lines" in text


def test_replay_main_without_the_file(tmp_path: Path) -> None:
    out = io.StringIO()
    assert replay_main(tmp_path / "missing.jsonl", console=Console(file=out)) == 2
    assert "no such recording" in out.getvalue()


# --- progress and simulate_main -------------------------------------------------------------------


def test_progress_without_a_terminal_prints_plain_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=False)
    clock = iter([0.0, 0.1, 6.0, 6.1, 12.5])
    monkeypatch.setattr(time, "monotonic", lambda: next(clock))
    with ProgressReporter("replay", total=100, console=console) as reporter:
        for n in range(1, 6):
            reporter.update(n * 10, n * 10, T0)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("replay: 30 events, event time 2025-05-09T12:00:00+00:00 (30%)")
    assert lines[-1].startswith("replay: 50 events")
    quiet = io.StringIO()
    with ProgressReporter("x", total=1, console=Console(file=quiet), enabled=False) as reporter:
        reporter.update(1, 1)
    assert quiet.getvalue() == ""


def test_progress_on_a_terminal_draws_a_bar() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120)
    with ProgressReporter("simulate", total=10.0, console=console) as reporter:
        reporter.update(10.0, 1234, T0)
    assert "simulate" in out.getvalue()
    assert "1,234 events" in out.getvalue()


def test_simulate_main_writes_a_file_and_prints_statistics(tmp_path: Path) -> None:
    out = io.StringIO()
    path = tmp_path / "sim.jsonl"
    start = datetime(2025, 5, 9, 19, 0, tzinfo=CITY.timezone)
    code = simulate_main(
        seed=3,
        start=start,
        duration_s=600.0,
        out=path,
        progress=False,
        settings=Settings(),
        console=Console(file=out, width=200),
        config_overrides={"late_handover_share": 0.0},
    )
    assert code == 0
    config = SimConfig(seed=3, start=start, duration_s=600.0, late_handover_share=0.0)
    expected = b"".join(encode_line(e) for e in generate(config, city=CITY))
    assert path.read_bytes() == expected
    text = out.getvalue()
    assert "simulating Hailar District" in text
    assert "calls: " in text
    assert "units on duty: " in text
    lines = expected.count(b"\n")
    assert f"wrote {lines:,} events to {path}" in text


def test_simulate_main_bounded_by_count(tmp_path: Path) -> None:
    path = tmp_path / "sim.jsonl"
    code = simulate_main(
        start=T0,
        duration_s=3600.0,
        out=path,
        progress=False,
        max_events=100,
        settings=Settings(),
        console=Console(file=io.StringIO()),
    )
    assert code == 0
    assert path.read_bytes().count(b"\n") == 100
