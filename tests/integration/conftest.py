"""Integration fixtures: one real broker per session, fresh topics and workers per need.

The broker is started through the same code as ``patrolflow kafka up`` unless
``PATROLFLOW_KAFKA_BOOTSTRAP`` points at an existing cluster. Every deployment gets its own
topic prefix and application id, so tests sharing the broker never see each other's records.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from streams.security import client_kwargs
from streams.settings import Settings
from tests.support.deployments import drop_topics, make_deployment, start_worker
from tests.support.worker_process import WorkerProcess

pytestmark = pytest.mark.integration


@pytest.fixture
async def deployment_factory(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Callable[..., Awaitable[Settings]]]:
    made: list[Settings] = []

    async def make(**overrides: object) -> Settings:
        made.append(await make_deployment(kafka_bootstrap, tmp_path_factory, **overrides))
        return made[-1]

    yield make
    await drop_topics(made)


@pytest.fixture
async def worker_factory(
    tmp_path: Path,
) -> AsyncIterator[Callable[[Settings], Awaitable[WorkerProcess]]]:
    started: list[WorkerProcess] = []

    async def start(settings: Settings) -> WorkerProcess:
        worker = await start_worker(settings, tmp_path / f"worker-{len(started)}.log")
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture
async def producer(kafka_bootstrap: str) -> AsyncIterator[AIOKafkaProducer]:
    client = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap, acks="all", **client_kwargs(Settings())
    )
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
            **client_kwargs(Settings()),
        )
        await client.start()
        consumers.append(client)
        return client

    yield make
    for client in consumers:
        await client.stop()
