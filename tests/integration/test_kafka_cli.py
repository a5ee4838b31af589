"""`patrolflow kafka up|status|down` as an operator types them: idempotent, nothing left behind."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from streams.settings import Settings
from tests.support.worker_process import free_port

pytestmark = pytest.mark.integration


def patrolflow(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "streams", *args],
        env=env,
        text=True,
        capture_output=True,
        timeout=180,
        check=False,
    )


@pytest.mark.skipif(not Settings().uses_local_broker, reason="an external cluster is configured")
def test_up_status_down_twice_on_a_second_port(kafka_bootstrap: str) -> None:
    port, controller = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PATROLFLOW_")}
    env |= {"PATROLFLOW_KAFKA_PORT": str(port), "PATROLFLOW_KAFKA_CONTROLLER_PORT": str(controller)}
    try:
        first, second = patrolflow("kafka", "up", env=env), patrolflow("kafka", "up", env=env)
        assert first.returncode == 0, first.stderr
        assert "started" in first.stdout
        assert second.returncode == 0, second.stderr
        assert "already-running" in second.stdout
        for _ in range(2):
            status = patrolflow("kafka", "status", env=env)
            assert status.returncode == 0
            assert status.stdout.split()[0] == f"127.0.0.1:{port}"  # plain host:port
    finally:
        down = patrolflow("kafka", "down", env=env)
    assert down.stdout.strip() == "stopped"
    assert patrolflow("kafka", "down", env=env).stdout.strip() == "not running"
    assert patrolflow("kafka", "status", env=env).returncode == 1
    leftover = subprocess.run(
        ["pgrep", "-f", f"broker-{port}/server.properties"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert leftover.stdout == ""


def test_external_bootstrap_starts_nothing(kafka_bootstrap: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PATROLFLOW_")}
    env["PATROLFLOW_KAFKA_BOOTSTRAP"] = kafka_bootstrap
    up = patrolflow("kafka", "up", env=env)
    assert up.returncode == 0
    assert "starting nothing" in up.stdout
    status = patrolflow("kafka", "status", env=env)
    assert status.returncode == 0
    assert status.stdout.split()[0] == kafka_bootstrap
