#!/usr/bin/env python3
"""Local infrastructure without Docker: a single-node Kafka (KRaft) broker and a PostgreSQL server.

Usage: python3 deploy/local/infra.py up|down|status|env|reset [kafka|postgres|all]

Standard library only: it runs before (and without) the project's virtualenv.
State lives under <repo>/.local/ (override with CERTIBUS_LOCAL_DIR); see deploy/local/README.md.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

REPO = Path(__file__).resolve().parents[2]
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

LOG4J2_PROPERTIES = """\
# written by deploy/local/infra.py
status = warn
appender.err.type = Console
appender.err.name = ERR
appender.err.target = SYSTEM_ERR
appender.err.layout.type = PatternLayout
appender.err.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = warn
rootLogger.appenderRef.err.ref = ERR
# keep the one INFO line that says the node is up: "[KafkaRaftServer nodeId=1] Kafka Server started"
logger.up.name = kafka.server.KafkaRaftServer
logger.up.level = info
"""


class InfraError(Exception):
    """A failure with a message for humans and, optionally, a log file whose tail explains it."""

    def __init__(self, message: str, log: Path | None = None):
        super().__init__(message)
        self.log = log


# --------------------------------------------------------------------------------------------- config


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


def ensure_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def tail(path: Path | None, lines: int = 40) -> str:
    if path is None or not path.exists():
        return ""
    with path.open("rb") as fh:
        fh.seek(0, os.SEEK_END)
        fh.seek(max(0, fh.tell() - 64 * 1024))
        text = fh.read().decode("utf-8", "replace")
    return "\n".join(text.splitlines()[-lines:])


def rotate(path: Path) -> None:
    """Keep the previous run's log as <name>.1 so each start begins a fresh file."""
    if path.exists() and path.stat().st_size > 0:
        path.replace(path.with_name(path.name + ".1"))


def port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((HOST, port))
        except OSError:
            return True
    return False


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie still answers kill(0); treat it as dead
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode("utf-8", "replace").split("\0")
    except OSError:
        return []


def read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def fmt_secs(seconds: float) -> str:
    return f"{seconds:.1f}s"


def is_root() -> bool:
    return os.geteuid() == 0


# ---------------------------------------------------------------------------------------------- kafka


def java_bin() -> str:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").exists():
        return str(Path(java_home) / "bin" / "java")
    found = shutil.which("java")
    if not found:
        raise InfraError(
            "java not found: Kafka 4.x needs a Java 17+ runtime (e.g. apt-get install openjdk-17-jre)"
        )
    return found


def java_opts(cfg: Config) -> list[str]:
    return [
        "-Xms256m",
        "-Xmx512m",
        "-XX:+UseSerialGC",
        "-XX:+ExitOnOutOfMemoryError",
        "-XX:-UsePerfData",
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={cfg.kafka_log4j}",
        f"-Dkafka.logs.dir={cfg.logs}",
    ]


def pom_digest() -> str:
    return hashlib.sha256(POM.read_bytes()).hexdigest()


def kafka_libs_present(cfg: Config) -> bool:
    marker = cfg.kafka_libs / ".pom-sha256"
    if not marker.exists() or marker.read_text().strip() != pom_digest():
        return False
    return any(cfg.kafka_libs.glob("kafka_2.13-*.jar")) and any(cfg.kafka_libs.glob("log4j-slf4j-impl-*.jar"))


def kafka_fetch_libs(cfg: Config) -> float | None:
    """Download the broker jars with Maven when missing (or when the POM changed). Returns seconds spent."""
    if kafka_libs_present(cfg):
        return None
    mvn = shutil.which("mvn")
    if not mvn:
        raise InfraError("mvn not found: Maven is needed once to download the Kafka jars from Maven Central")
    start = time.monotonic()
    tmp = cfg.kafka_dir / "libs.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    log = ensure_dir(cfg.logs) / "maven.log"
    cmd = [
        mvn,
        "-B",
        "-q",
        "-Dstyle.color=never",
        "-f",
        str(POM),
        "dependency:copy-dependencies",
        "-DincludeScope=runtime",
        f"-DoutputDirectory={tmp}",
    ]
    print(f"kafka: downloading broker jars with Maven ({POM.relative_to(REPO)}) ...", flush=True)
    with log.open("w") as out:
        out.write("$ " + " ".join(cmd) + "\n")
        out.flush()
        result = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=REPO, check=False)
    if result.returncode != 0 or not any(tmp.glob("kafka_2.13-*.jar")):
        raise InfraError(f"Maven could not download the Kafka jars (exit {result.returncode})", log)
    (tmp / ".pom-sha256").write_text(pom_digest() + "\n")
    shutil.rmtree(cfg.kafka_libs, ignore_errors=True)
    tmp.replace(cfg.kafka_libs)
    return time.monotonic() - start


def kafka_version(cfg: Config) -> str:
    jars = sorted(cfg.kafka_libs.glob("kafka_2.13-*.jar"))
    return jars[0].name.removeprefix("kafka_2.13-").removesuffix(".jar") if jars else "?"


def kafka_write_config(cfg: Config) -> None:
    ensure_dir(cfg.kafka_dir)
    cfg.kafka_log4j.write_text(LOG4J2_PROPERTIES)
    c, k = cfg.controller_port, cfg.kafka_port
    cfg.kafka_properties.write_text(
        f"""\
# written by deploy/local/infra.py on every start: edit the script, not this file
# --- identity and quorum (single node, dynamic quorum formatted with --standalone)
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers={HOST}:{c}

# --- listeners (loopback only)
listeners=PLAINTEXT://{HOST}:{k},CONTROLLER://{HOST}:{c}
advertised.listeners=PLAINTEXT://{HOST}:{k},CONTROLLER://{HOST}:{c}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT

# --- storage (kept across up/down; `infra.py reset kafka` wipes it)
log.dirs={cfg.kafka_data}

# --- single-replica internal topics
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1

# --- fast and light for local use
num.partitions=1
group.initial.rebalance.delay.ms=0
offsets.topic.num.partitions=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.num.partitions=1
num.network.threads=1
num.io.threads=2
background.threads=2
num.recovery.threads.per.data.dir=1
log.cleaner.dedupe.buffer.size=4194304
log.cleaner.threads=1
# the project creates its topics explicitly
auto.create.topics.enable=false
# defaults 2000 / 9000: after an unclean stop (SIGKILL, crash) the restarted node waits for the old
# broker session to expire before it is unfenced; a short session makes that wait ~3 s instead of ~10 s
broker.heartbeat.interval.ms=500
broker.session.timeout.ms=3000
"""
    )


def kafka_format(cfg: Config) -> float | None:
    """Format the KRaft storage once. Returns seconds spent, None when already formatted."""
    info = None
    if cfg.kafka_format_info.exists() and (cfg.kafka_data / "meta.properties").exists():
        info = json.loads(cfg.kafka_format_info.read_text())
    if info is not None:
        if info.get("controller_port") != cfg.controller_port:
            raise InfraError(
                f"Kafka data was formatted with controller port {info.get('controller_port')}, now "
                f"{cfg.controller_port}: set CERTIBUS_KAFKA_CONTROLLER_PORT={info.get('controller_port')} "
                "or run `infra.py reset kafka` (wipes topics)"
            )
        return None
    start = time.monotonic()
    shutil.rmtree(cfg.kafka_data, ignore_errors=True)
    cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    log = ensure_dir(cfg.logs) / "kafka-format.log"
    cmd = [
        java_bin(),
        *java_opts(cfg),
        "-cp",
        f"{cfg.kafka_libs}/*",
        "kafka.tools.StorageTool",
        "format",
        "--standalone",
        "-t",
        cluster_id,
        "-c",
        str(cfg.kafka_properties),
    ]
    with log.open("w") as out:
        try:
            result = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, timeout=120, check=False)
        except subprocess.TimeoutExpired:
            raise InfraError("Kafka storage format timed out after 120 s", log) from None
    if result.returncode != 0:
        raise InfraError(f"Kafka storage format failed (exit {result.returncode})", log)
    cfg.kafka_format_info.write_text(
        json.dumps({"cluster_id": cluster_id, "controller_port": cfg.controller_port}, indent=2) + "\n"
    )
    return time.monotonic() - start


def kafka_ready(host: str, port: int, timeout: float = 2.0) -> bool:
    """Metadata v4 request (stdlib only); True when the reply lists at least one broker."""
    cid = b"ready-check"
    msg = struct.pack(">hhih", 3, 4, 1, len(cid)) + cid + struct.pack(">ib", -1, 0)
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.sendall(struct.pack(">i", len(msg)) + msg)
            buf = b""
            while len(buf) < 16:  # size, correlation id, throttle ms, broker count
                chunk = s.recv(16 - len(buf))
                if not chunk:
                    return False
                buf += chunk
            _size, corr, _throttle, brokers = struct.unpack(">iiii", buf)
            return corr == 1 and brokers >= 1
    except OSError:
        return False


def kafka_running_pid(cfg: Config) -> int | None:
    """The pid of the broker this script started, if it is still alive (None otherwise)."""
    pid = read_pid(cfg.kafka_pidfile)
    if pid is None or not pid_alive(pid):
        return None
    args = cmdline(pid)
    if "kafka.Kafka" not in args or str(cfg.kafka_properties) not in args:
        return None  # pid reused by another process
    return pid


def kafka_running_port(cfg: Config) -> int | None:
    try:
        text = cfg.kafka_properties.read_text()
    except OSError:
        return None
    m = re.search(r"^listeners=PLAINTEXT://[^:]+:(\d+)", text, re.M)
    return int(m.group(1)) if m else None


@dataclass
class KafkaLaunch:
    pid: int
    started: float
    reused: bool
    timings: dict[str, float]


def kafka_launch(cfg: Config) -> KafkaLaunch:
    timings: dict[str, float] = {}
    pid = kafka_running_pid(cfg)
    if pid is not None:
        port = kafka_running_port(cfg)
        if port != cfg.kafka_port:
            raise InfraError(
                f"Kafka is already running (pid {pid}) on port {port}, not {cfg.kafka_port}: "
                "run `infra.py down` first"
            )
        return KafkaLaunch(pid, time.monotonic(), True, timings)
    if cfg.kafka_pidfile.exists():
        print(f"kafka: removing stale pid file {cfg.kafka_pidfile}", flush=True)
        cfg.kafka_pidfile.unlink()
    for port, what in (
        (cfg.kafka_port, "CERTIBUS_KAFKA_PORT"),
        (cfg.controller_port, "CERTIBUS_KAFKA_CONTROLLER_PORT"),
    ):
        if port_in_use(port):
            raise InfraError(
                f"port {HOST}:{port} is already in use by another process: choose another with {what}"
            )
    java = java_bin()
    spent = kafka_fetch_libs(cfg)
    if spent is not None:
        timings["jar download"] = spent
    kafka_write_config(cfg)
    spent = kafka_format(cfg)
    if spent is not None:
        timings["storage format"] = spent
    ensure_dir(cfg.logs)
    rotate(cfg.kafka_log)
    cmd = [java, *java_opts(cfg), "-cp", f"{cfg.kafka_libs}/*", "kafka.Kafka", str(cfg.kafka_properties)]
    with cfg.kafka_log.open("ab") as out:
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=cfg.kafka_dir,
            close_fds=True,
        )
    cfg.kafka_pidfile.write_text(f"{proc.pid}\n")
    return KafkaLaunch(proc.pid, time.monotonic(), False, timings)


def kafka_wait_ready(cfg: Config, launch: KafkaLaunch) -> float:
    deadline = launch.started + KAFKA_READY_TIMEOUT
    while True:
        if kafka_ready(HOST, cfg.kafka_port):
            return time.monotonic() - launch.started
        if not pid_alive(launch.pid):
            cfg.kafka_pidfile.unlink(missing_ok=True)
            raise InfraError(f"Kafka broker (pid {launch.pid}) exited during start-up", cfg.kafka_log)
        if time.monotonic() > deadline:
            raise InfraError(
                f"Kafka broker (pid {launch.pid}) did not answer a Metadata request "
                f"on {HOST}:{cfg.kafka_port} "
                f"within {KAFKA_READY_TIMEOUT:.0f} s (still running; `infra.py down` stops it)",
                cfg.kafka_log,
            )
        time.sleep(0.2)


def kafka_stop(cfg: Config) -> str:
    pid = kafka_running_pid(cfg)
    if pid is None:
        if cfg.kafka_pidfile.exists():
            cfg.kafka_pidfile.unlink()
            return "not running (stale pid file removed)"
        return "not running"
    start = time.monotonic()
    os.kill(pid, signal.SIGTERM)
    while pid_alive(pid) and time.monotonic() - start < KAFKA_STOP_TIMEOUT:
        time.sleep(0.2)
    how = "SIGTERM"
    if pid_alive(pid):
        os.kill(pid, signal.SIGKILL)
        how = f"SIGKILL after {KAFKA_STOP_TIMEOUT:.0f} s"
        while pid_alive(pid) and time.monotonic() - start < KAFKA_STOP_TIMEOUT + 10:
            time.sleep(0.1)
    cfg.kafka_pidfile.unlink(missing_ok=True)
    return f"stopped pid {pid} ({how}, {fmt_secs(time.monotonic() - start)})"


# ------------------------------------------------------------------------------------------- postgres


def pg_bindir(required: bool = True) -> Path | None:
    override = os.environ.get("CERTIBUS_PG_BINDIR")
    candidates = [Path(override)] if override else []
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    candidates += [p for p in versions if p.parent.name == "15"] + versions
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run(
            [pg_config, "--bindir"], capture_output=True, text=True, check=False
        ).stdout.strip()
        if out:
            candidates.append(Path(out))
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(Path(initdb).parent)
    for cand in candidates:
        if (cand / "initdb").exists() and (cand / "pg_ctl").exists() and (cand / "postgres").exists():
            return cand
    if required:
        raise InfraError(
            "PostgreSQL server binaries not found (looked in /usr/lib/postgresql/*/bin, pg_config, PATH): "
            "install them with `apt-get install -y postgresql` or set CERTIBUS_PG_BINDIR"
        )
    return None


def pg_install(cfg: Config) -> float | None:
    if pg_bindir(required=False) is not None:
        return None
    if not is_root():
        pg_bindir()  # raises with the install hint
    if not shutil.which("apt-get"):
        raise InfraError(
            "PostgreSQL is missing and apt-get is not available: install PostgreSQL server by hand"
        )
    start = time.monotonic()
    log = ensure_dir(cfg.logs) / "postgres-install.log"
    print("postgres: binaries missing, running apt-get install -y postgresql ...", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    with log.open("w") as out:
        for cmd in (
            ["apt-get", "update"],
            ["apt-get", "install", "-y", "postgresql"],
        ):
            out.write("$ " + " ".join(cmd) + "\n")
            out.flush()
            result = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, check=False)
            if result.returncode != 0:
                raise InfraError(f"`{' '.join(cmd)}` failed (exit {result.returncode})", log)
    pg_bindir()
    return time.monotonic() - start


def pg_os_user_ids() -> tuple[int, int]:
    import pwd

    try:
        entry = pwd.getpwnam(PG_OS_USER)
    except KeyError:
        raise InfraError(
            f"running as root but there is no `{PG_OS_USER}` OS user to run PostgreSQL as "
            "(PostgreSQL refuses to run as root); install the postgresql package or run as a normal user"
        ) from None
    return entry.pw_uid, entry.pw_gid


def as_pg_user(cmd: list[str]) -> list[str]:
    """Wrap a command so it runs as the `postgres` OS user when we are root (PostgreSQL refuses root)."""
    if not is_root():
        return cmd
    if shutil.which("runuser"):
        return ["runuser", "-u", PG_OS_USER, "--", *cmd]
    if shutil.which("setpriv"):
        uid, gid = pg_os_user_ids()
        return ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--init-groups", "--", *cmd]
    return ["su", "-s", "/bin/sh", PG_OS_USER, "-c", " ".join(map(shlex_quote, cmd))]


def shlex_quote(s: str) -> str:
    import shlex

    return shlex.quote(s)


def pg_root(cfg: Config) -> Path:
    """Where the data dir and the unix socket live: under the state dir unless it cannot be used.

    As root, the `postgres` OS user must traverse every parent of the data dir, and a unix socket path
    must stay under ~107 bytes; otherwise the server goes to /var/tmp/certibus-pg-<hash> (decided once,
    remembered in <state>/postgres/location).
    """
    marker = cfg.state / "postgres" / "location"
    if marker.exists():
        return Path(marker.read_text().strip())
    default = cfg.state / "postgres"
    relocated = Path("/var/tmp") / ("certibus-pg-" + hashlib.sha1(str(cfg.state).encode()).hexdigest()[:10])
    chosen = default
    if len(str(default / "run" / f".s.PGSQL.{cfg.pg_port}.lock")) > 100:
        chosen = relocated
    elif is_root():
        uid, gid = pg_os_user_ids()
        ensure_dir(default)
        probe = default / "data"
        created = not probe.exists()
        ensure_dir(probe)
        os.chown(probe, uid, gid)
        ok = subprocess.run(as_pg_user(["test", "-w", str(probe)]), check=False).returncode == 0
        if not ok:
            if created:
                probe.rmdir()
            chosen = relocated
    ensure_dir(marker.parent)
    marker.write_text(f"{chosen}\n")
    return chosen


def pg_paths(cfg: Config) -> tuple[Path, Path]:
    root = pg_root(cfg)
    return root / "data", root / "run"


def pg_prepare_dirs(data: Path, run: Path) -> None:
    for d in (data, run):
        ensure_dir(d)
        if is_root():
            uid, gid = pg_os_user_ids()
            os.chown(d, uid, gid)
        os.chmod(d, 0o700)


def pg_initdb(cfg: Config, bindir: Path, data: Path, run: Path) -> float | None:
    if (data / "PG_VERSION").exists():
        return None
    start = time.monotonic()
    if data.exists() and any(data.iterdir()):
        raise InfraError(
            f"{data} is not empty but has no PG_VERSION: remove it or run `infra.py reset postgres`"
        )
    pg_prepare_dirs(data, run)
    log = ensure_dir(cfg.logs) / "postgres-initdb.log"
    cmd = as_pg_user(
        [
            str(bindir / "initdb"),
            "-D",
            str(data),
            "-U",
            PG_BOOTSTRAP_SUPERUSER,
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        ]
    )
    with log.open("w") as out:
        result = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, cwd="/", check=False)
    if result.returncode != 0:
        raise InfraError(f"initdb failed (exit {result.returncode})", log)
    conf = data / "postgresql.conf"
    with conf.open("a") as fh:
        fh.write("\n# certibus: local settings, rewritten by deploy/local/infra.py on every start\n")
        fh.write("include_if_exists = 'certibus.conf'\n")
    return time.monotonic() - start


def pg_write_settings(cfg: Config, data: Path, run: Path) -> None:
    target = data / "certibus.conf"
    target.write_text(
        f"""\
# written by deploy/local/infra.py on every start
listen_addresses = '{HOST}'
port = {cfg.pg_port}
unix_socket_directories = '{run}'
max_connections = {PG_MAX_CONNECTIONS}
# local development/test data only: trade crash safety for speed
fsync = off
synchronous_commit = off
full_page_writes = off
logging_collector = off
log_min_messages = warning
"""
    )
    if is_root():
        uid, gid = pg_os_user_ids()
        os.chown(target, uid, gid)


def pg_postmaster(data: Path) -> dict[str, str] | None:
    """Parse postmaster.pid: pid, port, socket dir, listen address, status."""
    try:
        lines = (data / "postmaster.pid").read_text().splitlines()
    except OSError:
        return None
    keys = ["pid", "datadir", "start", "port", "socketdir", "listen", "shmem", "status"]
    return dict(zip(keys, (line.strip() for line in lines), strict=False))


def pg_running_pid(data: Path) -> int | None:
    info = pg_postmaster(data)
    if not info or not info.get("pid", "").isdigit():
        return None
    pid = int(info["pid"])
    if not pid_alive(pid):
        return None
    args = cmdline(pid)
    if not args or not (args[0].endswith("postgres") or args[0].endswith("postmaster")):
        return None
    return pid


def pg_is_ready(bindir: Path, port: int) -> bool:
    result = subprocess.run(
        [str(bindir / "pg_isready"), "-q", "-h", HOST, "-p", str(port), "-t", "2"], check=False
    )
    return result.returncode == 0


def psql(bindir: Path, run: Path, port: int, sql: str, db: str = "postgres") -> str:
    cmd = [
        str(bindir / "psql"),
        "-X",
        "-q",
        "-v",
        "ON_ERROR_STOP=1",
        "-h",
        str(run),
        "-p",
        str(port),
        "-U",
        PG_BOOTSTRAP_SUPERUSER,
        "-d",
        db,
        "-At",
    ]
    result = subprocess.run(cmd, input=sql, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise InfraError(f"psql failed: {result.stderr.strip()}")
    return result.stdout


def pg_provision(cfg: Config, bindir: Path, run: Path) -> None:
    pw = cfg.pg_password.replace("'", "''")
    psql(
        bindir,
        run,
        cfg.pg_port,
        f"""
SELECT 'CREATE ROLE {PG_ADMIN_ROLE} LOGIN SUPERUSER'
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{PG_ADMIN_ROLE}')\\gexec
ALTER ROLE {PG_ADMIN_ROLE} WITH LOGIN SUPERUSER PASSWORD '{pw}';
SELECT 'CREATE DATABASE {PG_DATABASE} OWNER {PG_ADMIN_ROLE}'
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = '{PG_DATABASE}')\\gexec
""",
    )


def pg_up(cfg: Config) -> tuple[int, bool, dict[str, float]]:
    timings: dict[str, float] = {}
    spent = pg_install(cfg)
    if spent is not None:
        timings["apt-get install"] = spent
    bindir = pg_bindir()
    assert bindir is not None
    data, run = pg_paths(cfg)
    pid = pg_running_pid(data)
    if pid is not None:
        port = int(pg_postmaster(data).get("port", "0") or 0)  # type: ignore[union-attr]
        if port != cfg.pg_port:
            raise InfraError(
                f"PostgreSQL is already running (pid {pid}) on port {port}, not {cfg.pg_port}: "
                "run `infra.py down` first"
            )
        if pg_is_ready(bindir, cfg.pg_port):
            pg_provision(cfg, bindir, run)
            return pid, True, timings
        raise InfraError(
            f"PostgreSQL (pid {pid}) is running but does not answer on {HOST}:{cfg.pg_port}", cfg.pg_log
        )
    if (data / "postmaster.pid").exists():
        print(f"postgres: removing stale {data / 'postmaster.pid'}", flush=True)
        (data / "postmaster.pid").unlink()
    if port_in_use(cfg.pg_port):
        raise InfraError(
            f"port {HOST}:{cfg.pg_port} is already in use by another process: "
            "choose another with CERTIBUS_PG_PORT"
        )
    spent = pg_initdb(cfg, bindir, data, run)
    if spent is not None:
        timings["initdb"] = spent
    pg_prepare_dirs(data, run)
    pg_write_settings(cfg, data, run)
    start = time.monotonic()
    ensure_dir(cfg.logs)
    rotate(cfg.pg_log)
    # the log file is opened here (by us) and inherited: the postgres OS user may not be able to open it
    with cfg.pg_log.open("ab") as out:
        cmd = as_pg_user(
            [str(bindir / "pg_ctl"), "start", "-w", "-t", str(PG_START_TIMEOUT), "-D", str(data)]
        )
        result = subprocess.run(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd="/",
            start_new_session=True,
            check=False,
        )
    if result.returncode != 0:
        raise InfraError(f"pg_ctl start failed (exit {result.returncode})", cfg.pg_log)
    pid = pg_running_pid(data)
    if pid is None or not pg_is_ready(bindir, cfg.pg_port):
        raise InfraError(f"PostgreSQL started but does not answer on {HOST}:{cfg.pg_port}", cfg.pg_log)
    timings["start"] = time.monotonic() - start
    pg_provision(cfg, bindir, run)
    return pid, False, timings


def pg_stop(cfg: Config) -> str:
    marker = cfg.state / "postgres" / "location"
    if not marker.exists():
        return "not initialised"
    bindir = pg_bindir(required=False)
    data, _run = pg_paths(cfg)
    pid = pg_running_pid(data)
    if pid is None:
        if (data / "postmaster.pid").exists():
            (data / "postmaster.pid").unlink()
            return "not running (stale postmaster.pid removed)"
        return "not running"
    if bindir is None:
        raise InfraError(f"PostgreSQL (pid {pid}) is running but pg_ctl is not found to stop it")
    start = time.monotonic()
    cmd = as_pg_user([str(bindir / "pg_ctl"), "stop", "-m", "fast", "-w", "-t", "60", "-D", str(data)])
    result = subprocess.run(cmd, capture_output=True, text=True, cwd="/", check=False)
    if result.returncode != 0:
        raise InfraError(f"pg_ctl stop failed: {(result.stdout + result.stderr).strip()}", cfg.pg_log)
    return f"stopped pid {pid} (pg_ctl stop -m fast, {fmt_secs(time.monotonic() - start)})"


# -------------------------------------------------------------------------------------------- env file


def env_lines(cfg: Config) -> list[str]:
    url = (
        f"postgresql://{quote(PG_ADMIN_ROLE, safe='')}:{quote(cfg.pg_password, safe='')}"
        f"@{HOST}:{cfg.pg_port}/{PG_DATABASE}"
    )
    return [
        f"export KAFKA_BOOTSTRAP_SERVERS={HOST}:{cfg.kafka_port}",
        f"export DATABASE_URL={url}",
    ]


def write_env(cfg: Config) -> None:
    ensure_dir(cfg.state)
    text = (
        f"# written by deploy/local/infra.py up; source it: . {cfg.env_file}\n"
        + "\n".join(env_lines(cfg))
        + "\n"
    )
    tmp = cfg.env_file.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.replace(cfg.env_file)


# -------------------------------------------------------------------------------------------- commands


def cmd_up(cfg: Config) -> int:
    ensure_dir(cfg.logs)
    t0 = time.monotonic()
    failures: list[InfraError] = []

    # Kafka first: its JVM boots while PostgreSQL starts
    launch: KafkaLaunch | None = None
    try:
        launch = kafka_launch(cfg)
        if not launch.reused:
            print(f"kafka: broker starting (pid {launch.pid}), log {cfg.kafka_log}", flush=True)
    except InfraError as exc:
        failures.append(exc)
        report_error("kafka", exc)

    try:
        pid, reused, timings = pg_up(cfg)
        detail = ", ".join(f"{k} {fmt_secs(v)}" for k, v in timings.items())
        state = "already running, reused" if reused else "started"
        print(f"postgres: {state} (pid {pid}) on {HOST}:{cfg.pg_port}" + (f" [{detail}]" if detail else ""))
    except InfraError as exc:
        failures.append(exc)
        report_error("postgres", exc)

    if launch is not None:
        try:
            ready = kafka_wait_ready(cfg, launch)
            timings = {**launch.timings}
            if not launch.reused:
                timings["start to ready"] = ready
            detail = ", ".join(f"{k} {fmt_secs(v)}" for k, v in timings.items())
            state = "already running, reused" if launch.reused else f"started (Kafka {kafka_version(cfg)})"
            print(
                f"kafka: {state} (pid {launch.pid}) on {HOST}:{cfg.kafka_port}"
                + (f" [{detail}]" if detail else "")
            )
        except InfraError as exc:
            failures.append(exc)
            report_error("kafka", exc)

    if failures:
        print(f"up: FAILED after {fmt_secs(time.monotonic() - t0)}", file=sys.stderr)
        return 1
    write_env(cfg)
    print(f"up: ready in {fmt_secs(time.monotonic() - t0)}; env written to {cfg.env_file}:")
    for line in env_lines(cfg):
        print(line)
    return 0


def cmd_down(cfg: Config) -> int:
    rc = 0
    for name, stop in (("kafka", kafka_stop), ("postgres", pg_stop)):
        try:
            print(f"{name}: {stop(cfg)}")
        except InfraError as exc:
            report_error(name, exc)
            rc = 1
    return rc


def cmd_status(cfg: Config) -> int:
    all_up = True
    print(f"state dir: {cfg.state}")
    # kafka
    pid = kafka_running_pid(cfg)
    port = kafka_running_port(cfg) if pid else cfg.kafka_port
    if pid is not None:
        state = "running, ready" if kafka_ready(HOST, port or cfg.kafka_port) else "running, NOT answering"
        all_up &= state == "running, ready"
    else:
        state = "stopped" + (" (stale pid file)" if cfg.kafka_pidfile.exists() else "")
        all_up = False
    if kafka_libs_present(cfg):
        libs = f"{kafka_version(cfg)} ({cfg.kafka_libs})"
    elif any(cfg.kafka_libs.glob("kafka_2.13-*.jar")):
        libs = f"{kafka_version(cfg)} ({cfg.kafka_libs}; POM changed: jars re-downloaded at next start)"
    else:
        libs = "jars not downloaded yet (first `up` runs Maven)"
    print(f"kafka:    {state}; pid {pid or '-'}; {HOST}:{port} (controller {cfg.controller_port})")
    print(f"          version {libs}")
    print(f"          data {cfg.kafka_data}; log {cfg.kafka_log}")
    # postgres
    marker = cfg.state / "postgres" / "location"
    if marker.exists():
        data, run = pg_paths(cfg)
        pid = pg_running_pid(data)
        info = pg_postmaster(data) or {}
        port = int(info.get("port") or cfg.pg_port) if pid else cfg.pg_port
        bindir = pg_bindir(required=False)
        if pid is not None:
            ok = bindir is not None and pg_is_ready(bindir, port)
            state = "running, ready" if ok else "running, NOT answering"
            all_up &= ok
        else:
            state = "stopped"
            all_up = False
        print(f"postgres: {state}; pid {pid or '-'}; {HOST}:{port}; binaries {bindir or 'missing'}")
        print(f"          data {data}; socket dir {run}; log {cfg.pg_log}")
    else:
        all_up = False
        print(f"postgres: not initialised; {HOST}:{cfg.pg_port}; log {cfg.pg_log}")
    print(f"env file: {cfg.env_file}" + ("" if cfg.env_file.exists() else " (not written yet: run up)"))
    return 0 if all_up else 3


def cmd_env(cfg: Config) -> int:
    if cfg.env_file.exists():
        sys.stdout.write(cfg.env_file.read_text())
    else:
        print("\n".join(env_lines(cfg)))
    return 0


def cmd_reset(cfg: Config, what: str) -> int:
    if what not in ("kafka", "postgres", "all"):
        print(f"reset: unknown target {what!r} (kafka, postgres or all)", file=sys.stderr)
        return 2
    rc = 0
    if what in ("kafka", "all"):
        try:
            print(f"kafka: {kafka_stop(cfg)}")
            shutil.rmtree(cfg.kafka_data, ignore_errors=True)
            cfg.kafka_format_info.unlink(missing_ok=True)
            print(f"kafka: data wiped ({cfg.kafka_data})")
        except InfraError as exc:
            report_error("kafka", exc)
            rc = 1
    if what in ("postgres", "all"):
        marker = cfg.state / "postgres" / "location"
        try:
            print(f"postgres: {pg_stop(cfg)}")
            if marker.exists():
                root = Path(marker.read_text().strip())
                shutil.rmtree(root / "data", ignore_errors=True)
                shutil.rmtree(root / "run", ignore_errors=True)
                if root != cfg.state / "postgres":
                    shutil.rmtree(root, ignore_errors=True)
                marker.unlink()
                print(f"postgres: data wiped ({root / 'data'})")
        except InfraError as exc:
            report_error("postgres", exc)
            rc = 1
    print("run `infra.py up` to start again")
    return rc


def report_error(component: str, exc: InfraError) -> None:
    print(f"{component}: ERROR: {exc}", file=sys.stderr)
    if exc.log is not None:
        text = tail(exc.log)
        if text:
            print(f"--- last lines of {exc.log} ---", file=sys.stderr)
            print(text, file=sys.stderr)
            print("---", file=sys.stderr)
    sys.stderr.flush()


USAGE = """usage: python3 deploy/local/infra.py COMMAND

  up                 start Kafka and PostgreSQL (idempotent), write .local/env
  down               stop what `up` started (data is kept)
  status             show state, pids, ports, data and log paths (exit 3 if something is down)
  env                print the export lines (eval "$(python3 deploy/local/infra.py env)")
  reset [kafka|postgres|all]   stop and wipe data (default all)
"""


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE, end="")
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    try:
        cfg = Config.load()
        if command == "up" and not rest:
            return cmd_up(cfg)
        if command == "down" and not rest:
            return cmd_down(cfg)
        if command == "status" and not rest:
            return cmd_status(cfg)
        if command == "env" and not rest:
            return cmd_env(cfg)
        if command == "reset" and len(rest) <= 1:
            return cmd_reset(cfg, rest[0] if rest else "all")
    except InfraError as exc:
        report_error(command, exc)
        return 1
    except KeyboardInterrupt:
        return 130
    print(USAGE, end="", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
