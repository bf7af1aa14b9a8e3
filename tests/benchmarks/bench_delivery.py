"""Platform throughput on the real broker and database: outbox → relay → Kafka → inbox consumer.

    . .local/env && .venv/bin/python tests/benchmarks/bench_delivery.py [--events 20000]

Writes N events in transactions of 500 (emit_many), then measures how fast the relay publishes them
and how fast an inbox consumer (one Postgres transaction per event, effect + inbox row) applies them.
Uses a throw-away topic and schema, so the service topics are not filled with benchmark events.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import time
import uuid
from datetime import UTC, date, datetime

from aiokafka.admin import AIOKafkaAdminClient
from faststream.kafka import KafkaBroker

from shared.consumer import EventConsumer
from shared.contracts.events import SessionUpdated
from shared.contracts.topics import TopicSpec, dead_letter_topic
from shared.db import create_pool, migrate, provision_service
from shared.kafka_admin import ensure_topics
from shared.outbox import OutboxRelay, unit_of_work


def session_update(subject: str, marker: str) -> SessionUpdated:
    return SessionUpdated(
        session_id=subject, session_number=1, uai="0750001A", certification_center="Collège",
        school_level="college", address="Site", room="B12", examiners=["M. Martin"], date=date(2027, 3, 10),
        time="09:00", access_code="BCDF23", invigilator_password_hash="scrypt$bench", changed_fields=[marker],
        updated_at=datetime.now(UTC),
    )  # fmt: skip


async def poll_until(check) -> None:
    """Poll the database (the figures include at most 50 ms of polling slack)."""
    while not await check():  # noqa: ASYNC110
        await asyncio.sleep(0.05)


async def main(events: int, partitions: int) -> None:
    kafka, admin_dsn = os.environ["KAFKA_BOOTSTRAP_SERVERS"], os.environ["DATABASE_URL"]
    name = f"bench_{uuid.uuid4().hex[:8]}"
    topic = f"certibus.bench.{name}"
    await ensure_topics(
        kafka, [TopicSpec(topic, partitions, 3_600_000), TopicSpec(dead_letter_topic("bench"), 1, 3_600_000)]
    )
    dsn = await provision_service(admin_dsn, name, "bench-pw")
    pool = await create_pool(dsn, name, 10)
    async with pool.acquire() as conn:
        await migrate(conn, name, None)
        await conn.execute("CREATE TABLE effects (event_id uuid, subject text)")

    started = time.perf_counter()
    subjects = [str(uuid.uuid4()) for _ in range(200)]
    for offset in range(0, events, 500):
        async with unit_of_work(pool, "scheduler") as uow:
            await uow.emit_many(
                [session_update(subjects[i % 200], str(i)) for i in range(offset, min(events, offset + 500))]
            )
    await pool.execute("UPDATE outbox SET topic = $1", topic)  # keep the benchmark off the service topics
    written = time.perf_counter() - started

    relay = OutboxRelay(dsn=dsn, schema=name, bootstrap_servers=kafka, batch_size=1000, poll_seconds=0.2)
    started = time.perf_counter()
    relay_task = asyncio.create_task(relay.run())
    await poll_until(lambda: _zero(pool, "SELECT count(*) FROM outbox WHERE published_at IS NULL"))
    published = time.perf_counter() - started
    relay_task.cancel()

    broker = KafkaBroker(kafka, logger=logging.getLogger("faststream"))
    consumer = EventConsumer(service="bench", name=name, pool=pool, broker=broker)

    async def apply(uow, event: SessionUpdated, envelope) -> None:
        await uow.conn.execute("INSERT INTO effects VALUES ($1, $2)", envelope.id, envelope.subject)

    consumer.on(SessionUpdated, apply)
    consumer.subscribe(topic)
    started = time.perf_counter()
    async with broker:
        await broker.start()
        await poll_until(lambda: _at_least(pool, "SELECT count(*) FROM effects", events))
    consumed = time.perf_counter() - started
    duplicates = await pool.fetchval("SELECT count(*) - count(DISTINCT event_id) FROM effects")

    print(f"events: {events} on {partitions} partitions, 200 aggregates")
    print(f"outbox write (transactions of 500): {written:6.2f} s  {events / written:9.0f} events/s")
    print(f"relay publish (idempotent producer): {published:6.2f} s  {events / published:9.0f} events/s")
    print(f"inbox consumer (1 transaction each): {consumed:6.2f} s  {events / consumed:9.0f} events/s")
    print(f"effects applied twice: {duplicates}")
    await pool.close()
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka)
    await admin.start()
    await admin.delete_topics([topic])
    await admin.close()


async def _zero(pool, query: str) -> bool:
    return await pool.fetchval(query) == 0


async def _at_least(pool, query: str, n: int) -> bool:
    return await pool.fetchval(query) >= n


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--partitions", type=int, default=6)
    args = parser.parse_args()
    asyncio.run(main(args.events, args.partitions))
