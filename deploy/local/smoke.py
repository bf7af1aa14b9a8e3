"""Smoke check of the local broker with the project's Kafka client (aiokafka), run from the venv:

    .venv/bin/python deploy/local/smoke.py [bootstrap]

bootstrap defaults to $KAFKA_BOOTSTRAP_SERVERS, then 127.0.0.1:19092.

Creates a throw-away topic with AIOKafkaAdminClient, produces one record, consumes it in a consumer
group (commit included), deletes the topic. Prints timings; exit code 1 on failure.
Unlike infra.py this needs the venv (aiokafka).
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic


async def smoke(bootstrap: str) -> None:
    suffix = uuid.uuid4().hex[:8]
    topic, group = f"certibus.smoke.{suffix}", f"certibus-smoke-{suffix}"
    t0 = time.monotonic()

    def step(what: str) -> None:
        print(f"  {time.monotonic() - t0:6.2f}s  {what}", flush=True)

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="certibus-smoke")
    await admin.start()
    try:
        cluster = await admin.describe_cluster()
        step(f"admin connected: {len(cluster['brokers'])} broker(s), controller {cluster['controller_id']}")
        await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
        step(f"topic {topic} created")

        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
        await producer.start()
        try:
            meta = await producer.send_and_wait(topic, key=b"k", value=b"hello certibus")
            step(f"produced to partition {meta.partition} offset {meta.offset}")
        finally:
            await producer.stop()

        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=bootstrap,
            group_id=group,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await consumer.start()
        try:
            record = await asyncio.wait_for(consumer.getone(), timeout=60)
            step(f"consumed in group {group}: {record.key!r}={record.value!r} at offset {record.offset}")
            assert record.value == b"hello certibus", record
            await consumer.commit()
            step("offset committed")
        finally:
            await consumer.stop()

        await admin.delete_topics([topic])
        step(f"topic {topic} deleted")
    finally:
        await admin.close()


def main() -> int:
    bootstrap = (sys.argv[1:] or [os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:19092")])[0]
    print(f"smoke test against {bootstrap}")
    try:
        asyncio.run(smoke(bootstrap))
    except Exception as exc:
        print(f"FAILED: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
