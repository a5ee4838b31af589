"""Kafka over SASL_SSL, end to end: a broker of its own with a SASL_SSL listener, a real worker.

The module starts its own broker (free ports, its own cache and data directories in tmp, the
Kafka jars shared by symlink) with certificates the test generates, so the session broker and
other tests are untouched. Every client here dials the SASL_SSL listener only.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from schemas import topics
from schemas.dispatch import Assignment, AssignmentOutcome
from streams import broker
from streams.certs import LOCAL_HOSTS, BrokerTls, write_ca_and_server_cert
from streams.city.model import load_city
from streams.security import client_kwargs
from streams.settings import Settings
from tests.support.deployments import make_deployment, start_worker, worker_env
from tests.support.waiting import eventually
from tests.support.worker_process import WorkerProcess, free_port

pytestmark = pytest.mark.integration

CITY = load_city(None)
USER = "patrol-svc"
# Random per run: a planted value to look for in every log and representation.
PASSWORD = f"pw-{secrets.token_hex(12)}"


@dataclass(frozen=True)
class SecureBroker:
    settings: Settings  # the broker's own (cache dir, ports)
    bootstrap: str  # its SASL_SSL listener
    ca: Path

    def client(self, mechanism: str = "SCRAM-SHA-512", **overrides: Any) -> dict[str, Any]:
        """Settings values for a client of the SASL_SSL listener."""
        return {
            "kafka_bootstrap": self.bootstrap,
            "kafka_security_protocol": "SASL_SSL",
            "kafka_sasl_mechanism": mechanism,
            "kafka_sasl_username": USER,
            "kafka_sasl_password": PASSWORD,
            "kafka_ssl_cafile": self.ca,
        } | overrides


@pytest.fixture(scope="module")
def secure_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureBroker]:
    shared = Settings()
    if not shared.uses_local_broker:
        pytest.skip("PATROLFLOW_KAFKA_BOOTSTRAP names an external cluster: no local broker here")
    cache = tmp_path_factory.mktemp("secure-kafka")
    # The jars (~60 MB) are shared with the session broker; nothing else is.
    libs = broker.resolve_jars(shared.kafka_version, shared.cache_dir)
    (cache / f"kafka-{shared.kafka_version}").symlink_to(libs.parent, target_is_directory=True)
    port = free_port()
    settings = Settings(
        kafka_bootstrap=None,
        cache_dir=cache,
        kafka_port=port,
        kafka_controller_port=free_port(),
        kafka_sasl_ssl_port=free_port(),
        kafka_sasl_username=USER,
        kafka_sasl_password=PASSWORD,
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_ssl_cafile=None,
    )
    # The test makes the CA and the broker certificate; `up` uses what it finds.
    tls = BrokerTls.under(settings.local_broker_dir)
    write_ca_and_server_cert(tls, LOCAL_HOSTS)
    state = broker.up(settings)  # its readiness probe already logs in over SASL_SSL
    try:
        assert state.started
        assert state.bootstrap == settings.bootstrap != f"127.0.0.1:{port}"
        yield SecureBroker(settings, settings.bootstrap, tls.ca)
    finally:
        broker.down(settings)


@pytest.fixture(scope="module")
async def secure_worker(
    secure_broker: SecureBroker, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[Settings, WorkerProcess]]:
    # Topics are created through the SASL_SSL listener (admin client with the same kwargs).
    settings = await make_deployment(
        secure_broker.bootstrap, tmp_path_factory, **secure_broker.client("SCRAM-SHA-512")
    )
    worker = await start_worker(settings, tmp_path_factory.mktemp("logs") / "worker.log")
    try:
        yield settings, worker
    finally:
        worker.stop()


async def test_worker_over_sasl_ssl_scram_dispatches_an_incident(
    secure_worker: tuple[Settings, WorkerProcess],
) -> None:
    settings, worker = secure_worker
    unit, incident = f"st-{uuid.uuid4().hex[:6]}", f"INC-{uuid.uuid4().hex[:6]}"
    lat, lon = CITY.zones["z01"].interior_point
    now = datetime.now(UTC).isoformat()
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.bootstrap, acks="all", **client_kwargs(settings)
    )
    consumer = AIOKafkaConsumer(
        settings.topic(topics.DISPATCH_ASSIGNMENTS),
        bootstrap_servers=settings.bootstrap,
        auto_offset_reset="earliest",
        group_id=None,
        **client_kwargs(settings),
    )
    await producer.start()
    await consumer.start()
    try:
        telemetry = {
            "unit_id": unit,
            "at": now,
            "status": "available",
            "force": "station",
            "location": {"lat": lat, "lon": lon + 0.002},
        }
        await producer.send_and_wait(
            settings.topic(topics.UNITS_TELEMETRY), key=unit.encode(), value=orjson.dumps(telemetry)
        )

        async def unit_applied() -> bool:
            return await worker.region_events("telemetry") >= 1

        await eventually(unit_applied, timeout_s=30, what="the unit's telemetry applied")
        report = {
            "incident_id": incident,
            "reported_at": now,
            "category": "public_order",
            "priority": 2,
            "location": {"lat": lat, "lon": lon},
            "source": "hailar-110",
        }
        await producer.send_and_wait(
            settings.topic(topics.INCIDENTS_REPORTED),
            key=incident.encode(),
            value=orjson.dumps(report),
        )

        async def assignment() -> Assignment | None:
            for records in (await consumer.getmany(timeout_ms=200)).values():
                for record in records:
                    found = Assignment.model_validate_json(record.value)
                    if found.incident_id == incident:
                        return found
            return None

        got = await eventually(assignment, timeout_s=45, what=f"assignment for {incident}")
    finally:
        await consumer.stop()
        await producer.stop()
    assert (got.outcome, got.unit_id) == (AssignmentOutcome.ASSIGNED, unit)
    assert PASSWORD not in worker.log_path.read_text(errors="replace")
    assert PASSWORD not in repr(settings)


async def test_faust_table_views_are_off_while_our_pages_work(
    secure_worker: tuple[Settings, WorkerProcess],
) -> None:
    _, worker = secure_worker
    for path in ("/metrics", "/healthz", "/livez", "/clearance"):
        status, _ = await worker.get(path)
        assert status == 200, path
    for path in (
        "/table/",
        "/table/clearance-counts/",
        "/table/region-incidents/",
        "/router/",
        "/router/clearance-counts/",
        "/assignment/",
        "/graph/",
    ):
        status, _ = await worker.get(path)
        assert status in (401, 404), path


def test_worker_web_server_listens_on_loopback_only(
    secure_worker: tuple[Settings, WorkerProcess],
) -> None:
    settings, _ = secure_worker
    listening = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, port = local.rsplit(":", 1)
            if state == "0A" and int(port, 16) == settings.web_port:  # 0A: LISTEN
                listening.add(address)
    assert listening == {"0100007F"}  # 127.0.0.1, little-endian hex; no 0.0.0.0, no [::]


async def test_plain_and_scram_sha_256_produce_and_consume(
    secure_broker: SecureBroker, tmp_path_factory: pytest.TempPathFactory
) -> None:
    for mechanism in ("PLAIN", "SCRAM-SHA-256"):
        settings = await make_deployment(
            secure_broker.bootstrap, tmp_path_factory, **secure_broker.client(mechanism)
        )
        topic, key = settings.topic(topics.INCIDENTS_UPDATES), uuid.uuid4().hex.encode()
        producer = AIOKafkaProducer(
            bootstrap_servers=settings.bootstrap, acks="all", **client_kwargs(settings)
        )
        await producer.start()
        try:
            await producer.send_and_wait(topic, key=key, value=mechanism.encode())
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=settings.bootstrap,
            auto_offset_reset="earliest",
            group_id=None,
            **client_kwargs(settings),
        )
        await consumer.start()
        try:
            record = await consumer.getone()
        finally:
            await consumer.stop()
        assert (record.key, record.value) == (key, mechanism.encode())


def test_a_wrong_password_fails_clearly_and_is_never_logged(
    secure_broker: SecureBroker, tmp_path: Path
) -> None:
    wrong = f"wrong-{secrets.token_hex(8)}"
    settings = Settings(
        **secure_broker.client(kafka_sasl_password=wrong),
        topic_prefix=f"t{uuid.uuid4().hex[:8]}.",
        app_id=f"patrolflow-wrong-{uuid.uuid4().hex[:8]}",
        data_dir=tmp_path / "data",
        store="memory",
        web_port=free_port(),
    )
    status = broker.status(settings)
    assert not status.reachable
    assert "SaslAuthenticationFailed" in status.detail
    # Waiting for the broker gives up on a refusal at once instead of at its 60 s deadline.
    started = time.monotonic()
    with pytest.raises(broker.BrokerError, match=r"refused the connection.*SaslAuthentication"):
        broker.wait_until_reachable(settings.bootstrap, 60, security=client_kwargs(settings))
    assert time.monotonic() - started < 20
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        worker = subprocess.run(
            [sys.executable, "-m", "streams", "worker"],
            env=worker_env(settings),
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=90,
            check=False,
        )
    text = log.read_text(errors="replace")
    assert worker.returncode != 0, text[-2000:]  # it stops rather than retrying blind
    assert "SaslAuthenticationFailed" in text
    assert "invalid credentials with SASL mechanism SCRAM-SHA-512" in text
    assert wrong not in text
    assert PASSWORD not in text
    assert PASSWORD not in status.detail


def test_a_broker_certificate_from_another_ca_is_refused(
    secure_broker: SecureBroker, tmp_path: Path
) -> None:
    stranger = BrokerTls(tmp_path / "stranger")
    write_ca_and_server_cert(stranger, LOCAL_HOSTS, ca_name="someone else")
    status = broker.status(Settings(**secure_broker.client(kafka_ssl_cafile=stranger.ca)))
    assert not status.reachable
    assert "CERTIFICATE_VERIFY_FAILED" in status.detail
