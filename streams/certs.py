"""TLS material for the local broker's SASL_SSL listener: a private CA and one server certificate.

Made with ``cryptography`` (no openssl/keytool subprocesses, no Java keystores): Kafka reads
PEM directly with ``ssl.keystore.type=PEM``. The CA's private key is used once to sign and is
never written, so nobody can mint further certificates that clients of this CA would trust.

    <dir>/ca.pem       the CA certificate: what clients trust (PATROLFLOW_KAFKA_SSL_CAFILE)
    <dir>/broker.pem   the broker's private key (PKCS#8) followed by its certificate chain
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["LOCAL_HOSTS", "BrokerTls", "ensure_broker_tls", "write_ca_and_server_cert"]

LOCAL_HOSTS = ("127.0.0.1", "localhost")
_VALID_DAYS = 825  # the longest server-certificate life common clients still accept
_CLOCK_SKEW = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class BrokerTls:
    directory: Path

    @classmethod
    def under(cls, broker_dir: Path) -> BrokerTls:
        return cls(broker_dir / "tls")

    @property
    def ca(self) -> Path:
        return self.directory / "ca.pem"

    @property
    def keystore(self) -> Path:
        return self.directory / "broker.pem"

    def complete(self) -> bool:
        return self.ca.is_file() and self.keystore.is_file()


def ensure_broker_tls(tls: BrokerTls, hosts: Sequence[str] = LOCAL_HOSTS) -> BrokerTls:
    """Generate the CA and broker certificate unless both already exist (kept across starts)."""
    if not tls.complete():
        write_ca_and_server_cert(tls, hosts)
    return tls


def write_ca_and_server_cert(
    tls: BrokerTls, hosts: Sequence[str], *, ca_name: str = "patrolflow local CA"
) -> None:
    """A fresh CA and a server certificate for ``hosts`` (IP addresses or DNS names)."""
    now = dt.datetime.now(dt.UTC) - _CLOCK_SKEW
    until = now + dt.timedelta(days=_VALID_DAYS)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ca_name)])
    ca_cert = (
        _builder(ca_subject, ca_subject, ca_key.public_key(), now, until)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])])
    cert = (
        _builder(subject, ca_subject, key.public_key(), now, until)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(_names(hosts)), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    tls.directory.mkdir(parents=True, exist_ok=True)
    pem = serialization.Encoding.PEM
    key_pem = key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    _write_private(tls.keystore, key_pem + cert.public_bytes(pem) + ca_cert.public_bytes(pem))
    tls.ca.write_bytes(ca_cert.public_bytes(pem))


def _builder(
    subject: x509.Name,
    issuer: x509.Name,
    public_key: ec.EllipticCurvePublicKey,
    not_before: dt.datetime,
    not_after: dt.datetime,
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=not cert_sign,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _names(hosts: Sequence[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


def _write_private(path: Path, data: bytes) -> None:
    """Owner-only from the first byte: the key is never readable by others, even briefly."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
