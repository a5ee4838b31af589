"""What on-call engineers probe: readiness, liveness and the build-info metric.

``/healthz`` is readiness: 200 only once the group has assigned partitions and table recovery has
finished, and not while a rebalance is under way. ``/livez`` is liveness: the event loop answers.
"""

from __future__ import annotations

import time
from importlib.metadata import PackageNotFoundError, version
from typing import Any, cast

from faust import web
from prometheus_client import Info

from streams.app import app, settings


def _version() -> str:
    try:
        return version("patrolflow")
    except PackageNotFoundError:  # running from a source tree without installing
        return "0+unknown"


BUILD_INFO = Info("patrolflow_build", "Build and configuration of this worker.")
BUILD_INFO.info(
    {
        "version": _version(),
        "faust_version": version("faust-streaming"),
        "processing_guarantee": settings.processing_guarantee,
        "store": settings.store,
    }
)


class Readiness:
    """Follows the group's rebalance signals; the consumer's own assignment is the final word.

    A worker is ready when it holds partitions and their tables are recovered. One holding
    none (it joined before its topics existed, or there are more workers than partitions)
    serves nothing and says so with 503; liveness (/livez) is a separate question.
    """

    def __init__(self) -> None:
        self.assigned_once = False
        self.rebalance_complete = False

    def status(self) -> tuple[bool, dict[str, Any]]:
        assignment = app.consumer.assignment() if self.assigned_once else set()
        unknown = unknown_subscribed_topics()
        checks = {
            "partitions_assigned": len(assignment) > 0,
            "rebalance_complete": self.rebalance_complete and not app.rebalancing,
            "tables_recovered": not app.in_recovery,
            "topics_unknown": unknown,
            "assignment_size": len(assignment),
            "assigned_topics": sorted({tp.topic for tp in assignment}),
        }
        ready = bool(
            checks["partitions_assigned"]
            and checks["rebalance_complete"]
            and checks["tables_recovered"]
            and not unknown
        )
        return ready, checks


def unknown_subscribed_topics() -> list[str]:
    """Topics the consumer subscribes to that its cluster metadata does not know yet.

    The group leader assigns only partitions of known topics, so while this is not empty some
    of the worker's input goes unread (until a metadata refresh and a rebalance, ~10 s): not
    ready. The worker declares its own topics before it starts (streams.topics), so this
    catches input topics created late or a broker whose metadata lags.
    """
    try:
        consumer = cast(Any, app.consumer)._thread._ensure_consumer()
        subscribed = set(consumer.subscription())
        known = set(consumer._client.cluster.topics())
    except Exception:  # not started yet, or stopping: the other checks say so
        return []
    return sorted(subscribed - known)


readiness = Readiness()


def _on_assigned(sender: Any, *args: Any, **kwargs: Any) -> None:
    readiness.assigned_once = True


def _on_revoked(sender: Any, *args: Any, **kwargs: Any) -> None:
    readiness.rebalance_complete = False


def _on_rebalance_complete(sender: Any, *args: Any, **kwargs: Any) -> None:
    readiness.rebalance_complete = True


# mode's signal types do not accept plain functions under mypy; the runtime does.
app.on_partitions_assigned.connect(cast(Any, _on_assigned))
app.on_partitions_revoked.connect(cast(Any, _on_revoked))
app.on_rebalance_complete.connect(cast(Any, _on_rebalance_complete))


@app.page("/healthz")
async def healthz(self: web.View, request: web.Request) -> web.Response:
    ready, checks = readiness.status()
    return self.json({"ready": ready, **checks}, status=200 if ready else 503)


@app.page("/livez")
async def livez(self: web.View, request: web.Request) -> web.Response:
    # Answering at all proves the loop runs; the timestamp lets a prober spot a stuck clock.
    return self.json({"alive": True, "monotonic": time.monotonic()})
