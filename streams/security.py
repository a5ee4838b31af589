"""Kafka connection security: one place turns Settings into what each client library wants.

``kafka_security(settings)`` reads the settings once (CA, client certificate, SASL user) and
gives both shapes of the same thing:

- ``.faust_credentials()``: the ``broker_credentials`` of the Faust app (``streams/app.py``);
- ``.client_kwargs()``: keyword arguments for every plain aiokafka client (admin, producer,
  consumer) in topics, the simulator, the broker probe and the lag tool.

The password leaves its ``SecretStr`` only inside those two results, which are handed straight
to the client libraries and never logged; ``repr`` of ``KafkaSecurity`` omits it.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from typing import Any

import faust
from faust.types.auth import CredentialsT
from pydantic import SecretStr

from streams import certs
from streams.settings import Settings

__all__ = ["KafkaSecurity", "client_kwargs", "kafka_security", "ssl_context", "summary"]


@dataclass(frozen=True)
class KafkaSecurity:
    protocol: str  # PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL
    mechanism: str | None = None
    username: str | None = None
    password: SecretStr | None = field(default=None, repr=False)
    context: ssl.SSLContext | None = field(default=None, repr=False)

    @property
    def uses_sasl(self) -> bool:
        return self.protocol.startswith("SASL_")

    def faust_credentials(self) -> CredentialsT | None:
        """``broker_credentials`` for ``faust.App``; None for PLAINTEXT."""
        if self.uses_sasl:
            # Faust picks SASL_SSL when it gets a context and SASL_PLAINTEXT when it does not.
            return faust.SASLCredentials(
                username=self.username,
                password=_reveal(self.password),
                ssl_context=self.context,
                mechanism=self.mechanism,
            )
        if self.context is not None:
            return faust.SSLCredentials(self.context)
        return None

    def client_kwargs(self) -> dict[str, Any]:
        """``security_protocol`` & co. for ``AIOKafkaAdminClient/Producer/Consumer``."""
        kwargs: dict[str, Any] = {"security_protocol": self.protocol}
        if self.context is not None:
            kwargs["ssl_context"] = self.context
        if self.uses_sasl:
            kwargs["sasl_mechanism"] = self.mechanism
            kwargs["sasl_plain_username"] = self.username
            kwargs["sasl_plain_password"] = _reveal(self.password)
        return kwargs


def kafka_security(settings: Settings) -> KafkaSecurity:
    """The security of every Kafka connection this process makes (Settings are validated)."""
    protocol = settings.kafka_security_protocol
    return KafkaSecurity(
        protocol=protocol,
        mechanism=settings.kafka_sasl_mechanism,
        username=settings.kafka_sasl_username,
        password=settings.kafka_sasl_password,
        context=ssl_context(settings) if protocol in ("SSL", "SASL_SSL") else None,
    )


def client_kwargs(settings: Settings) -> dict[str, Any]:
    """Shorthand: ``AIOKafkaProducer(bootstrap_servers=..., **client_kwargs(settings))``."""
    return kafka_security(settings).client_kwargs()


def ssl_context(settings: Settings) -> ssl.SSLContext:
    """A verifying client context: certificate always required, hostname check configurable."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=_cafile(settings))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    # Only for brokers whose certificates name another host (e.g. reached through a tunnel):
    # the chain is still verified against the CA.
    context.check_hostname = settings.kafka_ssl_check_hostname
    if settings.kafka_ssl_certfile is not None:
        context.load_cert_chain(
            settings.kafka_ssl_certfile,
            settings.kafka_ssl_keyfile,
            password=_reveal(settings.kafka_ssl_key_password),
        )
    return context


def _cafile(settings: Settings) -> str | None:
    if settings.kafka_ssl_cafile is not None:
        return str(settings.kafka_ssl_cafile)
    if settings.uses_local_broker and settings.kafka_sasl_ssl_port is not None:
        # The local broker's own CA, generated when it first opened its SASL_SSL listener.
        return str(certs.BrokerTls.under(settings.local_broker_dir).ca)
    return None  # the system trust store


def _reveal(secret: SecretStr | None) -> str | None:
    return secret.get_secret_value() if secret is not None else None


def summary(settings: Settings) -> str:
    """One secret-free line for humans: ``SASL_SSL, SCRAM-SHA-512 as alice, CA /path``."""
    parts: list[str] = [settings.kafka_security_protocol]
    if settings.kafka_security_protocol.startswith("SASL_"):
        parts.append(f"{settings.kafka_sasl_mechanism} as {settings.kafka_sasl_username}")
    if settings.kafka_security_protocol in ("SSL", "SASL_SSL"):
        parts.append(f"CA {_cafile(settings) or 'system trust store'}")
    return ", ".join(parts)
