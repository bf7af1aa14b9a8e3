"""deploy/local/infra.py stays a stdlib-only script with the same commands, output and exit codes.

It runs with the system python3 before the virtualenv exists (run-tests, run-academie, CI), so the
package beside it (deploy/local/localinfra) may import nothing but the standard library and itself.
Nothing here starts a broker or a server: only the commands that read the configuration.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
SCRIPT = REPO / "deploy" / "local" / "infra.py"
PACKAGE = REPO / "deploy" / "local" / "localinfra"


def infra(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The script as its callers run it, with `-S -I`: no site-packages, so no third-party import."""
    environ = {"PATH": os.environ["PATH"], "CERTIBUS_LOCAL_DIR": str(tmp_path / "state"), **env}
    return subprocess.run(
        [sys.executable, "-S", "-I", str(SCRIPT), *args],
        capture_output=True,
        text=True,
        env=environ,
        cwd=tmp_path,
        check=False,
        timeout=60,
    )


def test_env_prints_the_export_lines_for_the_configured_ports(tmp_path):
    result = infra(tmp_path, "env", CERTIBUS_KAFKA_PORT="39092", CERTIBUS_PG_PORT="35432")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "export KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:39092",
        "export DATABASE_URL=postgresql://certibus_admin:certibus_admin@127.0.0.1:35432/certibus",
    ]


def test_status_of_nothing_started_exits_3_and_says_so(tmp_path):
    result = infra(tmp_path, "status", CERTIBUS_KAFKA_PORT="39092", CERTIBUS_KAFKA_CONTROLLER_PORT="39093")
    assert result.returncode == 3
    assert "kafka:    stopped" in result.stdout and "postgres: not initialised" in result.stdout
    assert "127.0.0.1:39092 (controller 39093)" in result.stdout


USAGE = "usage: python3 deploy/local/infra.py COMMAND"


@pytest.mark.parametrize(
    ("args", "code", "stream", "expected"),
    [
        (("--help",), 0, "stdout", USAGE),
        ((), 2, "stdout", USAGE),
        (("up", "extra"), 2, "stderr", USAGE),
        (("reset", "x"), 2, "stderr", "reset: unknown target 'x' (kafka, postgres or all)"),
    ],
)
def test_usage_and_refusals_keep_their_exit_codes(tmp_path, args, code, stream, expected):
    result = infra(tmp_path, *args)
    assert result.returncode == code
    assert expected in getattr(result, stream)
    assert not (tmp_path / "state" / "kafka").exists()  # nothing was started


def test_a_bad_port_is_refused_with_its_variable_name(tmp_path):
    result = infra(tmp_path, "env", CERTIBUS_KAFKA_PORT="kafka")
    assert result.returncode == 1 and "CERTIBUS_KAFKA_PORT='kafka' is not a port number" in result.stderr


def test_the_package_imports_only_the_standard_library():
    outside = {}
    for path in sorted(PACKAGE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                roots = [alias.name.split(".")[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                roots = [(node.module or "").split(".")[0]]
            else:
                continue
            bad = [r for r in roots if r not in sys.stdlib_module_names and r != "__future__"]
            if bad:
                outside[path.name] = bad
    assert outside == {}


def test_a_three_broker_cluster_lists_every_node_in_the_env_lines(tmp_path):
    result = infra(tmp_path, "env", CERTIBUS_KAFKA_PORT="39092", CERTIBUS_KAFKA_BROKERS="3")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == (
        "export KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:39092,127.0.0.1:39192,127.0.0.1:39292"
    )


def test_a_bad_broker_count_is_refused(tmp_path):
    result = infra(tmp_path, "up", "--brokers", "zero")
    assert result.returncode == 2 and "--brokers 'zero' is not a broker count" in result.stderr
    assert not (tmp_path / "state" / "kafka").exists()


def test_each_node_of_a_cluster_is_a_voter_with_three_replicas_and_two_in_sync(tmp_path):
    """The written server.properties: static voters, replication 3, min.insync.replicas 2."""
    from deploy.local.localinfra.config import Config
    from deploy.local.localinfra.kafka import kafka_write_config

    cfg = Config(tmp_path, 39092, 39093, 0, "").with_brokers(3)
    nodes = cfg.kafka_nodes
    assert [(n.id, n.port, n.controller_port) for n in nodes] == [
        (1, 39092, 39093),
        (2, 39192, 39193),
        (3, 39292, 39293),
    ]
    kafka_write_config(cfg, nodes[2])
    props = dict(line.split("=", 1) for line in nodes[2].properties.read_text().splitlines() if "=" in line)
    assert props["node.id"] == "3"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:39093,2@127.0.0.1:39193,3@127.0.0.1:39293"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:39292,CONTROLLER://127.0.0.1:39293"
    assert props["min.insync.replicas"] == "2" and props["offsets.topic.replication.factor"] == "3"
    assert props["log.dirs"] == str(tmp_path / "kafka" / "node-3" / "data")


def test_a_new_cluster_id_never_starts_with_a_dash(monkeypatch):
    """The storage tool reads "-t -…" as a missing id: such a draw is made again (CI, 2026-12-04)."""
    import uuid

    from deploy.local.localinfra import kafka

    dash_first = uuid.UUID(bytes=b"\xfb" + bytes(15))  # base64 "-w…": starts with a dash
    plain = uuid.UUID(bytes=bytes(16))
    draws = iter([dash_first, plain])
    monkeypatch.setattr(kafka.uuid, "uuid4", lambda: next(draws))
    assert kafka.new_cluster_id() == "AAAAAAAAAAAAAAAAAAAAAA"
    monkeypatch.undo()
    assert all(not kafka.new_cluster_id().startswith("-") for _ in range(2000))
