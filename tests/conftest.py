"""Where the test infrastructure comes from, in this order:

1. ``KAFKA_BOOTSTRAP_SERVERS`` and ``DATABASE_URL`` (a role that may create roles) when both are set;
2. testcontainers, when a Docker engine answers a ping;
3. otherwise a failure that says how to start the local infrastructure (deploy/local/infra.py).

Integration tests never skip silently: without infrastructure they fail.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest


@dataclass(frozen=True)
class Infrastructure:
    kafka_bootstrap_servers: str
    admin_database_url: str
    origin: str


def _docker_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=3).ping()
        return True
    except Exception:
        return False


KAFKA_IMAGE = "apache/kafka:4.1.1"  # the version deploy/local runs; docker-compose.yml uses the same image
POSTGRES_IMAGE = "postgres:15"


@contextmanager
def _kafka_container() -> Iterator[str]:
    """Apache Kafka in KRaft mode, configured like docker-compose.yml, advertised on a fixed host port.

    (testcontainers' KafkaContainer drives Confluent images only.)"""
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.waiting_utils import wait_for_logs

    port = _free_port()
    container = (
        DockerContainer(KAFKA_IMAGE)
        .with_bind_ports(9092, port)
        .with_envs(
            KAFKA_NODE_ID="1",
            KAFKA_PROCESS_ROLES="broker,controller",
            KAFKA_LISTENERS="PLAINTEXT://:9092,CONTROLLER://:9093",
            KAFKA_ADVERTISED_LISTENERS=f"PLAINTEXT://127.0.0.1:{port}",
            KAFKA_CONTROLLER_LISTENER_NAMES="CONTROLLER",
            KAFKA_LISTENER_SECURITY_PROTOCOL_MAP="CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            KAFKA_CONTROLLER_QUORUM_VOTERS="1@localhost:9093",
            KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR="1",
            KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR="1",
            KAFKA_TRANSACTION_STATE_LOG_MIN_ISR="1",
            KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS="0",
            KAFKA_AUTO_CREATE_TOPICS_ENABLE="false",
        )
    )
    with container:
        wait_for_logs(container, "Kafka Server started", timeout=120)
        yield f"127.0.0.1:{port}"


@contextmanager
def _postgres_container() -> Iterator[str]:
    from testcontainers.community.postgres import PostgresContainer

    with PostgresContainer(POSTGRES_IMAGE, driver=None) as container:
        yield container.get_connection_url()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


HOW_TO_START = (
    "No Kafka/PostgreSQL for the integration tests. Either set KAFKA_BOOTSTRAP_SERVERS and DATABASE_URL,"
    " or run a Docker engine (testcontainers), or start the local infrastructure:\n"
    "    python3 deploy/local/infra.py up && . .local/env\n"
    "(.ci/run does all of this by itself.)"
)


@pytest.fixture(scope="session")
def infrastructure() -> Iterator[Infrastructure]:
    kafka, database = os.environ.get("KAFKA_BOOTSTRAP_SERVERS"), os.environ.get("DATABASE_URL")
    if kafka and database:
        yield Infrastructure(kafka, database, "environment")
        return
    if _docker_answers():
        with _kafka_container() as bootstrap, _postgres_container() as database:
            yield Infrastructure(bootstrap, database, "testcontainers")
        return
    pytest.fail(HOW_TO_START, pytrace=False)


# Fixtures for tests on real infrastructure (start_service, record_events, scratch, processes, …).
pytest_plugins = ["tests.support"]
