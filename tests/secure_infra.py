"""A TLS-only PostgreSQL and a SASL_SSL (SCRAM-SHA-512) Kafka broker of a test's own.

What an académie runs in production, on 127.0.0.1: a certificate authority made for the test signs
one server certificate (for 127.0.0.1) that both servers present. The broker is deploy/local's
(the same Maven jars, KRaft, one node) with a client listener that takes only TLS + SCRAM and a
plaintext one on another port for itself (inter-broker traffic); its SCRAM user is written at
format time (``--add-scram``), as a KRaft cluster is bootstrapped. PostgreSQL is tests/private_infra's,
switched to TLS with ``ALTER SYSTEM`` and a reload, and refusing any connection without it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import shutil
import ssl
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from deploy.local.localinfra.config import HOST
from deploy.local.localinfra.kafka import LOG4J2_PROPERTIES, java_bin, java_opts, kafka_ready
from deploy.local.localinfra.processes import pid_alive
from tests.private_infra import PrivateInfra, broker_config, free_ports

SCRAM_USER = "certibus"
#: run as a single-file source program on the broker's class path (java 11+ compiles it on the fly)
CREATE_ACLS = Path(__file__).with_name("kafka_acls") / "CreateAcls.java"
SCRAM_PASSWORD = "certibus-scram-test-password"


@dataclass(frozen=True)
class Certificates:
    """``ca``: the authority clients trust; ``server``: certificate chain + key the servers present."""

    ca: Path
    server_cert: Path
    server_key: Path
    server_pem: Path  # key then certificate, Kafka's PEM keystore


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_certificates(directory: Path) -> Certificates:
    """A CA and a server certificate for 127.0.0.1 and localhost, valid for a day."""
    directory.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("certibus test CA"))
        .issuer_name(_name("certibus test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(HOST))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address(HOST)), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    key_pem = key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    found = Certificates(
        directory / "ca.pem", directory / "server.crt", directory / "server.key", directory / "server.pem"
    )
    found.ca.write_bytes(ca.public_bytes(pem))
    found.server_cert.write_bytes(cert.public_bytes(pem) + ca.public_bytes(pem))
    found.server_key.write_bytes(key_pem)
    found.server_key.chmod(0o600)
    found.server_pem.write_bytes(key_pem + cert.public_bytes(pem) + ca.public_bytes(pem))
    return found


@dataclass
class SaslBroker:
    """One KRaft node: SASL_SSL (SCRAM-SHA-512) for clients on ``port``, plaintext for itself."""

    state: Path
    certificates: Certificates
    #: further SCRAM users (name → password), written at format time like SCRAM_USER
    users: dict[str, str] = field(default_factory=dict)
    #: refuse every client what no ACL allows (KRaft's StandardAuthorizer), as Strimzi's
    #: ``authorization: simple`` does; SCRAM_USER and the plaintext listener stay super users
    acls: bool = False
    port: int = field(init=False)
    _internal: int = field(init=False)
    _controller: int = field(init=False)
    _proc: subprocess.Popen | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.port, self._internal, self._controller = free_ports(3)
        self.cfg = broker_config(self.state, self.port, self._controller)

    @property
    def bootstrap_servers(self) -> str:
        return f"{HOST}:{self.port}"

    def _properties(self) -> str:
        k, i, c = self.port, self._internal, self._controller
        return f"""\
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers={HOST}:{c}
listeners=SASL_SSL://{HOST}:{k},INTERNAL://{HOST}:{i},CONTROLLER://{HOST}:{c}
advertised.listeners=SASL_SSL://{HOST}:{k},INTERNAL://{HOST}:{i}
controller.listener.names=CONTROLLER
inter.broker.listener.name=INTERNAL
listener.security.protocol.map=CONTROLLER:PLAINTEXT,INTERNAL:PLAINTEXT,SASL_SSL:SASL_SSL
sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=\
org.apache.kafka.common.security.scram.ScramLoginModule required;
ssl.keystore.type=PEM
ssl.keystore.location={self.certificates.server_pem}
log.dirs={self.cfg.kafka_data}
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
num.network.threads=1
num.io.threads=2
""" + (
            "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer\n"
            f"super.users=User:ANONYMOUS;User:{SCRAM_USER}\n"
            if self.acls
            else ""
        )

    def _java(self, main: str, *args: str) -> list[str]:
        return [java_bin(), *java_opts(self.cfg), "-cp", f"{self.cfg.kafka_libs}/*", main, *args]

    def start(self) -> SaslBroker:
        self.cfg.kafka_log4j.write_text(LOG4J2_PROPERTIES)
        self.cfg.kafka_properties.write_text(self._properties())
        self.cfg.logs.mkdir(parents=True, exist_ok=True)
        credentials = {SCRAM_USER: SCRAM_PASSWORD, **self.users}
        scram = [
            arg
            for name, password in credentials.items()
            for arg in ("--add-scram", f"SCRAM-SHA-512=[name={name},password={password}]")
        ]
        self._run_tool(
            "formatting the SASL broker",
            "kafka.tools.StorageTool",
            "format",
            "--standalone",
            "-t",
            "c2VjdXJlLWJyb2tlci10ZXN0",
            "-c",
            str(self.cfg.kafka_properties),
            *scram,
        )
        log = (self.cfg.logs / "kafka.log").open("ab")
        self._proc = subprocess.Popen(
            self._java("kafka.Kafka", str(self.cfg.kafka_properties)),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 120
        while not kafka_ready(HOST, self._internal):  # its plaintext listener says it is up
            if not pid_alive(self._proc.pid) or time.monotonic() > deadline:
                raise RuntimeError(f"the SASL broker did not start: see {self.cfg.logs / 'kafka.log'}")
            time.sleep(0.3)
        return self

    def allow(self, rules: list[tuple[str, str, str, str, str]]) -> None:
        """Add ACLs ``(user, resource type, name, pattern type, operation)`` through the plaintext
        listener (a super user), with Kafka's own Admin client (tests/kafka_acls/CreateAcls.java)."""
        rows = ("|".join(rule) for rule in rules)
        self._run_tool("creating the ACLs", str(CREATE_ACLS), f"{HOST}:{self._internal}", *rows)

    def _run_tool(self, what: str, main: str, *args: str) -> None:
        """Run a Java tool on the broker's class path; its output in the error when it fails."""
        done = subprocess.run(
            self._java(main, *args), capture_output=True, text=True, timeout=120, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"{what} failed: {done.stdout}{done.stderr}")

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait(20)


@dataclass
class SecureInfra:
    """``kafka``: the SASL_SSL broker; ``admin_database_url``: PostgreSQL over verified TLS only."""

    state: Path
    certificates: Certificates = field(init=False)
    kafka: SaslBroker = field(init=False)
    postgres: PrivateInfra = field(init=False)

    def __post_init__(self) -> None:
        self.certificates = make_certificates(self.state / "tls")
        self.kafka = SaslBroker(self.state / "kafka", self.certificates)
        self.postgres = PrivateInfra(self.state / "pg")

    def tls_dsn(self, dsn: str, ca: Path | None = None) -> str:
        """``dsn`` asking for TLS with the server's certificate and name checked against ``ca``."""
        return f"{dsn}?sslmode=verify-full&sslrootcert={ca or self.certificates.ca}"

    @property
    def admin_database_url(self) -> str:
        return self.tls_dsn(self.postgres.admin_database_url)

    async def switch_postgres_to_tls(self) -> None:
        """TLS on (reloadable since PostgreSQL 10), then every TCP connection without it refused."""
        from deploy.local.localinfra.postgres import pg_paths

        data = pg_paths(self.postgres.cfg)[0]
        for source, name in (
            (self.certificates.server_cert, "server.crt"),
            (self.certificates.server_key, "server.key"),
        ):
            shutil.copy(source, data / name)
            shutil.chown(data / name, *_owner(data))
            (data / name).chmod(0o600)
        hba = data / "pg_hba.conf"
        lines = hba.read_text().splitlines()
        hba.write_text(
            "\n".join(
                line.replace("host ", "hostssl ", 1) if line.startswith("host ") else line for line in lines
            )
            + "\n"
        )
        conn = await asyncpg.connect(self.postgres.admin_database_url)
        try:
            await conn.execute("ALTER SYSTEM SET ssl = on")
            await conn.execute("ALTER SYSTEM SET ssl_cert_file = 'server.crt'")
            await conn.execute("ALTER SYSTEM SET ssl_key_file = 'server.key'")
            await conn.execute("SELECT pg_reload_conf()")
        finally:
            await conn.close()
        deadline = time.monotonic() + 10
        while not await self._tls_answers():  # the postmaster applies a reload asynchronously
            if time.monotonic() > deadline:
                raise RuntimeError("PostgreSQL did not switch to TLS after its reload")
            await asyncio.sleep(0.1)

    async def _tls_answers(self) -> bool:
        try:
            conn = await asyncpg.connect(self.admin_database_url)
        except (OSError, asyncpg.PostgresError, ssl.SSLError):
            return False
        await conn.close()
        return True

    async def start(self) -> SecureInfra:
        self.postgres.start_postgres()
        await self.switch_postgres_to_tls()
        self.kafka.start()
        return self

    def close(self) -> None:
        self.kafka.stop()
        self.postgres.close()


def _owner(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_uid, stat.st_gid
