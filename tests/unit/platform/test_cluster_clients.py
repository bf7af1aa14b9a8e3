"""The platform's Kafka clients are fit for a cluster: every producer the services and the
operators' command create writes with acks=all, and FastStream gets every bootstrap address.

On a cluster (replication 3, min.insync.replicas 2) only acks=all makes a write wait for two
replicas: with acks=1 a broker killed right after acknowledging loses the record it had alone.
The services' producers are the outbox relay's, the dead-letter publisher's (FastStream's broker,
built once in shared.kafka_security) and the redrive's: a new one without ``acks="all"`` fails here.
"""

from __future__ import annotations

import ast
from pathlib import Path

SHARED = Path(__file__).resolve().parents[3] / "shared"
PRODUCERS = {"AIOKafkaProducer", "KafkaBroker"}


def _calls_without_acks_all() -> tuple[list[str], int]:
    missing, seen = [], 0
    for path in sorted(SHARED.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            if name not in PRODUCERS or path.name == "asyncapi.py":  # asyncapi: documents, never connects
                continue
            seen += 1
            acks = {k.arg: k.value for k in node.keywords}.get("acks")
            if not (isinstance(acks, ast.Constant) and acks.value == "all"):
                missing.append(f"{path.relative_to(SHARED.parent)}:{node.lineno} {name}")
    return missing, seen


def test_every_producer_of_the_platform_waits_for_all_in_sync_replicas():
    missing, seen = _calls_without_acks_all()
    # the relay's, the services' broker (shared.kafka_security.service_broker: runtime and replay)
    # and the redrive's
    assert seen >= 3, "the scan found fewer producers than the relay, the services' broker and redrive"
    assert missing == []


def test_faststream_brokers_get_the_bootstrap_addresses_one_by_one():
    """FastStream passes its servers to aiokafka as a list, where "a:1,b:2" is one unknown host."""
    from shared.settings import KafkaSettings

    settings = KafkaSettings(kafka_bootstrap_servers="127.0.0.1:19092, 127.0.0.1:19192,127.0.0.1:19292")
    assert settings.kafka_servers() == ["127.0.0.1:19092", "127.0.0.1:19192", "127.0.0.1:19292"]
    brokers = []
    for path in sorted(SHARED.rglob("*.py")):
        if path.name == "asyncapi.py":  # documents, never connects
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "KafkaBroker" and node.args:
                first = node.args[0]
                brokers.append(
                    isinstance(first, ast.Call) and ast.unparse(first.func).endswith("kafka_servers")
                )
    assert brokers and all(brokers), brokers
