"""Where the local infrastructure lives and on which ports: one `Config` read from the environment.

Every other module takes a `Config`; the CERTIBUS_* variables are read here and nowhere else.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
POM = REPO / "deploy" / "local" / "kafka" / "pom.xml"
HOST = "127.0.0.1"

KAFKA_READY_TIMEOUT = float(os.environ.get("CERTIBUS_KAFKA_READY_TIMEOUT", "120"))
KAFKA_STOP_TIMEOUT = 30.0
PG_START_TIMEOUT = 60
PG_DATABASE = "certibus"
PG_ADMIN_ROLE = "certibus_admin"
PG_BOOTSTRAP_SUPERUSER = "postgres"
PG_MAX_CONNECTIONS = 200
PG_OS_USER = "postgres"


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

    @classmethod
    def load(cls) -> Config:
        state = Path(os.environ.get("CERTIBUS_LOCAL_DIR") or REPO / ".local").expanduser().resolve()
        cfg = cls(
            state=state,
            kafka_port=_port("CERTIBUS_KAFKA_PORT", 19092),
            controller_port=_port("CERTIBUS_KAFKA_CONTROLLER_PORT", 19093),
            pg_port=_port("CERTIBUS_PG_PORT", 15432),
            pg_password=os.environ.get("CERTIBUS_PG_ADMIN_PASSWORD", "certibus_admin"),
        )
        if cfg.kafka_port == cfg.controller_port:
            raise InfraError("CERTIBUS_KAFKA_PORT and CERTIBUS_KAFKA_CONTROLLER_PORT must differ")
        return cfg

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
