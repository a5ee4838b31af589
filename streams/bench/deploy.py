"""Fresh, throw-away deployments on the cluster: settings, topics, and cleaning up after."""

from __future__ import annotations

import contextlib
import os
import socket
import uuid
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient

from streams.settings import Settings
from streams.topics import create_topics


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_id() -> str:
    return uuid.uuid4().hex[:8]


def fresh_settings(
    base: Settings, data_root: Path, *, prefix: str, **overrides: object
) -> Settings:
    """Settings of a deployment of its own: topic prefix ``prefix``, a fresh app id and data dir.

    Deployments built with the same ``prefix`` read the same input topics, each with its own
    consumer group, internal topics and tables (how the bench reuses one pre-loaded input).
    """
    app_id = f"patrolflow-bench-{run_id()}"
    values: dict[str, object] = {
        "kafka_bootstrap": base.bootstrap,
        "topic_prefix": prefix,
        "app_id": app_id,
        "data_dir": data_root / app_id,
        "web_port": free_port(),
    }
    return base.model_copy(update=values | overrides)


async def create(settings: Settings) -> None:
    await create_topics(settings)


async def delete_topics(bootstrap: str, *prefixes: str) -> int:
    """Delete every topic whose name starts with one of ``prefixes`` (inputs, internal topics,
    changelogs); best effort: a bench must not fail on cleaning up. Returns how many."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        doomed = [t for t in await admin.list_topics() if t.startswith(prefixes)]
        if doomed:
            with contextlib.suppress(Exception):
                await admin.delete_topics(doomed)
        return len(doomed)
    finally:
        await admin.close()


def worker_env(settings: Settings) -> dict[str, str]:
    """The environment of a worker subprocess: ours, with PATROLFLOW_* replaced by ``settings``."""
    return settings.worker_env(os.environ)
