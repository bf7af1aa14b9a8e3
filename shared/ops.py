"""Operator commands: topics, consumer lag, dead letters, replay.

    python -m shared.ops create-topics
    python -m shared.ops lag [--service export]   (groups <CONSUMER_GROUP_PREFIX>.<service>.*)
    python -m shared.ops dlq list --service export [--limit 20]
    python -m shared.ops dlq redrive --service export [--event-id ID]
    python -m shared.ops rewind --group certibus.export.results --topic certibus.finalisation [--since 2027-03-01T00:00:00Z]

Settings come from the same environment variables as the services (KAFKA_BOOTSTRAP_SERVERS, …).
A full replay of a service's read models is a restart with REBUILD_READ_MODELS=true (see the README).
"""

from __future__ import annotations

import argparse
import asyncio
import json
from datetime import datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from shared.contracts.topics import EVENT_TOPICS, SERVICES, all_topics, dead_letter_topic
from shared.kafka_admin import ensure_topics, group_lag, reset_group_offsets, topic_partitions
from shared.settings import DeliverySettings, KafkaSettings

DLQ_PREFIX = "dlq_"


async def list_groups(bootstrap: str, service: str | None, prefix: str = "certibus") -> list[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        groups = sorted(g[0] for g in await admin.list_consumer_groups())
    finally:
        await admin.close()
    start = f"{prefix}.{service}." if service else f"{prefix}."
    return [g for g in groups if g.startswith(start)]


async def read_topic(bootstrap: str, topic: str) -> list:
    """Every record of a topic, from the beginning to the current end."""
    partitions = await topic_partitions(bootstrap, [topic])
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        records = []
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            for batch in (await consumer.getmany(timeout_ms=1000)).values():
                records += batch
        return records
    finally:
        await consumer.stop()


def _headers(record) -> dict[str, str]:
    return {k: v.decode(errors="replace") for k, v in record.headers or []}


async def cmd_lag(bootstrap: str, service: str | None, prefix: str = "certibus") -> None:
    """Per group and partition of the topics it reads: committed offset (``-`` when none yet), end, lag."""
    event_topics = list(EVENT_TOPICS)
    print(f"{'group':48} {'topic':26} {'part':>4} {'committed':>10} {'end':>10} {'lag':>8}")
    for group in await list_groups(bootstrap, service, prefix):
        rows = await group_lag(bootstrap, group, event_topics)
        read = {row.topic for row in rows if row.committed is not None}  # topics the group reads
        for row in rows:
            if row.topic not in read:
                continue
            committed = "-" if row.committed is None else row.committed
            print(f"{group:48} {row.topic:26} {row.partition:>4} {committed:>10} {row.end:>10} {row.lag:>8}")


async def cmd_dlq_list(bootstrap: str, service: str, limit: int) -> None:
    records = await read_topic(bootstrap, dead_letter_topic(service))
    print(f"{len(records)} dead letter(s) in {dead_letter_topic(service)}")
    for record in records[-limit:]:
        h = _headers(record)
        print(
            json.dumps(
                {
                    "event_id": h.get("ce_id"),
                    "type": h.get("ce_type"),
                    "subject": h.get("ce_subject"),
                    "from": f"{h.get('dlq_original_topic')}[{h.get('dlq_original_partition')}]@{h.get('dlq_original_offset')}",
                    "consumer": h.get("dlq_consumer"),
                    "attempts": h.get("dlq_attempts"),
                    "error": h.get("dlq_error", "")[:300],
                },
                ensure_ascii=False,
            )
        )


async def cmd_dlq_redrive(bootstrap: str, service: str, event_id: str | None) -> None:
    """Republish dead letters to their original topic with their original envelope.

    Consumers that already handled the event ignore it (same event id, inbox); the one that failed
    gets another chance. Fix the cause first.
    """
    records = await read_topic(bootstrap, dead_letter_topic(service))
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True)
    await producer.start()
    sent = 0
    try:
        for record in records:
            h = _headers(record)
            if event_id and h.get("ce_id") != event_id:
                continue
            original = [(k, v.encode()) for k, v in h.items() if not k.startswith(DLQ_PREFIX)]
            await producer.send_and_wait(
                h["dlq_original_topic"], record.value, key=record.key, headers=original
            )
            sent += 1
    finally:
        await producer.stop()
    print(f"redriven: {sent}")


def main() -> None:
    parser = argparse.ArgumentParser(description="certibus operator commands")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("create-topics", help="create every certibus topic that does not exist yet")
    lag = sub.add_parser("lag", help="committed offset, end offset and lag per consumer group")
    lag.add_argument("--service", choices=SERVICES)
    dlq = sub.add_parser("dlq", help="dead letters of a service")
    dlq.add_argument("action", choices=["list", "redrive"])
    dlq.add_argument("--service", choices=SERVICES, required=True)
    dlq.add_argument("--limit", type=int, default=20)
    dlq.add_argument("--event-id")
    rewind = sub.add_parser("rewind", help="move a stopped consumer group to the start (or a time)")
    rewind.add_argument("--group", required=True)
    rewind.add_argument("--topic", action="append", required=True)
    rewind.add_argument("--since", help="ISO 8601 instant; default: the beginning")
    args = parser.parse_args()
    settings = KafkaSettings()
    bootstrap = settings.kafka_bootstrap_servers
    if args.command == "create-topics":
        specs = all_topics(
            settings.topic_partitions, settings.topic_retention_days, settings.topic_replication_factor
        )
        created = asyncio.run(ensure_topics(bootstrap, specs))
        print(f"created: {created or 'nothing (all exist)'}")
    elif args.command == "lag":
        asyncio.run(cmd_lag(bootstrap, args.service, DeliverySettings().consumer_group_prefix))
    elif args.command == "dlq" and args.action == "list":
        asyncio.run(cmd_dlq_list(bootstrap, args.service, args.limit))
    elif args.command == "dlq":
        asyncio.run(cmd_dlq_redrive(bootstrap, args.service, args.event_id))
    elif args.command == "rewind":
        since_ms = (
            int(datetime.fromisoformat(args.since.replace("Z", "+00:00")).timestamp() * 1000)
            if args.since
            else None
        )
        targets = asyncio.run(reset_group_offsets(bootstrap, args.group, args.topic, since_ms))
        for tp, offset in sorted(targets.items()):
            print(f"{tp.topic}[{tp.partition}] -> {offset}")


if __name__ == "__main__":
    main()
