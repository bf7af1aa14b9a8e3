"""A single-node Kafka (KRaft) broker from the Maven Central jars: fetch, configure, format, start, stop.

No Kafka distribution is installed: Maven downloads the broker jars once (deploy/local/kafka/pom.xml)
and the JVM runs `kafka.Kafka` on them, so the same broker runs wherever Java 17+ and Maven do.

Past 400 lines on purpose: one broker's life, from the jars to its stop (and the three-node cluster,
which is the same steps per node), read in the order it happens.
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
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from .config import (
    HOST,
    KAFKA_READY_TIMEOUT,
    KAFKA_STOP_TIMEOUT,
    POM,
    REPO,
    Config,
    InfraError,
    KafkaNode,
)
from .processes import cmdline, ensure_dir, fmt_secs, pid_alive, port_in_use, read_pid, rotate

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


def _quorum_lines(cfg: Config) -> str:
    """One node: a dynamic quorum formatted with --standalone. A cluster: static voters, every node a
    controller too (a majority, 2 of 3, keeps the metadata quorum when one node dies)."""
    nodes = cfg.kafka_nodes
    if len(nodes) == 1:
        return f"controller.quorum.bootstrap.servers={HOST}:{cfg.controller_port}"
    return "controller.quorum.voters=" + ",".join(f"{n.id}@{HOST}:{n.controller_port}" for n in nodes)


def _replication_lines(cfg: Config) -> str:
    """Internal topics replicated on every node (up to 3); with 3 nodes or more, acks=all writes need
    2 in-sync replicas, so one broker down loses nothing and refuses nothing."""
    replicas = min(3, len(cfg.kafka_nodes))
    min_isr = 2 if replicas >= 3 else 1
    return f"""\
offsets.topic.replication.factor={replicas}
transaction.state.log.replication.factor={replicas}
transaction.state.log.min.isr={min_isr}
share.coordinator.state.topic.replication.factor={replicas}
share.coordinator.state.topic.min.isr={min_isr}
default.replication.factor={replicas}
min.insync.replicas={min_isr}"""


def kafka_write_config(cfg: Config, node: KafkaNode | None = None) -> None:
    node = node or cfg.kafka_nodes[0]
    ensure_dir(node.dir)
    cfg.kafka_log4j.write_text(LOG4J2_PROPERTIES)
    c, k = node.controller_port, node.port
    node.properties.write_text(
        f"""\
# written by deploy/local/infra.py on every start: edit the script, not this file
# --- identity and quorum ({len(cfg.kafka_nodes)} node(s), each broker and controller)
process.roles=broker,controller
node.id={node.id}
{_quorum_lines(cfg)}

# --- listeners (loopback only)
listeners=PLAINTEXT://{HOST}:{k},CONTROLLER://{HOST}:{c}
advertised.listeners=PLAINTEXT://{HOST}:{k},CONTROLLER://{HOST}:{c}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT

# --- storage (kept across up/down; `infra.py reset kafka` wipes it)
log.dirs={node.data}

# --- replication of internal topics (and defaults)
{_replication_lines(cfg)}

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


def _format_layout(cfg: Config) -> list[list[int]]:
    return [[n.port, n.controller_port] for n in cfg.kafka_nodes]


def kafka_format(cfg: Config, node: KafkaNode | None = None) -> float | None:
    """Format the KRaft storage once. Returns seconds spent, None when already formatted.

    Every node of a cluster is formatted with the cluster id node 1 recorded in format.json, and the
    layout (ports of every node) is recorded with it: another layout needs `infra.py reset kafka`.
    """
    node = node or cfg.kafka_nodes[0]
    info = None
    if cfg.kafka_format_info.exists():
        info = json.loads(cfg.kafka_format_info.read_text())
    if info is not None and (node.data / "meta.properties").exists():
        layout = info.get("nodes") or [[cfg.kafka_port, info.get("controller_port")]]
        if info.get("controller_port") != cfg.controller_port:
            raise InfraError(
                f"Kafka data was formatted with controller port {info.get('controller_port')}, now "
                f"{cfg.controller_port}: set CERTIBUS_KAFKA_CONTROLLER_PORT={info.get('controller_port')} "
                "or run `infra.py reset kafka` (wipes topics)"
            )
        if len(layout) != len(cfg.kafka_nodes):
            raise InfraError(
                f"Kafka data was formatted for {len(layout)} broker(s), now {len(cfg.kafka_nodes)}: "
                "run `infra.py reset kafka` (wipes topics) to change the cluster's size"
            )
        return None
    if node.id == 1:
        info = None  # node 1 formats a new cluster; the others join the id it recorded
    elif info is None:
        raise InfraError(f"Kafka node {node.id} cannot be formatted before node 1")
    start = time.monotonic()
    shutil.rmtree(node.data, ignore_errors=True)
    cluster_id = (info or {}).get("cluster_id") or new_cluster_id()
    log = ensure_dir(cfg.logs) / ("kafka-format.log" if node.id == 1 else f"kafka-format-{node.id}.log")
    standalone = ["--standalone"] if len(cfg.kafka_nodes) == 1 else []
    cmd = [
        java_bin(),
        *java_opts(cfg),
        "-cp",
        f"{cfg.kafka_libs}/*",
        "kafka.tools.StorageTool",
        "format",
        *standalone,
        "-t",
        cluster_id,
        "-c",
        str(node.properties),
    ]
    with log.open("w") as out:
        try:
            result = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, timeout=120, check=False)
        except subprocess.TimeoutExpired:
            raise InfraError("Kafka storage format timed out after 120 s", log) from None
    if result.returncode != 0:
        raise InfraError(f"Kafka storage format failed (exit {result.returncode})", log)
    if node.id == 1:
        record = {
            "cluster_id": cluster_id,
            "controller_port": cfg.controller_port,
            "brokers": len(cfg.kafka_nodes),
            "nodes": _format_layout(cfg),
        }
        cfg.kafka_format_info.write_text(json.dumps(record, indent=2) + "\n")
    return time.monotonic() - start


def new_cluster_id() -> str:
    """A random KRaft cluster id as Kafka's own ``Uuid.randomUuid`` makes it: URL-safe base64 of
    16 random bytes, drawn again when it starts with "-" (the storage tool would read such an id
    as an option: 1 format in 64 failed with "argument --cluster-id/-t: expected one argument")."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def kafka_ready(host: str, port: int, timeout: float = 2.0, brokers_expected: int = 1) -> bool:
    """Metadata v4 request (stdlib only); True when the reply lists ``brokers_expected`` brokers
    (the registered, unfenced ones: a cluster is ready when every node has joined)."""
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
            return corr == 1 and brokers >= brokers_expected
    except OSError:
        return False


def kafka_running_pid(cfg: Config, node: KafkaNode | None = None) -> int | None:
    """The pid of the broker this script started, if it is still alive (None otherwise)."""
    node = node or cfg.kafka_nodes[0]
    pid = read_pid(node.pidfile)
    if pid is None or not pid_alive(pid):
        return None
    args = cmdline(pid)
    if "kafka.Kafka" not in args or str(node.properties) not in args:
        return None  # pid reused by another process
    return pid


def kafka_running_port(cfg: Config, node: KafkaNode | None = None) -> int | None:
    node = node or cfg.kafka_nodes[0]
    try:
        text = node.properties.read_text()
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
    node: KafkaNode | None = None


def kafka_launch(cfg: Config, node: KafkaNode | None = None) -> KafkaLaunch:
    node = node or cfg.kafka_nodes[0]
    timings: dict[str, float] = {}
    pid = kafka_running_pid(cfg, node)
    if pid is not None:
        port = kafka_running_port(cfg, node)
        if port != node.port:
            raise InfraError(
                f"Kafka node {node.id} is already running (pid {pid}) on port {port}, not {node.port}: "
                "run `infra.py down` first"
            )
        return KafkaLaunch(pid, time.monotonic(), True, timings, node)
    if node.pidfile.exists():
        print(f"kafka: removing stale pid file {node.pidfile}", flush=True)
        node.pidfile.unlink()
    for port, what in (
        (node.port, "CERTIBUS_KAFKA_PORT"),
        (node.controller_port, "CERTIBUS_KAFKA_CONTROLLER_PORT"),
    ):
        if port_in_use(port):
            raise InfraError(
                f"port {HOST}:{port} (node {node.id}) is already in use by another process: "
                f"choose another with {what}"
            )
    java = java_bin()
    spent = kafka_fetch_libs(cfg)
    if spent is not None:
        timings["jar download"] = spent
    kafka_write_config(cfg, node)
    spent = kafka_format(cfg, node)
    if spent is not None:
        timings["storage format"] = spent
    ensure_dir(cfg.logs)
    rotate(node.log)
    cmd = [java, *java_opts(cfg), "-cp", f"{cfg.kafka_libs}/*", "kafka.Kafka", str(node.properties)]
    with node.log.open("ab") as out:
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=node.dir,
            close_fds=True,
        )
    node.pidfile.write_text(f"{proc.pid}\n")
    return KafkaLaunch(proc.pid, time.monotonic(), False, timings, node)


def kafka_wait_ready(cfg: Config, launch: KafkaLaunch) -> float:
    """Until the node answers a Metadata request listing every node of the cluster."""
    node = launch.node or cfg.kafka_nodes[0]
    expected = len(cfg.kafka_nodes)
    deadline = launch.started + KAFKA_READY_TIMEOUT
    while True:
        if kafka_ready(HOST, node.port, brokers_expected=expected):
            return time.monotonic() - launch.started
        if not pid_alive(launch.pid):
            node.pidfile.unlink(missing_ok=True)
            raise InfraError(f"Kafka node {node.id} (pid {launch.pid}) exited during start-up", node.log)
        if time.monotonic() > deadline:
            raise InfraError(
                f"Kafka node {node.id} (pid {launch.pid}) did not answer a Metadata request listing "
                f"{expected} broker(s) on {HOST}:{node.port} "
                f"within {KAFKA_READY_TIMEOUT:.0f} s (still running; `infra.py down` stops it)",
                node.log,
            )
        time.sleep(0.2)


def kafka_stop(cfg: Config, node: KafkaNode | None = None) -> str:
    node = node or cfg.kafka_nodes[0]
    return _stop_nodes(cfg, [node])[0]


def _stop_nodes(cfg: Config, nodes: list[KafkaNode]) -> list[str]:
    """SIGTERM every node at once, then wait (SIGKILL past the timeout). At once, because a node
    stopped after the others waits for a quorum that is gone (a controlled shutdown needs it)."""
    pids = {node.id: kafka_running_pid(cfg, node) for node in nodes}
    start = time.monotonic()
    for pid in pids.values():
        if pid is not None:
            os.kill(pid, signal.SIGTERM)
    results = []
    for node in nodes:
        pid = pids[node.id]
        if pid is None:
            if node.pidfile.exists():
                node.pidfile.unlink()
                results.append("not running (stale pid file removed)")
            else:
                results.append("not running")
            continue
        while pid_alive(pid) and time.monotonic() - start < KAFKA_STOP_TIMEOUT:
            time.sleep(0.2)
        how = "SIGTERM"
        if pid_alive(pid):
            os.kill(pid, signal.SIGKILL)
            how = f"SIGKILL after {KAFKA_STOP_TIMEOUT:.0f} s"
            while pid_alive(pid) and time.monotonic() - start < KAFKA_STOP_TIMEOUT + 10:
                time.sleep(0.1)
        node.pidfile.unlink(missing_ok=True)
        results.append(f"stopped pid {pid} ({how}, {fmt_secs(time.monotonic() - start)})")
    return results


def kafka_kill(cfg: Config, node: KafkaNode) -> int | None:
    """kill -9 one node (a crash, for the fault tests); its pid file stays, as after a real crash."""
    pid = kafka_running_pid(cfg, node)
    if pid is not None:
        os.kill(pid, signal.SIGKILL)
        while pid_alive(pid):
            time.sleep(0.05)
    return pid


def kafka_launch_all(cfg: Config) -> list[KafkaLaunch]:
    """Launch every node (node 1 first: it formats the cluster and records its id)."""
    return [kafka_launch(cfg, node) for node in cfg.kafka_nodes]


def kafka_stop_all(cfg: Config) -> list[str]:
    """Stop every node of the cluster together; one line per node."""
    nodes = cfg.kafka_nodes
    return [f"node {n.id}: {result}" for n, result in zip(nodes, _stop_nodes(cfg, nodes), strict=True)]
