"""Fresh deployments on the shared broker, and workers for them (used by fixtures)."""

from __future__ import annotations

import contextlib
import os
import re
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from streams.security import client_kwargs
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


async def drop_topics(deployments: Iterable[Settings]) -> None:
    """Delete the topics of finished deployments (theirs by prefix and app id), best effort.

    A test run creates thousands of throwaway partitions; kept, they pile up in the broker's
    data directory across runs until it exceeds the open-files limit and shuts down (seen:
    19,911 partition directories, "Too many open files", every later test failing).
    """
    for settings in deployments:
        prefixes = tuple(p for p in (settings.topic_prefix, f"{settings.app_id}-") if p)
        with contextlib.suppress(Exception):  # the broker may be gone (a test stopped it)
            await _delete_topics(settings, lambda name, p=prefixes: name.startswith(p))


#: Names make_deployment gives: ``t<run>.<topic>`` and ``patrolflow-test-<run>-<internal>``.
TEST_TOPIC = re.compile(r"^(t[0-9a-f]{10}\.|patrolflow-test-[0-9a-f]{10}-)")


async def sweep_test_topics(settings: Settings) -> int:
    """Delete every topic a test deployment made on this cluster (left by earlier runs, or by
    tests that made deployments outside ``deployment_factory``). Returns how many."""
    return await _delete_topics(settings, lambda name: TEST_TOPIC.match(name) is not None)


async def _delete_topics(settings: Settings, doomed: Callable[[str], bool]) -> int:
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.bootstrap, request_timeout_ms=60_000, **client_kwargs(settings)
    )
    await admin.start()
    try:
        names = [name for name in await admin.list_topics() if doomed(name)]
        for start in range(0, len(names), 500):
            await admin.delete_topics(names[start : start + 500], timeout_ms=60_000)
        return len(names)
    finally:
        await admin.close()


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
