"""Integration fixtures: one real broker per session, fresh topics and workers per need.

The broker is started through the same code as ``patrolflow kafka up`` unless
``PATROLFLOW_KAFKA_BOOTSTRAP`` points at an existing cluster. Every deployment gets its own
topic prefix and application id, so tests sharing the broker never see each other's records.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from streams import broker
from streams.settings import Settings
from streams.topics import create_topics
from tests.support.worker_process import WorkerProcess, free_port

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    settings = Settings()
    if not settings.uses_local_broker:
        broker.wait_until_reachable(settings.bootstrap, timeout_s=60)
        yield settings.bootstrap
        return
    state = broker.up(settings)
    try:
        yield settings.bootstrap
    finally:
        if state.started:  # leave a broker someone else started alone
            broker.down(settings)


@pytest.fixture
def deployment_factory(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> Callable[..., Awaitable[Settings]]:
    """Settings for a fresh deployment on the shared broker, with its topics created."""

    async def make(**overrides: object) -> Settings:
        run = uuid.uuid4().hex[:10]
        settings = Settings(
            kafka_bootstrap=kafka_bootstrap,
            topic_prefix=f"t{run}.",
            app_id=f"patrolflow-test-{run}",
            data_dir=tmp_path_factory.mktemp(f"data-{run}"),
            web_port=free_port(),
            store="memory",
            topic_partitions=2,
            output_partitions=2,
            **overrides,  # type: ignore[arg-type]
        )
        await create_topics(settings)
        return settings

    return make


def worker_env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PATROLFLOW_")}
    for name, value in settings.model_dump(exclude_none=True).items():
        if name.startswith("kafka_sasl_password"):
            continue
        env[f"PATROLFLOW_{name.upper()}"] = str(value)
    return env


@pytest.fixture
async def worker_factory(
    tmp_path: Path,
) -> AsyncIterator[Callable[[Settings], Awaitable[WorkerProcess]]]:
    started: list[WorkerProcess] = []

    async def start(settings: Settings) -> WorkerProcess:
        worker = WorkerProcess(
            env=worker_env(settings),
            log_path=tmp_path / f"worker-{len(started)}.log",
            web_port=settings.web_port,
        )
        worker.start()
        started.append(worker)
        await worker.wait_ready()
        return worker

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture
async def producer(kafka_bootstrap: str) -> AsyncIterator[AIOKafkaProducer]:
    client = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await client.start()
    yield client
    await client.stop()


@pytest.fixture
async def consumer_factory(
    kafka_bootstrap: str,
) -> AsyncIterator[Callable[..., Awaitable[AIOKafkaConsumer]]]:
    consumers: list[AIOKafkaConsumer] = []

    async def make(*topics: str) -> AIOKafkaConsumer:
        client = AIOKafkaConsumer(
            *topics,
            bootstrap_servers=kafka_bootstrap,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            group_id=None,
            isolation_level="read_committed",
        )
        await client.start()
        consumers.append(client)
        return client

    yield make
    for client in consumers:
        await client.stop()
