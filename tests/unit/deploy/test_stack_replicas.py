"""The stack's replicas: their process names and HTTP ports (deploy/local/stack.py).

Two replicas of a service must never share a port, and the supervisor, the readiness wait and the
fault tests find each replica by its process name.
"""

from __future__ import annotations

from pathlib import Path

from deploy.local.stack import DEFAULT_PORTS, StackConfig


def _config(**kwargs) -> StackConfig:
    return StackConfig("127.0.0.1:1", "postgresql://x", Path("logs"), Path("out"), **kwargs)


def test_one_replica_is_the_service_alone_on_its_port():
    config = _config()
    assert config.replica_names("scheduler") == ["scheduler"]
    assert (
        config.url_of("scheduler")
        == config.url("scheduler")
        == f"http://127.0.0.1:{DEFAULT_PORTS['scheduler']}"
    )


def test_further_replicas_are_numbered_and_ten_ports_up_unless_given():
    config = _config(replicas=3, replica_ports={"export": [9100, 9101]})
    assert config.replica_names("academie") == ["academie", "academie-2", "academie-3"]
    base = DEFAULT_PORTS["academie"]
    assert [config.port_of(n) for n in config.replica_names("academie")] == [base, base + 10, base + 20]
    assert [config.port_of(n) for n in config.replica_names("export")] == [
        DEFAULT_PORTS["export"],
        9100,
        9101,
    ]
    every = [config.port_of(n) for s in DEFAULT_PORTS for n in config.replica_names(s)]
    assert len(set(every)) == len(every)
