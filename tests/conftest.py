"""Where the test infrastructure comes from, in this order:

1. ``KAFKA_BOOTSTRAP_SERVERS`` and ``DATABASE_URL`` (a role that may create roles) when both are set;
2. testcontainers, when a Docker engine answers a ping;
3. otherwise a failure that says how to start the local infrastructure (deploy/local/infra.py).

Integration tests never skip silently: without infrastructure they fail.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
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
        from testcontainers.kafka import KafkaContainer
        from testcontainers.postgres import PostgresContainer

        with (
            KafkaContainer("apache/kafka:4.1.1").with_env(
                "KAFKA_AUTO_CREATE_TOPICS_ENABLE", "false"
            ) as kafka_c,
            PostgresContainer("postgres:15", driver=None) as pg_c,
        ):
            yield Infrastructure(kafka_c.get_bootstrap_server(), pg_c.get_connection_url(), "testcontainers")
        return
    pytest.fail(HOW_TO_START, pytrace=False)


# Fixtures for tests on real infrastructure (start_service, record_events, scratch, processes, …).
pytest_plugins = ["tests.support"]
