"""The local broker's optional SASL_SSL listener (``PATROLFLOW_KAFKA_SASL_SSL_PORT``).

One user, the one the clients are configured with, is accepted with PLAIN (JAAS config in
server.properties) and with SCRAM-SHA-256/512 (credentials written into the KRaft metadata
when storage is formatted). TLS uses a private CA and a PEM keystore (``streams.certs``).

The SCRAM credentials reach the storage tool as salted passwords (PBKDF2, as Kafka computes
them), so the password itself never appears on a command line or in ``ps``. PLAIN needs the
password in server.properties, which is therefore written owner-only.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import SecretStr

from streams.certs import LOCAL_HOSTS, BrokerTls, ensure_broker_tls
from streams.settings import Settings

__all__ = [
    "SaslSslListener",
    "SaslStorageMismatchError",
    "check_storage",
    "listener_for",
    "properties",
    "record_storage",
    "scram_format_args",
]

LISTENER = "SASL_SSL"
MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
_SCRAM_ITERATIONS = 8192  # Kafka's minimum is 4096
_USERNAME = re.compile(r"[A-Za-z0-9._@-]{1,128}")
_FINGERPRINT = "sasl-users.json"


class SaslStorageMismatchError(ValueError):
    """The broker's storage holds other SCRAM credentials than the settings name."""


@dataclass(frozen=True)
class SaslSslListener:
    port: int
    host: str
    tls: BrokerTls
    username: str
    password: SecretStr = field(repr=False)

    def __post_init__(self) -> None:
        # Kept within what JAAS quoting and the storage tool's "a=b,c=d" syntax carry verbatim.
        if not _USERNAME.fullmatch(self.username):
            raise ValueError(
                "the local broker's SASL user name may only hold letters, digits and ._@-"
            )
        secret = self.password.get_secret_value()
        if not secret or any(c in secret for c in '"\\') or not secret.isprintable():
            raise ValueError(
                "the local broker's SASL password must be non-empty printable text without "
                "double quotes or backslashes"
            )


def listener_for(settings: Settings) -> SaslSslListener | None:
    """The SASL_SSL listener the settings ask the local broker for (TLS material ensured)."""
    if settings.kafka_sasl_ssl_port is None:
        return None
    if settings.kafka_sasl_username is None or settings.kafka_sasl_password is None:
        raise ValueError("PATROLFLOW_KAFKA_SASL_SSL_PORT needs a SASL user name and password")
    return SaslSslListener(
        port=settings.kafka_sasl_ssl_port,
        host=LOCAL_HOSTS[0],
        tls=ensure_broker_tls(BrokerTls.under(settings.local_broker_dir)),
        username=settings.kafka_sasl_username,
        password=settings.kafka_sasl_password,
    )


def properties(listener: SaslSslListener) -> dict[str, str]:
    """server.properties entries of the listener (merged into the base configuration)."""
    prefix = f"listener.name.{LISTENER.lower()}"
    secret = listener.password.get_secret_value()
    plain_jaas = (
        # Only user_<name> entries: inter-broker traffic stays on PLAINTEXT, so the broker
        # itself never logs in with SASL.
        "org.apache.kafka.common.security.plain.PlainLoginModule required "
        f'user_{listener.username}="{secret}";'
    )
    scram_jaas = "org.apache.kafka.common.security.scram.ScramLoginModule required;"
    return {
        "sasl.enabled.mechanisms": ",".join(MECHANISMS),
        f"{prefix}.sasl.enabled.mechanisms": ",".join(MECHANISMS),
        f"{prefix}.plain.sasl.jaas.config": plain_jaas,
        f"{prefix}.scram-sha-256.sasl.jaas.config": scram_jaas,
        f"{prefix}.scram-sha-512.sasl.jaas.config": scram_jaas,
        f"{prefix}.ssl.keystore.type": "PEM",
        f"{prefix}.ssl.keystore.location": str(listener.tls.keystore),
        f"{prefix}.ssl.client.auth": "none",
        f"{prefix}.ssl.enabled.protocols": "TLSv1.3,TLSv1.2",
    }


def scram_format_args(listener: SaslSslListener) -> list[str]:
    """``--add-scram`` arguments for ``kafka-storage format``: salted, never the password."""
    args: list[str] = []
    for mechanism, digest in (("SCRAM-SHA-256", "sha256"), ("SCRAM-SHA-512", "sha512")):
        salt = secrets.token_bytes(24)
        salted = _salted(listener.password, salt, digest)
        spec = (
            f"name={listener.username},iterations={_SCRAM_ITERATIONS},"
            f'salt="{_b64(salt)}",saltedpassword="{_b64(salted)}"'
        )
        args += ["--add-scram", f"{mechanism}=[{spec}]"]
    return args


def record_storage(listener: SaslSslListener | None, broker_dir: Path) -> None:
    """Remember (as a salted hash) which user the freshly formatted storage holds."""
    path = broker_dir / _FINGERPRINT
    if listener is None:
        path.unlink(missing_ok=True)
        return
    salt = secrets.token_bytes(16)
    record = {
        "username": listener.username,
        "salt": _b64(salt),
        "check": _b64(_salted(listener.password, salt, "sha256")),
    }
    path.write_text(json.dumps(record) + "\n")
    path.chmod(0o600)


def check_storage(listener: SaslSslListener | None, broker_dir: Path) -> None:
    """Raise when formatted storage lacks the SCRAM user the settings ask for.

    SCRAM users are added only when storage is formatted; a broker formatted before the
    listener (or with another password) would refuse every SCRAM login with no hint why.
    """
    if listener is None:
        return
    path = broker_dir / _FINGERPRINT
    try:
        record = json.loads(path.read_text())
        check = _salted(listener.password, base64.b64decode(record["salt"]), "sha256")
        same = record["username"] == listener.username and hmac.compare_digest(
            base64.b64decode(record["check"]), check
        )
    except (OSError, ValueError, KeyError, TypeError):
        same = False
    if not same:
        raise SaslStorageMismatchError(
            f"the local broker's storage in {broker_dir} was formatted without SCRAM "
            f"credentials for user {listener.username!r} (or with another password); stop the "
            f"broker and delete {broker_dir / 'data'} to reformat it, or use another "
            "PATROLFLOW_CACHE_DIR"
        )


def _salted(password: SecretStr, salt: bytes, digest: str) -> bytes:
    # SCRAM's SaltedPassword (RFC 5802 Hi): PBKDF2-HMAC over the UTF-8 password.
    secret = password.get_secret_value().encode()
    return hashlib.pbkdf2_hmac(digest, secret, salt, _SCRAM_ITERATIONS)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
