"""The Faust app: settings wiring, topics and the web endpoints. No domain logic lives here.

Agents live in the domain subpackages (``streams.intake`` ...) and register themselves on import;
``streams.worker`` imports them before starting the worker.
"""

from __future__ import annotations

from typing import Any

import faust
from faust.sensors.prometheus import setup_prometheus_sensors
from prometheus_client import REGISTRY

from schemas import topics as names
from streams.observability import faust_monitor
from streams.security import kafka_security
from streams.settings import Settings, get_settings


def _store_url(settings: Settings) -> str:
    return "rocksdb://" if settings.store == "rocksdb" else "memory://"


def create_app(settings: Settings) -> faust.App:
    app = faust.App(
        settings.app_id,
        broker=f"kafka://{settings.bootstrap}",
        # TLS and SASL for every connection Faust makes (consumer, producers, topic admin).
        broker_credentials=kafka_security(settings).faust_credentials(),
        store=_store_url(settings),
        datadir=str(settings.data_dir),
        processing_guarantee=settings.processing_guarantee,
        # Under exactly_once a commit ends the transaction of every partition: a shorter
        # interval than Faust's 2.8 s is what makes outputs visible to read_committed
        # consumers in about a second (see Settings.commit_interval_s). Faust's own
        # BROKER_COMMIT_INTERVAL environment variable still overrides this (the bench uses it).
        broker_commit_interval=settings.effective_commit_interval_s,
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=settings.topic_replication,
        # Our input topics are created by `patrolflow topics create`, never implicitly.
        topic_allow_declare=True,
        consumer_auto_offset_reset="earliest",
        # A worker that joined before its topics were visible (just created: ours, or its own
        # internal ones) gets an empty assignment until the consumer refreshes metadata and
        # rejoins. Refresh every 10 s instead of aiokafka's 5 minutes.
        consumer_metadata_max_age_ms=10_000,
        # A killed worker's partitions move after the session timeout: 10 s, not Faust's 60 s,
        # because a region without its worker dispatches nobody.
        broker_session_timeout=10.0,
        broker_heartbeat_interval=3.0,
        web_bind=settings.web_host,
        web_host=settings.web_host,
        web_port=settings.web_port,
        web_in_thread=False,
        # Faust's built-in views would serve table contents (/table/...), the cluster topology
        # (/router/...), sensor statistics and partition assignment (/, /assignment) and the
        # service graph to anyone who can reach the port. Our pages (/metrics, /healthz,
        # /livez, /clearance) are explicit; /clearance forwards to the ledger's owner by
        # itself (app.router.route_req), which needs none of these views.
        web_tables_enabled=False,
        web_router_enabled=False,
        web_stats_enabled=False,
        web_graph_enabled=False,
        web_metrics_enabled=False,
        # Faust's own logs go through its handlers; values are never logged by us.
        logging_config=None,
    )
    # Faust's sensors report milliseconds (see docs/metrics); ours are in seconds.
    setup_prometheus_sensors(
        app, pattern="/metrics", registry=REGISTRY, name_prefix="patrolflow_faust"
    )
    faust_monitor.install(app)  # the same series at a fraction of the per-record cost
    return app


def table_options(settings: Settings) -> dict[str, Any] | None:
    """Per-table RocksDB options (a new dict each time: Faust pops keys from it)."""
    if settings.store != "rocksdb":
        return None
    return {
        "write_buffer_size": settings.rocksdb_write_buffer_mb * 2**20,
        "max_write_buffer_number": 2,
        "block_cache_size": settings.rocksdb_block_cache_mb * 2**20,
    }


settings = get_settings()
app = create_app(settings)


def raw_topic(name: str, **kwargs: Any) -> faust.TopicT:
    """A topic whose keys and values reach agents as bytes: we decode with pydantic ourselves."""
    return app.topic(
        settings.topic(name),
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        **kwargs,
    )


incidents_reported = raw_topic(names.INCIDENTS_REPORTED)
incidents_updates = raw_topic(names.INCIDENTS_UPDATES)
units_telemetry = raw_topic(names.UNITS_TELEMETRY)
dead_letters = raw_topic(names.DEAD_LETTERS)


async def send_from_timer(topic: faust.TopicT, key: bytes, value: bytes) -> None:
    """Send a record that no consumed record caused (a timer's: clock ticks, snapshots).

    Under exactly_once Faust would add it to the open transaction of the destination
    partition, and commits that transaction only together with offsets consumed from that
    partition. On a partition that goes quiet the transaction stays open until the broker's
    transaction timeout (60 s) aborts it and fences the producer: every later send fails with
    ProducerFenced and the worker produces nothing more, alive but useless (seen in
    tests/integration/test_crash.py). A timer's record has no input offset to be atomic with,
    so it goes through Faust's plain (idempotent) producer: read_committed consumers see it
    once the transactions before it in the partition end.
    """
    if settings.processing_guarantee != "exactly_once":
        await topic.send(key=key, value=value)
        return
    sent = await app.producer.send(topic.get_topic_name(), key, value, None, None, None)
    await sent
