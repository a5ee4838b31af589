"""Fixtures shared by every test directory: the session's Kafka broker.

Integration and e2e tests share one real broker. It is started through the same code as
``patrolflow kafka up`` unless ``PATROLFLOW_KAFKA_BOOTSTRAP`` points at an existing cluster.
Unit tests never request it, so they never start one.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine, Iterator
from typing import Any

import pytest

from streams import broker
from streams.security import client_kwargs
from streams.settings import Settings
from tests.support.deployments import sweep_test_topics


def _run(coro: Coroutine[Any, Any, object]) -> None:
    """On a loop of its own, never made current: pytest-asyncio owns the current one."""
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(coro)
    finally:
        loop.close()


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    settings = Settings()
    if not settings.uses_local_broker:
        broker.wait_until_reachable(settings.bootstrap, 60, security=client_kwargs(settings))
        yield settings.bootstrap
        return
    state = broker.up(settings)
    # Throwaway topics of earlier runs go first: kept, they exhaust the broker's open files.
    _run(sweep_test_topics(settings))
    try:
        yield settings.bootstrap
    finally:
        with contextlib.suppress(Exception):  # a test may have left the broker unreachable
            _run(sweep_test_topics(settings))
        if state.started:  # leave a broker someone else started alone
            broker.down(settings)
