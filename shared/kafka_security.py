"""How every Kafka client of certibus reaches the brokers: plain on loopback, TLS or SASL_SSL elsewhere.

One place turns KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_*, KAFKA_SSL_CAFILE and KAFKA_METADATA_MAX_AGE_MS
(``KafkaSettings``) into FastStream's broker and security object, and the same object into
aiokafka's keyword arguments (FastStream's own ``parse_security``), so the services' brokers, the
outbox relays, the operators' command and the Pix sandbox all connect the same way. The low-level helpers (shared.kafka_admin…) are handed only
bootstrap servers by their callers: they read the security settings from the environment, as
libpq reads PGSSLMODE, which is where every process of a deployment gets them.
"""

from __future__ import annotations

import logging
import ssl
from typing import Any

from faststream.kafka import KafkaBroker
from faststream.kafka.security import parse_security
from faststream.security import BaseSecurity, SASLScram256, SASLScram512

from shared.settings import KafkaSettings


def kafka_security(settings: KafkaSettings | None = None) -> BaseSecurity | None:
    """FastStream's security for ``settings`` (default: read from the environment); None: plaintext."""
    settings = settings if settings is not None else KafkaSettings()
    if settings.kafka_security_protocol == "PLAINTEXT":
        return None
    context = ssl.create_default_context(
        cafile=str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None
    )
    if settings.kafka_security_protocol == "SSL":
        return BaseSecurity(ssl_context=context, use_ssl=True)
    assert settings.kafka_sasl_username and settings.kafka_sasl_password  # the settings check it
    scram = SASLScram512 if settings.kafka_sasl_mechanism == "SCRAM-SHA-512" else SASLScram256
    return scram(
        username=settings.kafka_sasl_username,
        password=settings.kafka_sasl_password.get_secret_value(),
        ssl_context=context,
        use_ssl=True,
    )


def client_options(bootstrap_servers: str, settings: KafkaSettings | None = None) -> dict[str, Any]:
    """Keyword arguments of an aiokafka client (producer, consumer, admin) for these brokers."""
    settings = settings if settings is not None else KafkaSettings()
    return {
        "bootstrap_servers": bootstrap_servers,
        "metadata_max_age_ms": settings.kafka_metadata_max_age_ms,
        **parse_security(kafka_security(settings)),
    }


def service_broker(settings: KafkaSettings, client_id: str, **options: Any) -> KafkaBroker:
    """The FastStream broker of a service (its consumers, its dead letters), connected as every client."""
    return KafkaBroker(
        settings.kafka_servers(),
        security=kafka_security(settings),
        client_id=client_id,
        # dead letters are written with acks=all, as the relay's events: on a cluster, a write
        # is acknowledged once min.insync.replicas brokers have it (a broker lost loses nothing)
        acks="all",
        # a partition whose leader moved is found again within this time (see the setting)
        metadata_max_age_ms=settings.kafka_metadata_max_age_ms,
        logger=logging.getLogger("faststream"),
        **options,
    )
