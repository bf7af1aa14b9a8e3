"""The Kafka users of deploy/k8s on a real broker that refuses what no ACL allows.

The broker (tests/secure_infra.py) takes only TLS + SCRAM-SHA-512 and runs KRaft's StandardAuthorizer,
as Strimzi's ``authorization: simple`` does; its users and ACLs are read from
deploy/k8s/engines/kafka-users.yaml itself. The topics are created as the operators' user (the
topics Job), every service starts as its own user (the start-up topic check, its consumer groups,
its outbox relay), a roster imported on eligibility reaches the scheduler's read model, and a
service's user is refused another service's topic and dead letters.
"""

from __future__ import annotations

import asyncio
import importlib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import TopicAuthorizationFailedError

from deploy.local.generator import generate_learners, learner_csv_bytes
from shared.contracts.identifiers import mod23_letter
from shared.contracts.topics import SERVICES, all_topics, dead_letter_topic
from shared.kafka_admin import ensure_topics
from shared.kafka_security import client_options
from shared.settings import KafkaSettings
from tests.secure_infra import SaslBroker, make_certificates
from tests.support import wait_for

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
KAFKA_USERS = REPO / "deploy" / "k8s" / "engines" / "kafka-users.yaml"
OPERATOR_USER = "certibus-operator-kafka"
UAI = "0213" + "456" + mod23_letter("0213456")


def manifest_users() -> dict[str, list[dict]]:
    """Each KafkaUser of the manifest: its name and its ACL rules."""
    return {
        m["metadata"]["name"]: m["spec"]["authorization"]["acls"]
        for m in yaml.safe_load_all(KAFKA_USERS.read_text())
    }


def broker_rules(user: str, acls: list[dict]) -> list[tuple[str, str, str, str, str]]:
    """Strimzi's ACL rules as Kafka's Admin API names them (``DescribeConfigs`` → ``DESCRIBE_CONFIGS``)."""
    patterns = {"literal": "LITERAL", "prefix": "PREFIXED"}
    return [
        (
            user,
            rule["resource"]["type"].upper(),
            rule["resource"]["name"],
            patterns[rule["resource"].get("patternType", "literal")],
            re.sub(r"(?<!^)(?=[A-Z])", "_", operation).upper(),
        )
        for rule in acls
        for operation in rule["operations"]
    ]


def password_of(user: str) -> str:
    return f"{user}-test-password"


@pytest.fixture(scope="module")
def broker(tmp_path_factory) -> Iterator[SaslBroker]:
    state = tmp_path_factory.mktemp("acls")
    users = manifest_users()
    kafka = SaslBroker(
        state / "kafka", make_certificates(state / "tls"), users={u: password_of(u) for u in users}, acls=True
    )
    try:
        kafka.start()
        kafka.allow([rule for user, acls in users.items() for rule in broker_rules(user, acls)])
        yield kafka
    finally:
        kafka.stop()


def security(broker: SaslBroker, user: str) -> dict[str, str]:
    """The variables a pod of ``user`` gets (certibus-config and its Deployment's env)."""
    return {
        "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "KAFKA_SASL_USERNAME": user,
        "KAFKA_SASL_PASSWORD": password_of(user),
        "KAFKA_SSL_CAFILE": str(broker.certificates.ca),
    }


def as_user(monkeypatch: pytest.MonkeyPatch, broker: SaslBroker, user: str) -> None:
    """The environment of that user's pod: the helpers that read it (topic check, relay) use it."""
    for name, value in security(broker, user).items():
        monkeypatch.setenv(name, value)


def settings_of(broker: SaslBroker, user: str) -> KafkaSettings:
    return KafkaSettings(**{name.lower(): value for name, value in security(broker, user).items()})


@pytest.fixture(scope="module")
async def kafka(broker) -> str:
    """The topics, created as the topics Job does (the operators' user); overrides the suite's broker."""
    with pytest.MonkeyPatch.context() as env:
        as_user(env, broker, OPERATOR_USER)
        await ensure_topics(broker.bootstrap_servers, all_topics())
    return broker.bootstrap_servers


async def test_every_service_starts_and_works_as_its_own_kafka_user(
    broker, kafka, start_service, monkeypatch
):
    started = {}
    for service in SERVICES:
        user = f"certibus-{service}-kafka"
        as_user(monkeypatch, broker, user)
        definition = importlib.import_module(f"services.{service}.app").definition
        svc = await start_service(
            definition,
            consumer_group_prefix="certibus",  # the groups its ACLs name (certibus-config)
            **{name.lower(): value for name, value in security(broker, user).items()},
        )

        async def relay_connected(svc=svc) -> bool:
            return svc.runtime.relay.active

        # the relay's producer took this user's variables: the next service may change them
        await wait_for(relay_connected, 30, f"{service}'s outbox relay")
        started[service] = svc
    learners = generate_learners(5, 3)
    roster = await started["eligibility"].http.post(
        f"/schools/{UAI}/rosters", files={"file": ("eleves.csv", learner_csv_bytes(learners))}
    )
    assert roster.status_code == 200, roster.text

    async def the_scheduler_knows_them() -> bool:
        count = await started["scheduler"].pool.fetchval("SELECT count(*) FROM learners WHERE uai = $1", UAI)
        return count == len(learners)

    await wait_for(the_scheduler_knows_them, 60, "the roster in the scheduler's read model")


async def test_a_service_user_cannot_write_another_services_topic(broker, kafka):
    producer = AIOKafkaProducer(**client_options(kafka, settings_of(broker, "certibus-scheduler-kafka")))
    await producer.start()
    try:
        await producer.send_and_wait("certibus.scheduler", b"{}", key=b"k")  # its own: allowed
        with pytest.raises(TopicAuthorizationFailedError):
            await producer.send_and_wait("certibus.eligibility", b"forged", key=b"k")
    finally:
        await producer.stop()


async def test_a_service_user_cannot_read_another_services_dead_letters(broker, kafka):
    consumer = AIOKafkaConsumer(
        **client_options(kafka, settings_of(broker, "certibus-academie-kafka")), enable_auto_commit=False
    )
    await consumer.start()
    try:
        consumer.assign([TopicPartition(dead_letter_topic("scheduler"), 0)])
        await consumer.seek_to_beginning()
        with pytest.raises(TopicAuthorizationFailedError):
            await asyncio.wait_for(consumer.getmany(timeout_ms=5000), 20)
    finally:
        await consumer.stop()
