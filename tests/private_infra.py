"""A Kafka broker and a PostgreSQL server of a test's own, started with deploy/local's localinfra.

The shared infrastructure (19092/15432) serves every engineer and every other test: a test that
stops the broker or the database to watch the services recover must stop its *own*. ``PrivateInfra``
runs both on free ports with their state under a directory of the test's, and stops and starts each
on the same port and data (a restart, as production has them), stopped for good on ``close``.
"""

from __future__ import annotations

import shutil
import socket
from dataclasses import dataclass, field
from pathlib import Path

from deploy.local.localinfra.config import HOST, PG_ADMIN_ROLE, PG_DATABASE, REPO, Config
from deploy.local.localinfra.kafka import (
    kafka_fetch_libs,
    kafka_launch,
    kafka_running_pid,
    kafka_stop,
    kafka_wait_ready,
)
from deploy.local.localinfra.postgres import pg_paths, pg_running_pid, pg_stop, pg_up

#: the broker jars, downloaded once for every private broker of the tests
JARS_CACHE = REPO / ".local" / "e2e-kafka-jars"
PG_PASSWORD = "private-infra-admin"


def free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind((HOST, 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def broker_config(state: Path, kafka_port: int, controller_port: int, pg_port: int = 0) -> Config:
    """A localinfra ``Config`` under ``state`` whose broker jars are the shared cache (linked)."""
    cache = Config(JARS_CACHE, kafka_port, controller_port, 0, "")
    cache.kafka_dir.mkdir(parents=True, exist_ok=True)
    kafka_fetch_libs(cache)
    cfg = Config(state, kafka_port, controller_port, pg_port, PG_PASSWORD)
    cfg.kafka_dir.mkdir(parents=True, exist_ok=True)
    if not cfg.kafka_libs.exists():
        cfg.kafka_libs.symlink_to(cache.kafka_libs)
    return cfg


@dataclass
class PrivateInfra:
    """A broker and (when ``with_postgres``) a database server, each stoppable and restartable."""

    state: Path
    with_postgres: bool = True
    cfg: Config = field(init=False)

    def __post_init__(self) -> None:
        kafka_port, controller_port, pg_port = free_ports(3)
        self.cfg = broker_config(
            self.state, kafka_port, controller_port, pg_port if self.with_postgres else 0
        )

    @property
    def kafka_bootstrap_servers(self) -> str:
        return f"{HOST}:{self.cfg.kafka_port}"

    @property
    def admin_database_url(self) -> str:
        return f"postgresql://{PG_ADMIN_ROLE}:{PG_PASSWORD}@{HOST}:{self.cfg.pg_port}/{PG_DATABASE}"

    def start(self) -> PrivateInfra:
        launch = kafka_launch(self.cfg)  # the JVM boots while PostgreSQL starts
        if self.with_postgres:
            self.start_postgres()
        kafka_wait_ready(self.cfg, launch)
        return self

    def start_kafka(self) -> float:
        """Start the broker (same port, same data); seconds until it answers a Metadata request."""
        return kafka_wait_ready(self.cfg, kafka_launch(self.cfg))

    def stop_kafka(self) -> str:
        return kafka_stop(self.cfg)

    def start_postgres(self) -> None:
        pg_up(self.cfg)

    def stop_postgres(self) -> str:
        return pg_stop(self.cfg)

    @property
    def kafka_running(self) -> bool:
        return kafka_running_pid(self.cfg) is not None

    @property
    def postgres_running(self) -> bool:
        return pg_running_pid(pg_paths(self.cfg)[0]) is not None

    def close(self) -> None:
        """Stop both for good and remove their state (PostgreSQL's may live under /var/tmp)."""
        kafka_stop(self.cfg)
        if self.with_postgres:
            root = pg_paths(self.cfg)[0].parent
            pg_stop(self.cfg)
            shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(self.state, ignore_errors=True)

    def __enter__(self) -> PrivateInfra:
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(self, *exc: object) -> None:
        self.close()
