"""KAFKA_SECURITY_PROTOCOL and friends become the same aiokafka options for every client."""

from __future__ import annotations

import ssl

import pytest
from pydantic import ValidationError

from shared.kafka_security import client_options, service_broker
from shared.settings import KafkaSettings


def test_plaintext_is_the_bootstrap_servers_and_the_metadata_age_alone():
    assert client_options("k:9092", KafkaSettings()) == {
        "bootstrap_servers": "k:9092",
        "metadata_max_age_ms": 10_000,
    }


def test_every_client_refreshes_leaders_at_the_configured_age(monkeypatch):
    """aiokafka retries an offset lookup on a former leader without fresh metadata: the refresh age
    bounds how long a partition goes unconsumed after a broker failover (300 s at aiokafka's default)."""
    monkeypatch.setenv("KAFKA_METADATA_MAX_AGE_MS", "4000")
    settings = KafkaSettings()
    assert client_options("k:9092")["metadata_max_age_ms"] == 4000  # the low-level helpers' path
    consumers = service_broker(settings, "certibus-test").config.broker_config.builder
    assert consumers.keywords["metadata_max_age_ms"] == 4000  # the services' FastStream consumers
    assert consumers.keywords["client_id"] == "certibus-test"


def test_a_metadata_age_under_a_second_is_refused():
    with pytest.raises(ValidationError, match="greater than or equal to 1000"):
        KafkaSettings(kafka_metadata_max_age_ms=100)


def test_sasl_ssl_gives_tls_with_host_checks_and_the_scram_credentials():
    settings = KafkaSettings(
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-256",
        kafka_sasl_username="certibus-scheduler",
        kafka_sasl_password="s3cret-pw",
    )
    options = client_options("k:9093", settings)
    context = options.pop("ssl_context")
    assert options == {
        "bootstrap_servers": "k:9093",
        "metadata_max_age_ms": 10_000,
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-256",
        "sasl_plain_username": "certibus-scheduler",
        "sasl_plain_password": "s3cret-pw",
    }
    assert context.check_hostname and context.verify_mode is ssl.CERT_REQUIRED


def test_ssl_alone_has_no_sasl_options():
    options = client_options("k:9093", KafkaSettings(kafka_security_protocol="SSL"))
    assert options["security_protocol"] == "SSL" and "sasl_mechanism" not in options


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"kafka_security_protocol": "SASL_SSL"}, "needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD"),
        (
            {"kafka_security_protocol": "SSL", "kafka_ssl_cafile": "/nowhere/ca.pem"},
            "/nowhere/ca.pem: no such",
        ),
        ({"kafka_security_protocol": "SASL_PLAINTEXT"}, "Input should be 'PLAINTEXT', 'SSL' or 'SASL_SSL'"),
    ],
)
def test_an_incomplete_or_unsafe_setting_stops_the_start(fields, message):
    with pytest.raises(ValidationError, match=message):
        KafkaSettings(**fields)
