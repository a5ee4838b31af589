"""Fresh deployments on the shared broker, and workers for them (used by fixtures)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from streams.settings import Settings
from streams.topics import create_topics
from tests.support.worker_process import WorkerProcess, free_port


async def make_deployment(
    bootstrap: str, tmp_path_factory: pytest.TempPathFactory, **overrides: object
) -> Settings:
    """Settings for a fresh deployment on the shared broker, with its topics created."""
    run = uuid.uuid4().hex[:10]
    values: dict[str, object] = {
        "kafka_bootstrap": bootstrap,
        "topic_prefix": f"t{run}.",
        "app_id": f"patrolflow-test-{run}",
        "data_dir": tmp_path_factory.mktemp(f"data-{run}"),
        "web_port": free_port(),
        "store": "memory",
        "topic_partitions": 2,
        "output_partitions": 2,
        "internal_partitions": 2,
    }
    settings = Settings(**(values | overrides))  # type: ignore[arg-type]
    await create_topics(settings)
    return settings


def worker_env(settings: Settings) -> dict[str, str]:
    return settings.worker_env(os.environ)


async def start_worker(settings: Settings, log_path: Path) -> WorkerProcess:
    """A worker subprocess for ``settings``, returned once /healthz says ready."""
    worker = WorkerProcess(env=worker_env(settings), log_path=log_path, web_port=settings.web_port)
    worker.start()
    try:
        await worker.wait_ready()
    except BaseException:
        worker.stop()
        raise
    return worker
