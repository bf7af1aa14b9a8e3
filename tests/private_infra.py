"""A Kafka broker and a PostgreSQL server of a test's own, started with deploy/local's localinfra.

The shared infrastructure (19092/15432) serves every engineer and every other test: a test that
stops the broker or the database to watch the services recover must stop its *own*. ``PrivateInfra``
runs both on free ports with their state under a directory of the test's, and stops and starts each
on the same port and data (a restart, as production has them), stopped for good on ``close``.
With ``brokers=3`` the broker is a three-node KRaft cluster (replication 3, min.insync.replicas 2)
whose nodes can be killed (kill -9) and started again one by one.
"""

from __future__ import annotations

import shutil
import socket
from dataclasses import dataclass, field
from pathlib import Path

from deploy.local.localinfra.config import (
    HOST,
    PG_ADMIN_ROLE,
    PG_DATABASE,
    REPO,
    Config,
    InfraError,
    KafkaNode,
)
from deploy.local.localinfra.kafka import (
    kafka_fetch_libs,
    kafka_kill,
    kafka_launch,
    kafka_launch_all,
    kafka_running_pid,
    kafka_stop,
    kafka_stop_all,
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


def broker_config(
    state: Path,
    kafka_port: int,
    controller_port: int,
    pg_port: int = 0,
    cluster_ports: tuple[tuple[int, int], ...] = (),
) -> Config:
    """A localinfra ``Config`` under ``state`` whose broker jars are the shared cache (linked);
    ``cluster_ports``: (client, controller) ports of nodes 2, 3… of a cluster."""
    cache = Config(JARS_CACHE, kafka_port, controller_port, 0, "")
    cache.kafka_dir.mkdir(parents=True, exist_ok=True)
    kafka_fetch_libs(cache)
    cfg = Config(state, kafka_port, controller_port, pg_port, PG_PASSWORD, cluster_ports=cluster_ports)
    cfg.kafka_dir.mkdir(parents=True, exist_ok=True)
    if not cfg.kafka_libs.exists():
        cfg.kafka_libs.symlink_to(cache.kafka_libs)
    return cfg


@dataclass
class PrivateInfra:
    """A broker and (when ``with_postgres``) a database server, each stoppable and restartable."""

    state: Path
    with_postgres: bool = True
    #: Kafka nodes (each broker and controller); 3 makes a cluster that survives one node's loss
    brokers: int = 1
    cfg: Config = field(init=False)

    def __post_init__(self) -> None:
        kafka_port, controller_port, pg_port, *others = free_ports(3 + 2 * (self.brokers - 1))
        cluster = tuple(zip(others[::2], others[1::2], strict=True))
        self.cfg = broker_config(
            self.state, kafka_port, controller_port, pg_port if self.with_postgres else 0, cluster
        )

    @property
    def kafka_bootstrap_servers(self) -> str:
        return self.cfg.bootstrap_servers

    @property
    def nodes(self) -> list[KafkaNode]:
        return self.cfg.kafka_nodes

    @property
    def admin_database_url(self) -> str:
        return f"postgresql://{PG_ADMIN_ROLE}:{PG_PASSWORD}@{HOST}:{self.cfg.pg_port}/{PG_DATABASE}"

    def start(self) -> PrivateInfra:
        launches = kafka_launch_all(self.cfg)  # the JVMs boot while PostgreSQL starts
        if self.with_postgres:
            self.start_postgres()
        for launch in launches:
            kafka_wait_ready(self.cfg, launch)
        return self

    def start_kafka(self, node: int = 1) -> float:
        """Start a node (same ports, same data); seconds until it answers a Metadata request that
        lists every node of the cluster."""
        target = self.nodes[node - 1]
        return kafka_wait_ready(self.cfg, kafka_launch(self.cfg, target))

    def stop_kafka(self, node: int = 1) -> str:
        return kafka_stop(self.cfg, self.nodes[node - 1])

    def kill_kafka(self, node: int) -> int | None:
        """kill -9 one node, as a crash would (no controlled shutdown); its pid, None if not running."""
        return kafka_kill(self.cfg, self.nodes[node - 1])

    def kafka_pid(self, node: int = 1) -> int | None:
        return kafka_running_pid(self.cfg, self.nodes[node - 1])

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
        kafka_stop_all(self.cfg)
        if self.with_postgres:
            root = pg_paths(self.cfg)[0].parent
            pg_stop(self.cfg)
            shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(self.state, ignore_errors=True)

    def __enter__(self) -> PrivateInfra:
        try:
            return self.start()
        except InfraError as error:  # the state (and its logs) goes with close(): say why first
            tail = ""
            if error.log is not None and error.log.exists():
                tail = "\n".join(error.log.read_text(errors="replace").splitlines()[-30:])
            self.close()
            raise RuntimeError(f"{error}; the end of {error.log}:\n{tail}") from error
        except BaseException:
            self.close()
            raise

    def __exit__(self, *exc: object) -> None:
        self.close()
