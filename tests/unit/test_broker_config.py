"""The pure parts of streams.broker: no JVM, no Maven, no broker."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest

from streams import broker
from streams.settings import Settings


def _properties(text: str) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))
    return {key: value for key, value in pairs}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _local_settings(tmp_path: Path, **overrides: Any) -> Settings:
    # Explicit kwargs win over PATROLFLOW_* variables a developer may have exported.
    values: dict[str, Any] = {
        "kafka_bootstrap": None,
        "kafka_port": _free_port(),
        "cache_dir": tmp_path,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def no_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if anything tries to start a process (Maven, java)."""

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"unexpected call with {args!r}")

    monkeypatch.setattr(subprocess, "Popen", forbidden)
    monkeypatch.setattr(subprocess, "run", forbidden)


def test_server_properties_single_node_kraft(tmp_path: Path) -> None:
    props = _properties(
        broker.render_server_properties(port=19092, controller_port=19093, data_dir=tmp_path)
    )

    assert props["process.roles"] == "broker,controller"
    assert props["node.id"] == "1"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:19093"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093"
    assert props["advertised.listeners"] == "PLAINTEXT://127.0.0.1:19092"
    assert props["controller.listener.names"] == "CONTROLLER"
    assert props["inter.broker.listener.name"] == "PLAINTEXT"
    assert props["log.dirs"] == str(tmp_path)
    # Static voters and the dynamic-quorum setting exclude each other in Kafka 4.1.
    assert "controller.quorum.bootstrap.servers" not in props


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("offsets.topic.replication.factor", "1"),
        ("transaction.state.log.replication.factor", "1"),
        ("transaction.state.log.min.isr", "1"),
        ("share.coordinator.state.topic.replication.factor", "1"),
        ("share.coordinator.state.topic.min.isr", "1"),
        ("group.initial.rebalance.delay.ms", "0"),
    ],
)
def test_server_properties_single_node_overrides(tmp_path: Path, key: str, value: str) -> None:
    text = broker.render_server_properties(port=9092, controller_port=9093, data_dir=tmp_path)
    assert _properties(text)[key] == value


def test_up_with_external_bootstrap_starts_nothing(tmp_path: Path, no_processes: None) -> None:
    settings = Settings(kafka_bootstrap="kafka-1:9092,kafka-2:9092", cache_dir=tmp_path)

    state = broker.up(settings)

    assert state.external
    assert not state.started
    assert state.bootstrap == "kafka-1:9092,kafka-2:9092"
    assert state.pid is None
    assert list(tmp_path.iterdir()) == []


def test_down_with_external_bootstrap_does_nothing(tmp_path: Path, no_processes: None) -> None:
    settings = Settings(kafka_bootstrap="kafka-1:9092", cache_dir=tmp_path)
    assert broker.down(settings) is False
    assert list(tmp_path.iterdir()) == []


def test_down_without_broker_is_a_no_op(tmp_path: Path, no_processes: None) -> None:
    settings = _local_settings(tmp_path)
    assert broker.down(settings) is False
    assert broker.down(settings) is False


def test_down_removes_a_stale_pid_file(tmp_path: Path, no_processes: None) -> None:
    settings = _local_settings(tmp_path)
    home = tmp_path / f"broker-{settings.kafka_port}"
    home.mkdir()
    # A live pid that is not our broker (pid reuse) must not be signalled.
    (home / "broker.pid").write_text(f"{os.getpid()}\n")

    assert broker.down(settings) is False
    assert not (home / "broker.pid").exists()


def test_status_of_a_closed_port_is_unreachable(tmp_path: Path, no_processes: None) -> None:
    settings = _local_settings(tmp_path)

    result = broker.status(settings)

    assert result.bootstrap == f"127.0.0.1:{settings.kafka_port}"
    assert result.reachable is False
    assert result.pid is None
    assert not result.external


def test_wait_until_reachable_times_out() -> None:
    with pytest.raises(TimeoutError, match="answered no metadata request"):
        broker.wait_until_reachable(f"127.0.0.1:{_free_port()}", timeout_s=0.5)


def test_kafka_3_is_refused(tmp_path: Path, no_processes: None) -> None:
    with pytest.raises(broker.BrokerError, match=r"4\.x"):
        broker.resolve_jars("3.9.1", tmp_path)


_DIGEST = "0123456789abcdef" * 8


@pytest.mark.parametrize(
    "text",
    [
        # gpg --print-md style, as Apache publishes for Kafka: upper case, grouped, wrapped.
        "kafka_2.13-4.1.1.tgz: "
        + " ".join(_DIGEST.upper()[i : i + 8] for i in range(0, 64, 8))
        + "\n                      "
        + " ".join(_DIGEST.upper()[i : i + 8] for i in range(64, 128, 8))
        + "\n",
        f"{_DIGEST}  kafka_2.13-4.1.1.tgz\n",  # sha512sum style
    ],
)
def test_parse_sha512_formats(text: str) -> None:
    assert broker.parse_sha512(text) == _DIGEST


def test_parse_sha512_rejects_garbage() -> None:
    with pytest.raises(broker.BrokerError):
        broker.parse_sha512("<html>404 Not Found</html>")
