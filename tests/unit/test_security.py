"""Kafka security settings and what clients get from them: no broker, no Faust worker."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import faust
import pytest
from faust.types.auth import AuthProtocol, SASLMechanism
from pydantic import ValidationError

from streams import security
from streams.certs import BrokerTls, write_ca_and_server_cert
from streams.settings import Settings

PASSWORD = "planted-Pa55word-7f3a"


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's exported PATROLFLOW_KAFKA_* must not leak into these settings."""
    import os

    for name in list(os.environ):
        if name.startswith("PATROLFLOW_KAFKA_"):
            monkeypatch.delenv(name)


@pytest.fixture
def ca(tmp_path: Path) -> Path:
    tls = BrokerTls(tmp_path / "tls")
    write_ca_and_server_cert(tls, ["127.0.0.1", "localhost"])
    return tls.ca


def sasl_ssl(ca: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "kafka_bootstrap": "broker-1.example:9094",
        "kafka_security_protocol": "SASL_SSL",
        "kafka_sasl_mechanism": "SCRAM-SHA-512",
        "kafka_sasl_username": "patrol-svc",
        "kafka_sasl_password": PASSWORD,
        "kafka_ssl_cafile": ca,
    }
    # None drops a value (an explicit None would win over the environment).
    return Settings(**{k: v for k, v in (values | overrides).items() if v is not None})


# --- settings ------------------------------------------------------------------------------


@pytest.mark.usefixtures("clean_env")
def test_plaintext_is_the_default_and_needs_nothing() -> None:
    settings = Settings()
    assert settings.kafka_security_protocol == "PLAINTEXT"
    assert security.kafka_security(settings).faust_credentials() is None
    assert security.client_kwargs(settings) == {"security_protocol": "PLAINTEXT"}


@pytest.mark.usefixtures("clean_env")
def test_sasl_without_user_names_every_missing_variable() -> None:
    with pytest.raises(ValidationError) as caught:
        Settings(kafka_security_protocol="SASL_SSL")
    message = str(caught.value)
    assert "PATROLFLOW_KAFKA_SECURITY_PROTOCOL=SASL_SSL needs" in message
    for name in ("SASL_MECHANISM", "SASL_USERNAME", "SASL_PASSWORD"):
        assert f"PATROLFLOW_KAFKA_{name}" in message


@pytest.mark.usefixtures("clean_env")
def test_an_unknown_mechanism_is_rejected_by_name() -> None:
    with pytest.raises(ValidationError, match="kafka_sasl_mechanism"):
        Settings(kafka_sasl_mechanism="GSSAPI")


@pytest.mark.usefixtures("clean_env")
def test_a_validation_error_never_echoes_the_password() -> None:
    with pytest.raises(ValidationError) as caught:
        Settings(kafka_security_protocol="SASL_SSL", kafka_sasl_password=PASSWORD)
    assert PASSWORD not in str(caught.value)
    assert PASSWORD not in repr(caught.value)


@pytest.mark.usefixtures("clean_env")
def test_credentials_that_nothing_would_use_are_an_error() -> None:
    with pytest.raises(ValidationError, match="does not use SASL"):
        Settings(kafka_sasl_username="patrol-svc", kafka_sasl_password=PASSWORD)


@pytest.mark.usefixtures("clean_env")
def test_tls_files_without_tls_are_an_error(ca: Path) -> None:
    with pytest.raises(ValidationError, match="does not use TLS"):
        Settings(kafka_ssl_cafile=ca)


@pytest.mark.usefixtures("clean_env")
def test_a_missing_ca_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope.pem"
    with pytest.raises(ValidationError, match=f"PATROLFLOW_KAFKA_SSL_CAFILE={missing} is not"):
        Settings(kafka_security_protocol="SSL", kafka_ssl_cafile=missing)


@pytest.mark.usefixtures("clean_env")
def test_a_key_without_its_certificate_is_an_error(ca: Path) -> None:
    with pytest.raises(ValidationError, match="SSL_KEYFILE needs PATROLFLOW_KAFKA_SSL_CERTFILE"):
        Settings(kafka_security_protocol="SSL", kafka_ssl_cafile=ca, kafka_ssl_keyfile=ca)


@pytest.mark.usefixtures("clean_env")
def test_password_from_a_secret_file(
    ca: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = tmp_path / "kafka-password"
    secret.write_text(PASSWORD + "\n")  # as `echo ... > file` or a Kubernetes secret leaves it
    monkeypatch.setenv("PATROLFLOW_KAFKA_SASL_PASSWORD_FILE", str(secret))
    settings = sasl_ssl(ca, kafka_sasl_password=None)
    assert settings.kafka_sasl_password is not None
    assert settings.kafka_sasl_password.get_secret_value() == PASSWORD


@pytest.mark.usefixtures("clean_env")
def test_password_and_password_file_together_are_an_error(ca: Path, tmp_path: Path) -> None:
    secret = tmp_path / "kafka-password"
    secret.write_text(PASSWORD)
    with pytest.raises(ValidationError, match="not both"):
        sasl_ssl(ca, kafka_sasl_password_file=secret)


@pytest.mark.usefixtures("clean_env")
def test_an_unreadable_password_file_is_named_not_shown(ca: Path, tmp_path: Path) -> None:
    missing = tmp_path / "absent"
    with pytest.raises(ValidationError, match=f"SASL_PASSWORD_FILE {missing}: No such file"):
        sasl_ssl(ca, kafka_sasl_password=None, kafka_sasl_password_file=missing)


@pytest.mark.usefixtures("clean_env")
def test_the_password_is_in_no_representation_of_the_settings(
    ca: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATROLFLOW_KAFKA_SASL_PASSWORD", PASSWORD)
    settings = sasl_ssl(ca, kafka_sasl_password=None)
    assert settings.kafka_sasl_password is not None  # read from the environment
    for text in (
        repr(settings),
        str(settings),
        settings.model_dump_json(),
        str(settings.model_dump()),
        security.summary(settings),
        repr(security.kafka_security(settings)),
        repr(security.kafka_security(settings).faust_credentials()),
    ):
        assert PASSWORD not in text


# --- what the clients get ------------------------------------------------------------------


@pytest.mark.usefixtures("clean_env")
def test_sasl_ssl_gives_faust_and_aiokafka_the_same_verified_connection(ca: Path) -> None:
    settings = sasl_ssl(ca)
    credentials = security.kafka_security(settings).faust_credentials()
    assert isinstance(credentials, faust.SASLCredentials)
    assert credentials.protocol is AuthProtocol.SASL_SSL
    assert credentials.mechanism is SASLMechanism.SCRAM_SHA_512
    assert (credentials.username, credentials.password) == ("patrol-svc", PASSWORD)

    kwargs = security.client_kwargs(settings)
    assert kwargs["security_protocol"] == "SASL_SSL"
    assert kwargs["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (kwargs["sasl_plain_username"], kwargs["sasl_plain_password"]) == (
        "patrol-svc",
        PASSWORD,
    )
    context = kwargs["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    assert context.minimum_version >= ssl.TLSVersion.TLSv1_2
    # the configured CA, and only it, is trusted
    assert [c["subject"] for c in context.get_ca_certs()] == [
        ((("commonName", "patrolflow local CA"),),)
    ]


@pytest.mark.usefixtures("clean_env")
def test_sasl_plaintext_has_no_tls(ca: Path) -> None:
    settings = sasl_ssl(
        ca,
        kafka_security_protocol="SASL_PLAINTEXT",
        kafka_sasl_mechanism="PLAIN",
        kafka_ssl_cafile=None,
    )
    credentials = security.kafka_security(settings).faust_credentials()
    assert isinstance(credentials, faust.SASLCredentials)
    assert credentials.protocol is AuthProtocol.SASL_PLAINTEXT
    assert "ssl_context" not in security.client_kwargs(settings)


@pytest.mark.usefixtures("clean_env")
def test_ssl_only_with_hostname_check_off(ca: Path) -> None:
    settings = Settings(
        kafka_security_protocol="SSL", kafka_ssl_cafile=ca, kafka_ssl_check_hostname=False
    )
    credentials = security.kafka_security(settings).faust_credentials()
    assert isinstance(credentials, faust.SSLCredentials)
    assert not credentials.context.check_hostname
    assert credentials.context.verify_mode == ssl.CERT_REQUIRED  # the chain is still checked
    assert set(security.client_kwargs(settings)) == {"security_protocol", "ssl_context"}


@pytest.mark.usefixtures("clean_env")
def test_a_client_certificate_is_loaded_for_mutual_tls(tmp_path: Path) -> None:
    tls = BrokerTls(tmp_path / "client")
    write_ca_and_server_cert(tls, ["patrol-svc"])  # key + chain in one PEM, like the keystore
    settings = Settings(
        kafka_security_protocol="SSL", kafka_ssl_cafile=tls.ca, kafka_ssl_certfile=tls.keystore
    )
    assert security.ssl_context(settings) is not None  # load_cert_chain raised nothing


@pytest.mark.usefixtures("clean_env")
def test_the_local_broker_is_dialled_on_its_sasl_ssl_listener(tmp_path: Path) -> None:
    common: dict[str, Any] = {
        "cache_dir": tmp_path,
        "kafka_port": 19092,
        "kafka_sasl_ssl_port": 19094,
        "kafka_sasl_username": "patrol-svc",
        "kafka_sasl_password": PASSWORD,
    }
    plaintext = Settings(**common)
    assert plaintext.bootstrap == "127.0.0.1:19092"  # the listener is there, clients opt in
    secured = Settings(
        **common, kafka_security_protocol="SASL_SSL", kafka_sasl_mechanism="SCRAM-SHA-512"
    )
    assert secured.bootstrap == "127.0.0.1:19094"
    # without a CA of its own, a client trusts the local broker's CA
    assert str(tmp_path / "broker-19092" / "tls" / "ca.pem") in security.summary(secured)


@pytest.mark.usefixtures("clean_env")
def test_the_sasl_ssl_port_needs_the_user_it_accepts() -> None:
    with pytest.raises(ValidationError, match="SASL_SSL_PORT needs"):
        Settings(kafka_sasl_ssl_port=19094)


# --- the web server --------------------------------------------------------------------------


def test_web_server_binds_loopback_and_serves_no_faust_table_views() -> None:
    from streams.app import app, settings
    from streams.worker import load_agents

    load_agents()
    assert Settings.model_fields["web_host"].default == "127.0.0.1"
    assert app.conf.web_bind == settings.web_host
    assert not app.conf.web_tables_enabled
    assert not app.conf.web_router_enabled
    assert not app.conf.web_stats_enabled
    assert not app.conf.web_graph_enabled
    routes = {
        route.resource.canonical
        for route in app.web.web_app.router.routes()
        if route.resource is not None
    }
    assert {"/metrics", "/healthz", "/livez", "/clearance"} <= routes
    exposed = [r for r in routes if r.startswith(("/table", "/router", "/graph", "/assignment"))]
    assert exposed == []
