"""``certibus lag`` and ``certibus rewind``: where each consumer group stands, and moving a stopped one.

Groups are ``<CONSUMER_GROUP_PREFIX>.<service>.<consumer>``; a group's topics are the event topics
it has committed offsets on (a partition it never committed shows ``-`` and counts its whole length).
"""

from __future__ import annotations

from datetime import datetime

import click

from shared.cli.output import (
    OK,
    PROBLEM,
    emit_json,
    exits,
    json_option,
    parse_since,
    run,
    service_choice,
    settings,
    since_ms,
    table,
)
from shared.contracts.topics import EVENT_TOPICS
from shared.kafka_admin import group_lag, groups_with_members, list_groups, reset_group_offsets


async def lag_rows(bootstrap: str, prefix: str, service: str | None) -> list[dict]:
    """Per group and partition of the topics it reads: committed offset (None when none yet), end, lag."""
    rows = []
    for group in await list_groups(bootstrap, f"{prefix}.{service}." if service else f"{prefix}."):
        partitions = await group_lag(bootstrap, group, list(EVENT_TOPICS))
        read = {p.topic for p in partitions if p.committed is not None}
        rows += [
            {
                "group": group,
                "topic": p.topic,
                "partition": p.partition,
                "committed": p.committed,
                "end": p.end,
                "lag": p.lag,
            }
            for p in partitions
            if p.topic in read
        ]
    return rows


@click.command()
@click.option("--service", type=service_choice, help="only this service's groups")
@json_option
@exits
def lag(service: str | None, as_json: bool) -> int:
    """Committed offset, end offset and lag per consumer group and partition."""
    s = settings()
    rows = run(lag_rows(s.kafka_bootstrap_servers, s.consumer_group_prefix, service))
    if as_json:
        emit_json({"partitions": rows, "total_lag": sum(r["lag"] for r in rows)})
    else:
        table(
            "consumer lag",
            ["group", "topic", "part", "committed", "end", "lag"],
            [[r["group"], r["topic"], r["partition"], r["committed"], r["end"], r["lag"]] for r in rows],
        )
    return OK


@click.command()
@click.option("--group", required=True, help="the consumer group, e.g. certibus.export.results")
@click.option("--topic", "topics", multiple=True, required=True, help="a topic it reads (repeatable)")
@click.option("--since", callback=parse_since, help="ISO 8601 instant with a zone; default: the beginning")
@json_option
@exits
def rewind(group: str, topics: tuple[str, ...], since: datetime | None, as_json: bool) -> int:
    """Move a stopped consumer group to the beginning of its topics, or to a time."""
    s = settings()
    if active := run(groups_with_members(s.kafka_bootstrap_servers, [group])):
        click.echo(f"{active[0]} has running members: stop every replica first", err=True)
        return PROBLEM
    targets = run(reset_group_offsets(s.kafka_bootstrap_servers, group, list(topics), since_ms(since)))
    rows = [{"topic": tp.topic, "partition": tp.partition, "offset": o} for tp, o in sorted(targets.items())]
    if as_json:
        emit_json({"group": group, "since": since.isoformat() if since else None, "offsets": rows})
    else:
        table(f"{group} rewound", ["topic", "part", "offset"], [list(r.values()) for r in rows])
    return OK
