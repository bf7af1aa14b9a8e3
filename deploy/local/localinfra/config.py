"""Where the local infrastructure lives and on which ports: one `Config` read from the environment.

Every other module takes a `Config`; the CERTIBUS_* variables are read here and nowhere else.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
POM = REPO / "deploy" / "local" / "kafka" / "pom.xml"
KEYCLOAK_POM = REPO / "deploy" / "local" / "keycloak" / "pom.xml"
HOST = "127.0.0.1"

KAFKA_READY_TIMEOUT = float(os.environ.get("CERTIBUS_KAFKA_READY_TIMEOUT", "120"))
KAFKA_STOP_TIMEOUT = 30.0
#: the first start-dev builds the server (≈ 90 s on a busy 2-core machine) before it boots (≈ 60 s)
KEYCLOAK_READY_TIMEOUT = float(os.environ.get("CERTIBUS_KEYCLOAK_READY_TIMEOUT", "400"))
PG_START_TIMEOUT = 60
PG_DATABASE = "certibus"
PG_ADMIN_ROLE = "certibus_admin"
PG_BOOTSTRAP_SUPERUSER = "postgres"
PG_MAX_CONNECTIONS = 200
PG_OS_USER = "postgres"


@dataclass(frozen=True)
class KafkaNode:
    """One broker+controller JVM of the cluster: its id, ports, directory and log."""

    id: int
    port: int
    controller_port: int
    dir: Path
    log: Path

    @property
    def data(self) -> Path:
        return self.dir / "data"

    @property
    def pidfile(self) -> Path:
        return self.dir / "kafka.pid"

    @property
    def properties(self) -> Path:
        return self.dir / "server.properties"


class InfraError(Exception):
    """A failure with a message for humans and, optionally, a log file whose tail explains it."""

    def __init__(self, message: str, log: Path | None = None):
        super().__init__(message)
        self.log = log


def _port(name: str, default: int) -> int:
    raw = os.environ.get(name, str(default))
    try:
        value = int(raw)
    except ValueError:
        raise InfraError(f"{name}={raw!r} is not a port number") from None
    if not 1 <= value <= 65535:
        raise InfraError(f"{name}={value} is out of range 1..65535")
    return value


@dataclass(frozen=True)
class Config:
    state: Path
    kafka_port: int
    controller_port: int
    pg_port: int
    pg_password: str
    keycloak_port: int = 18080
    #: JDK for Keycloak (21+); None: the newest one under /usr/lib/jvm
    keycloak_java_home: str | None = None
    #: the UAIs the local realm has staff and referents for
    keycloak_schools: tuple[str, ...] = ("0750001U", "0750002V")
    uai_claim: str = "uai"
    #: the further nodes of a multi-broker cluster (nodes 2, 3…): (client port, controller port) each
    cluster_ports: tuple[tuple[int, int], ...] = ()

    @classmethod
    def load(cls) -> Config:
        state = Path(os.environ.get("CERTIBUS_LOCAL_DIR") or REPO / ".local").expanduser().resolve()
        cfg = cls(
            state=state,
            kafka_port=_port("CERTIBUS_KAFKA_PORT", 19092),
            controller_port=_port("CERTIBUS_KAFKA_CONTROLLER_PORT", 19093),
            pg_port=_port("CERTIBUS_PG_PORT", 15432),
            pg_password=os.environ.get("CERTIBUS_PG_ADMIN_PASSWORD", "certibus_admin"),
            keycloak_port=_port("CERTIBUS_KEYCLOAK_PORT", 18080),
            keycloak_java_home=os.environ.get("CERTIBUS_KEYCLOAK_JAVA_HOME") or None,
            keycloak_schools=tuple(
                uai.strip().upper()
                for uai in os.environ.get("CERTIBUS_KEYCLOAK_SCHOOLS", "0750001U,0750002V").split(",")
                if uai.strip()
            ),
            uai_claim=os.environ.get("OIDC_UAI_CLAIM", "uai"),
        )
        if cfg.kafka_port == cfg.controller_port:
            raise InfraError("CERTIBUS_KAFKA_PORT and CERTIBUS_KAFKA_CONTROLLER_PORT must differ")
        raw = os.environ.get("CERTIBUS_KAFKA_BROKERS") or str(cfg.recorded_brokers())
        if not raw.isdigit() or not 1 <= int(raw) <= 9:
            raise InfraError(f"CERTIBUS_KAFKA_BROKERS={raw!r} is not a broker count (1..9)")
        return cfg.with_brokers(int(raw))

    def with_brokers(self, brokers: int) -> Config:
        """The same configuration with ``brokers`` nodes: node n listens on the first node's ports
        plus 100 × (n - 1) (19092, 19192, 19292; controllers 19093, 19193, 19293)."""
        extra = tuple((self.kafka_port + 100 * n, self.controller_port + 100 * n) for n in range(1, brokers))
        if any(port > 65535 for pair in extra for port in pair):
            raise InfraError(f"{brokers} brokers from port {self.kafka_port}: ports past 65535")
        return replace(self, cluster_ports=extra)

    def recorded_brokers(self) -> int:
        """How many nodes the Kafka data was formatted for (1 when not formatted yet), so `status`
        and `down` find every node of a cluster that `up --brokers N` started."""
        try:
            return int(json.loads(self.kafka_format_info.read_text()).get("brokers", 1))
        except (OSError, ValueError, AttributeError):
            return 1

    @property
    def kafka_nodes(self) -> list[KafkaNode]:
        """Every Kafka node: node 1 in kafka/ (the single-broker layout), node n in kafka/node-n/."""
        nodes = [KafkaNode(1, self.kafka_port, self.controller_port, self.kafka_dir, self.kafka_log)]
        for n, (port, controller) in enumerate(self.cluster_ports, start=2):
            nodes.append(
                KafkaNode(n, port, controller, self.kafka_dir / f"node-{n}", self.logs / f"kafka-{n}.log")
            )
        return nodes

    @property
    def bootstrap_servers(self) -> str:
        return ",".join(f"{HOST}:{node.port}" for node in self.kafka_nodes)

    # paths
    @property
    def logs(self) -> Path:
        return self.state / "logs"

    @property
    def env_file(self) -> Path:
        return self.state / "env"

    @property
    def kafka_dir(self) -> Path:
        return self.state / "kafka"

    @property
    def kafka_libs(self) -> Path:
        return self.kafka_dir / "libs"

    @property
    def kafka_data(self) -> Path:
        return self.kafka_dir / "data"

    @property
    def kafka_pidfile(self) -> Path:
        return self.kafka_dir / "kafka.pid"

    @property
    def kafka_properties(self) -> Path:
        return self.kafka_dir / "server.properties"

    @property
    def kafka_log4j(self) -> Path:
        return self.kafka_dir / "log4j2.properties"

    @property
    def kafka_format_info(self) -> Path:
        return self.kafka_dir / "format.json"

    @property
    def kafka_log(self) -> Path:
        return self.logs / "kafka.log"

    @property
    def pg_log(self) -> Path:
        return self.logs / "postgres.log"

    @property
    def keycloak_dir(self) -> Path:
        return self.state / "keycloak"

    @property
    def keycloak_home(self) -> Path:
        """The unpacked distribution (its data/ holds the H2 store and the realm to import)."""
        return self.keycloak_dir / "dist"

    @property
    def keycloak_pidfile(self) -> Path:
        return self.keycloak_dir / "keycloak.pid"

    @property
    def keycloak_log(self) -> Path:
        return self.logs / "keycloak.log"

    @property
    def keycloak_url(self) -> str:
        return f"http://{HOST}:{self.keycloak_port}"
