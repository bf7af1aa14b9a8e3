"""Two services across Kafka over SASL_SSL (SCRAM-SHA-512) and PostgreSQL over verified TLS only.

The servers are the test's own (tests/secure_infra.py): the broker's client listener takes nothing
but TLS + SCRAM and PostgreSQL refuses every connection without TLS. The services are configured the
way the README says a deployment does it — ``KAFKA_SECURITY_PROTOCOL``, ``KAFKA_SASL_*``,
``KAFKA_SSL_CAFILE`` and ``?sslmode=verify-full&sslrootcert=…`` in ``DATABASE_URL`` — and a roster
imported on eligibility reaches the scheduler's read model: eligibility's pool and outbox relay, the
broker, the scheduler's consumer and pool all went through the secured paths. A wrong password, a
plaintext client, a connection without TLS and a server certificate from another CA are refused.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError, KafkaError

from deploy.local.generator import generate_learners, learner_csv_bytes
from services.eligibility.app import definition as eligibility
from services.scheduler.app import definition as scheduler
from shared.contracts.identifiers import mod23_letter
from shared.contracts.topics import all_topics
from shared.kafka_admin import ensure_topics
from shared.kafka_security import client_options
from shared.settings import KafkaSettings
from tests.secure_infra import SCRAM_PASSWORD, SCRAM_USER, SecureInfra, make_certificates
from tests.support import wait_for

pytestmark = pytest.mark.integration

UAI = "0212" + "456" + mod23_letter("0212456")


@pytest.fixture(scope="module")
async def secure(tmp_path_factory) -> AsyncIterator[SecureInfra]:
    infra = SecureInfra(tmp_path_factory.mktemp("secure"))
    with pytest.MonkeyPatch.context() as env:
        env.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
        env.setenv("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
        env.setenv("KAFKA_SASL_USERNAME", SCRAM_USER)
        env.setenv("KAFKA_SASL_PASSWORD", SCRAM_PASSWORD)
        env.setenv("KAFKA_SSL_CAFILE", str(infra.certificates.ca))
        try:
            await infra.start()
            yield infra
        finally:
            infra.close()


@pytest.fixture(scope="module")
async def kafka(secure) -> str:
    """The module's services use the secured broker (this overrides the suite's shared one)."""
    await ensure_topics(secure.kafka.bootstrap_servers, all_topics())
    return secure.kafka.bootstrap_servers


@pytest.fixture(scope="module")
def admin_dsn(secure) -> str:
    return secure.admin_database_url


async def test_a_roster_travels_from_eligibility_to_the_scheduler_over_the_secured_paths(
    secure, kafka, start_service
):
    sender = await start_service(eligibility)
    receiver = await start_service(scheduler)
    for service in (sender, receiver):
        assert await service.pool.fetchval("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
    learners = generate_learners(7, 4)
    roster = await sender.http.post(
        f"/schools/{UAI}/rosters", files={"file": ("eleves.csv", learner_csv_bytes(learners))}
    )
    assert roster.status_code == 200, roster.text

    async def scheduler_knows_them() -> bool:
        count = await receiver.pool.fetchval("SELECT count(*) FROM learners WHERE uai = $1", UAI)
        return count == len(learners)

    await wait_for(scheduler_knows_them, what="the scheduler's learners, read over SASL_SSL")


async def test_a_wrong_password_and_a_plaintext_client_are_refused_by_the_broker(secure, kafka):
    wrong = KafkaSettings(kafka_sasl_password="not-the-password")
    producer = AIOKafkaProducer(**client_options(kafka, wrong), request_timeout_ms=5000)
    with pytest.raises(KafkaError):
        await producer.start()
    await producer.stop()
    plaintext = AIOKafkaProducer(bootstrap_servers=kafka, request_timeout_ms=3000)
    with pytest.raises(KafkaConnectionError):
        await plaintext.start()
    await plaintext.stop()


async def test_postgres_refuses_a_connection_without_tls_or_with_a_certificate_of_another_ca(
    secure, tmp_path
):
    plain = secure.postgres.admin_database_url + "?sslmode=disable"
    with pytest.raises(asyncpg.InvalidAuthorizationSpecificationError, match="no encryption"):
        await asyncpg.connect(plain)
    stranger = make_certificates(tmp_path / "other-ca").ca
    with pytest.raises(ssl.SSLCertVerificationError):
        await asyncpg.connect(secure.tls_dsn(secure.postgres.admin_database_url, stranger))
    conn = await asyncpg.connect(secure.admin_database_url)
    try:
        assert await conn.fetchval("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
    finally:
        await conn.close()
