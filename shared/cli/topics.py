"""``certibus topics create|describe``: every certibus topic with its partitions, replication and retention.

``create`` makes the topics that do not exist yet from TOPIC_PARTITIONS, TOPIC_RETENTION_DAYS and
TOPIC_REPLICATION_FACTOR (what the services do at start-up). ``describe`` shows what the brokers
have next to what the code expects, and exits 1 when a topic is missing.
"""

from __future__ import annotations

import click

from shared.cli.output import OK, PROBLEM, emit_json, exits, json_option, run, settings, table
from shared.contracts.topics import DAY_MS, all_topics
from shared.kafka_admin import describe_topics, ensure_topics


@click.group()
def topics() -> None:
    """Create or describe the certibus topics."""


def _specs():
    s = settings()
    return s, all_topics(s.topic_partitions, s.topic_retention_days, s.topic_replication_factor)


@topics.command()
@json_option
@exits
def create(as_json: bool) -> int:
    """Create every certibus topic that does not exist yet (existing ones are left alone)."""
    s, specs = _specs()
    created = run(ensure_topics(s.kafka_bootstrap_servers, specs))
    if as_json:
        emit_json({"created": created, "existing": [t.name for t in specs if t.name not in created]})
    else:
        click.echo(f"created: {', '.join(created) if created else 'nothing (all exist)'}")
    return OK


def describe_rows(specs, found: dict[str, dict]) -> list[dict]:
    """One entry per expected topic: what the brokers have (None when missing) and what is expected."""
    rows = []
    for spec in specs:
        have = found.get(spec.name)
        config = (have or {}).get("config", {})
        retention = config.get("retention.ms")
        rows.append(
            {
                "topic": spec.name,
                "exists": have is not None,
                "partitions": None if have is None else have["partitions"],
                "replication_factor": None if have is None else have["replication_factor"],
                "retention_ms": None if retention is None else int(retention),
                "cleanup_policy": config.get("cleanup.policy"),
                "expected": {
                    "partitions": spec.partitions,
                    "replication_factor": spec.replication_factor,
                    "retention_ms": spec.retention_ms,
                    "cleanup_policy": spec.cleanup_policy,
                },
            }
        )
    return rows


@topics.command()
@json_option
@exits
def describe(as_json: bool) -> int:
    """Partitions, replication factor, retention and cleanup policy of every certibus topic."""
    s, specs = _specs()
    rows = describe_rows(specs, run(describe_topics(s.kafka_bootstrap_servers, [t.name for t in specs])))
    if as_json:
        emit_json({"topics": rows})
    else:
        table(
            "certibus topics",
            ["topic", "partitions", "replication", "retention (days)", "cleanup", "expected"],
            [
                [
                    r["topic"] if r["exists"] else f"{r['topic']} (missing)",
                    r["partitions"],
                    r["replication_factor"],
                    None if r["retention_ms"] is None else round(r["retention_ms"] / DAY_MS, 2),
                    r["cleanup_policy"],
                    f"{r['expected']['partitions']} × {r['expected']['replication_factor']},"
                    f" {r['expected']['retention_ms'] // DAY_MS} d",
                ]
                for r in rows
            ],
        )
    return OK if all(r["exists"] for r in rows) else PROBLEM
