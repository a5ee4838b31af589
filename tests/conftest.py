"""Fixtures shared by every test directory: the session's Kafka broker.

Integration and e2e tests share one real broker. It is started through the same code as
``patrolflow kafka up`` unless ``PATROLFLOW_KAFKA_BOOTSTRAP`` points at an existing cluster.
Unit tests never request it, so they never start one.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from streams import broker
from streams.security import client_kwargs
from streams.settings import Settings


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    settings = Settings()
    if not settings.uses_local_broker:
        broker.wait_until_reachable(settings.bootstrap, 60, security=client_kwargs(settings))
        yield settings.bootstrap
        return
    state = broker.up(settings)
    try:
        yield settings.bootstrap
    finally:
        if state.started:  # leave a broker someone else started alone
            broker.down(settings)
