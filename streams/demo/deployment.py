"""The demo's own deployment on the cluster: a fresh topic prefix and application id per run.

Every run gets new, empty topics and a new consumer group, so a second demo never sees the
first one's incidents (the simulator's incident ids repeat for the same seed and day) and a
fresh worker never resumes from old offsets, tables or an event-time clock that is ahead of
the new run. The run deletes what it created at the end (its topics and the worker's
internal and changelog topics), unless asked to keep them.
"""

from __future__ import annotations

import contextlib
import secrets
from dataclasses import dataclass
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from streams.settings import Settings

__all__ = ["Deployment", "delete_topics", "new_deployment"]


@dataclass(frozen=True)
class Deployment:
    run_id: str
    settings: Settings

    @property
    def topic_prefix(self) -> str:
        return self.settings.topic_prefix

    @property
    def app_id(self) -> str:
        return self.settings.app_id

    def owns(self, topic: str) -> bool:
        """Topics of this run: ours (prefixed) and the worker's (named after the app id)."""
        return topic.startswith(self.topic_prefix) or topic.startswith(f"{self.app_id}-")

    def worker_env(self, base: dict[str, str]) -> dict[str, str]:
        """The environment of the worker subprocess: ``base`` with this deployment's settings."""
        s = self.settings
        return base | {
            "PATROLFLOW_KAFKA_BOOTSTRAP": s.bootstrap,
            "PATROLFLOW_TOPIC_PREFIX": s.topic_prefix,
            "PATROLFLOW_APP_ID": s.app_id,
            "PATROLFLOW_DATA_DIR": str(s.data_dir),
            "PATROLFLOW_WEB_HOST": s.web_host,
            "PATROLFLOW_WEB_PORT": str(s.web_port),
            "PATROLFLOW_CLEARANCE_SNAPSHOT_INTERVAL_S": f"{s.clearance_snapshot_interval_s:g}",
            "PATROLFLOW_LIVE_WINDOW_S": f"{s.live_window_s:g}",
        }


def new_deployment(
    settings: Settings,
    *,
    data_dir: Path,
    web_port: int,
    snapshot_interval_s: float,
    live_window_s: float,
) -> Deployment:
    """``settings`` with a run's prefix (after any configured one) and application id."""
    run_id = secrets.token_hex(3)
    demo = settings.model_copy(
        update={
            "kafka_bootstrap": settings.bootstrap,
            "topic_prefix": f"{settings.topic_prefix}demo-{run_id}.",
            "app_id": f"{settings.app_id}-demo-{run_id}",
            "data_dir": data_dir,
            "web_port": web_port,
            "clearance_snapshot_interval_s": snapshot_interval_s,
            "live_window_s": live_window_s,
        }
    )
    return Deployment(run_id=run_id, settings=demo)


async def delete_topics(deployment: Deployment, timeout_s: float = 30.0) -> list[str]:
    """Delete every topic the run owns; returns their names (best effort: errors are raised
    as :class:`aiokafka.errors.KafkaError` for the caller to report)."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=deployment.settings.bootstrap,
        request_timeout_ms=int(timeout_s * 1000),
    )
    await admin.start()
    try:
        names = sorted(t for t in await admin.list_topics() if deployment.owns(t))
        if names:
            await admin.delete_topics(names, timeout_ms=int(timeout_s * 1000))
        return names
    finally:
        with contextlib.suppress(KafkaError):
            await admin.close()
