"""The `infra.py` commands: up, down, status, env, reset, and the exit codes callers rely on.

up starts Kafka first (its JVM boots while PostgreSQL starts), reports each part with its timings,
and writes the env file only when both answer; status exits 3 when something is down.
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

from .config import (
    HOST,
    Config,
    InfraError,
)
from .envfile import env_lines, write_env
from .kafka import (
    KafkaLaunch,
    kafka_launch_all,
    kafka_libs_present,
    kafka_ready,
    kafka_running_pid,
    kafka_running_port,
    kafka_stop_all,
    kafka_version,
    kafka_wait_ready,
)
from .keycloak import (
    keycloak_present,
    keycloak_ready,
    keycloak_running_pid,
    keycloak_running_port,
    keycloak_stop,
    keycloak_up,
    keycloak_version,
)
from .postgres import (
    pg_bindir,
    pg_is_ready,
    pg_paths,
    pg_postmaster,
    pg_running_pid,
    pg_stop,
    pg_up,
)
from .processes import ensure_dir, fmt_secs, tail


def cmd_up(cfg: Config) -> int:
    ensure_dir(cfg.logs)
    t0 = time.monotonic()
    failures: list[InfraError] = []

    # Kafka first: its JVMs boot while PostgreSQL starts
    launches: list[KafkaLaunch] = []
    try:
        launches = kafka_launch_all(cfg)
        for launch in launches:
            if not launch.reused:
                node = launch.node or cfg.kafka_nodes[0]
                print(f"kafka: node {node.id} starting (pid {launch.pid}), log {node.log}", flush=True)
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

    for launch in launches:
        node = launch.node or cfg.kafka_nodes[0]
        try:
            ready = kafka_wait_ready(cfg, launch)
            timings = {**launch.timings}
            if not launch.reused:
                timings["start to ready"] = ready
            detail = ", ".join(f"{k} {fmt_secs(v)}" for k, v in timings.items())
            state = "already running, reused" if launch.reused else f"started (Kafka {kafka_version(cfg)})"
            which = f"node {node.id} " if len(cfg.kafka_nodes) > 1 else ""
            print(
                f"kafka: {which}{state} (pid {launch.pid}) on {HOST}:{node.port}"
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


def cmd_up_keycloak(cfg: Config) -> int:
    """Start the local OpenID Connect provider alone (only asked for: it takes minutes to boot)."""
    try:
        pid, reused, timings = keycloak_up(cfg)
    except InfraError as exc:
        report_error("keycloak", exc)
        return 1
    detail = ", ".join(f"{k} {fmt_secs(v)}" for k, v in timings.items())
    state = "already running, reused" if reused else f"started (Keycloak {keycloak_version(cfg)})"
    print(
        f"keycloak: {state} (pid {pid}) on {cfg.keycloak_url}, realm certibus"
        + (f" [{detail}]" if detail else "")
    )
    return 0


def cmd_down(cfg: Config, only: str | None = None) -> int:
    rc = 0
    parts = (("kafka", _stop_kafka), ("postgres", pg_stop), ("keycloak", keycloak_stop))
    for name, stop in parts if only is None else [p for p in parts if p[0] == only]:
        try:
            print(f"{name}: {stop(cfg)}")
        except InfraError as exc:
            report_error(name, exc)
            rc = 1
    return rc


def _stop_kafka(cfg: Config) -> str:
    results = kafka_stop_all(cfg)
    return results[0].removeprefix("node 1: ") if len(results) == 1 else "; ".join(results)


def cmd_status(cfg: Config) -> int:
    all_up = True
    print(f"state dir: {cfg.state}")
    # kafka: every node of the cluster (one line each when there are several)
    for node in cfg.kafka_nodes:
        pid = kafka_running_pid(cfg, node)
        port = kafka_running_port(cfg, node) if pid else node.port
        if pid is not None:
            ok = kafka_ready(HOST, port or node.port, brokers_expected=len(cfg.kafka_nodes))
            state = "running, ready" if ok else "running, NOT answering"
            all_up &= ok
        else:
            state = "stopped" + (" (stale pid file)" if node.pidfile.exists() else "")
            all_up = False
        label = "kafka:   " if len(cfg.kafka_nodes) == 1 else f"kafka {node.id}: "
        print(f"{label} {state}; pid {pid or '-'}; {HOST}:{port} (controller {node.controller_port})")
    if kafka_libs_present(cfg):
        libs = f"{kafka_version(cfg)} ({cfg.kafka_libs})"
    elif any(cfg.kafka_libs.glob("kafka_2.13-*.jar")):
        libs = f"{kafka_version(cfg)} ({cfg.kafka_libs}; POM changed: jars re-downloaded at next start)"
    else:
        libs = "jars not downloaded yet (first `up` runs Maven)"
    print(f"          version {libs}")
    for node in cfg.kafka_nodes:
        print(f"          data {node.data}; log {node.log}")
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
    # keycloak (only started when asked: not being up does not make status fail)
    pid = keycloak_running_pid(cfg)
    if pid is not None:
        port = keycloak_running_port(cfg) or cfg.keycloak_port
        ok = keycloak_ready(cfg, port)
        all_up &= ok
        state = "running, ready" if ok else "running, NOT answering (yet)"
    else:
        state = "stopped (started by `infra.py up keycloak`)"
        port = cfg.keycloak_port
    version = keycloak_version(cfg) if keycloak_present(cfg) else "not downloaded yet"
    print(f"keycloak: {state}; pid {pid or '-'}; http://{HOST}:{port}; version {version}")
    print(f"          home {cfg.keycloak_home}; log {cfg.keycloak_log}")
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
            print(f"kafka: {_stop_kafka(cfg)}")
            for node in cfg.kafka_nodes:
                shutil.rmtree(node.data, ignore_errors=True)
                print(f"kafka: data wiped ({node.data})")
            cfg.kafka_format_info.unlink(missing_ok=True)
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
  up --brokers N     the same with an N-broker Kafka cluster (KRaft, each node a controller too;
                     N=3: replication factor 3, min.insync.replicas=2); CERTIBUS_KAFKA_BROKERS=N too
  up --with-keycloak the same, then the local OpenID Connect provider (Keycloak, realm certibus)
  up keycloak        the local OpenID Connect provider alone
  down [keycloak]    stop what `up` started (data is kept); `down keycloak` stops Keycloak alone
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
        if command == "up" and len(rest) >= 2 and rest[0] == "--brokers":
            if not rest[1].isdigit() or not 1 <= int(rest[1]) <= 9:
                print(f"up: --brokers {rest[1]!r} is not a broker count (1..9)", file=sys.stderr)
                return 2
            cfg, rest = cfg.with_brokers(int(rest[1])), rest[2:]
        if command == "up" and not rest:
            return cmd_up(cfg)
        if command == "up" and rest == ["--with-keycloak"]:
            return cmd_up(cfg) or cmd_up_keycloak(cfg)
        if command == "up" and rest == ["keycloak"]:
            return cmd_up_keycloak(cfg)
        if command == "down" and not rest:
            return cmd_down(cfg)
        if command == "down" and rest == ["keycloak"]:
            return cmd_down(cfg, "keycloak")
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
