"""The local broker's SASL_SSL listener, without a JVM: certificates, properties, SCRAM args."""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import re
import stat
from pathlib import Path

import pytest
from cryptography import x509
from pydantic import SecretStr

from streams import broker, broker_sasl
from streams.broker_sasl import SaslSslListener
from streams.certs import BrokerTls, ensure_broker_tls

PASSWORD = "planted-Pa55word-7f3a"


def _properties(text: str) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))
    return {key: value for key, value in pairs}


@pytest.fixture
def listener(tmp_path: Path) -> SaslSslListener:
    return SaslSslListener(
        port=19094,
        host="127.0.0.1",
        tls=ensure_broker_tls(BrokerTls(tmp_path / "tls")),
        username="patrol-svc",
        password=SecretStr(PASSWORD),
    )


def test_broker_certificate_is_signed_by_the_ca_for_the_loopback_names(
    listener: SaslSslListener,
) -> None:
    ca = x509.load_pem_x509_certificate(listener.tls.ca.read_bytes())
    pem = listener.tls.keystore.read_bytes()
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")  # PKCS#8, as Kafka's PEM store wants
    leaf, chain_ca = x509.load_pem_x509_certificates(pem)
    leaf.verify_directly_issued_by(ca)
    assert chain_ca == ca
    names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    assert stat.S_IMODE(listener.tls.keystore.stat().st_mode) == 0o600
    # the CA key signed once and was never written: nothing else can be minted
    assert sorted(p.name for p in listener.tls.directory.iterdir()) == ["broker.pem", "ca.pem"]


def test_existing_tls_material_is_kept(listener: SaslSslListener) -> None:
    before = listener.tls.ca.read_bytes()
    ensure_broker_tls(listener.tls)
    assert listener.tls.ca.read_bytes() == before


def test_default_properties_have_no_sasl(tmp_path: Path) -> None:
    props = broker.render_server_properties(port=19092, controller_port=19093, data_dir=tmp_path)
    assert "SASL" not in props
    assert "ssl." not in props


def test_sasl_ssl_listener_properties(listener: SaslSslListener, tmp_path: Path) -> None:
    props = _properties(
        broker.render_server_properties(
            port=19092, controller_port=19093, data_dir=tmp_path, sasl_ssl=listener
        )
    )
    assert props["listeners"] == (
        "PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093,SASL_SSL://127.0.0.1:19094"
    )
    assert props["advertised.listeners"].endswith(",SASL_SSL://127.0.0.1:19094")
    assert props["listener.security.protocol.map"].endswith(",SASL_SSL:SASL_SSL")
    assert props["inter.broker.listener.name"] == "PLAINTEXT"
    prefix = "listener.name.sasl_ssl"
    assert props[f"{prefix}.sasl.enabled.mechanisms"] == "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512"
    assert props[f"{prefix}.ssl.keystore.type"] == "PEM"
    assert props[f"{prefix}.ssl.keystore.location"] == str(listener.tls.keystore)
    assert f'user_patrol-svc="{PASSWORD}"' in props[f"{prefix}.plain.sasl.jaas.config"]
    assert "ScramLoginModule" in props[f"{prefix}.scram-sha-512.sasl.jaas.config"]


def test_scram_credentials_reach_the_storage_tool_salted_never_in_clear(
    listener: SaslSslListener,
) -> None:
    args = broker_sasl.scram_format_args(listener)
    assert PASSWORD not in " ".join(args)
    specs = dict(arg.split("=", 1) for arg in args if arg != "--add-scram")
    assert set(specs) == {"SCRAM-SHA-256", "SCRAM-SHA-512"}
    match = re.fullmatch(
        r'\[name=patrol-svc,iterations=(\d+),salt="([^"]+)",saltedpassword="([^"]+)"\]',
        specs["SCRAM-SHA-512"],
    )
    assert match is not None
    iterations, salt, salted = int(match[1]), *map(base64.b64decode, match.group(2, 3))
    # RFC 5802 SaltedPassword: what a client proves knowledge of
    assert salted == hashlib.pbkdf2_hmac("sha512", PASSWORD.encode(), salt, iterations)


def test_storage_formatted_for_another_password_is_refused_with_a_way_out(
    listener: SaslSslListener, tmp_path: Path
) -> None:
    with pytest.raises(broker_sasl.SaslStorageMismatchError, match="formatted without SCRAM"):
        broker_sasl.check_storage(listener, tmp_path)  # formatted before the listener existed
    broker_sasl.record_storage(listener, tmp_path)
    broker_sasl.check_storage(listener, tmp_path)
    assert PASSWORD not in (tmp_path / "sasl-users.json").read_text()
    other = SaslSslListener(
        port=listener.port,
        host=listener.host,
        tls=listener.tls,
        username=listener.username,
        password=SecretStr("another-one"),
    )
    with pytest.raises(broker_sasl.SaslStorageMismatchError, match=r"delete .*data"):
        broker_sasl.check_storage(other, tmp_path)


@pytest.mark.parametrize(
    ("username", "password"),
    [("bad,name", PASSWORD), ("ok", 'with"quote'), ("ok", "back\\slash"), ("ok", "")],
)
def test_credentials_the_listener_cannot_carry_verbatim_are_refused(
    listener: SaslSslListener, username: str, password: str
) -> None:
    with pytest.raises(ValueError, match="local broker's SASL") as caught:
        SaslSslListener(
            port=1,
            host="127.0.0.1",
            tls=listener.tls,
            username=username,
            password=SecretStr(password),
        )
    assert not password or password not in str(caught.value)


def test_repr_of_the_listener_hides_the_password(listener: SaslSslListener) -> None:
    assert PASSWORD not in repr(listener)
