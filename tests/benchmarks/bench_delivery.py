"""Platform throughput on the real broker and database: outbox → relay → Kafka → inbox consumer.

    . .local/env && .venv/bin/python tests/benchmarks/bench_delivery.py [--events 50000]

Writes N events in transactions of 500 (emit_many), measures how fast the relay publishes them,
then, in the same run on the same broker, the raw aiokafka rate (N records of the same size and
headers produced, then consumed in batches by a bare consumer) and how fast inbox consumers apply
the N events: with a cheap per-event handler (one INSERT each), with a batch handler (one INSERT …
unnest per run), with the per-event handler and partitions applied concurrently, and with a handler
that does nothing (the platform's own cost). Each consumer
is a new group on the same topic; its rate is timed from the first batch it receives to the last
inbox row, so joining the group is not counted. Logs go through the services' JSON configuration at
INFO into /dev/null (their cost is measured, their lines not printed). Uses a throw-away topic and
schema, so the service topics are not filled with benchmark events.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from faststream.kafka import KafkaBroker

from shared.consumer import Delivery, EventConsumer
from shared.contracts.events import SessionUpdated
from shared.contracts.topics import TopicSpec, dead_letter_topic
from shared.db import create_pool, migrate, provision_service
from shared.kafka_admin import ensure_topics
from shared.logging import configure_logging
from shared.outbox import OutboxRelay, UnitOfWork, unit_of_work


def session_update(subject: str, marker: str) -> SessionUpdated:
    return SessionUpdated(
        session_id=subject, session_number=1, uai="0750001A", certification_center="Collège",
        school_level="college", address="Site", room="B12", examiners=["M. Martin"], date=date(2027, 3, 10),
        time="09:00", access_code="BCDF23", invigilator_password_hash="scrypt$bench", changed_fields=[marker],
        updated_at=datetime.now(UTC),
    )  # fmt: skip


async def poll_until(check) -> None:
    """Poll the database (the figures include at most 20 ms of polling slack)."""
    while not await check():  # noqa: ASYNC110
        await asyncio.sleep(0.02)


async def raw_kafka(kafka: str, partitions: int, sample, events: int) -> tuple[float, float, float]:
    """Seconds to produce ``events`` copies of ``sample`` (value, key, headers), then to consume them
    (wall, and CPU of this process)."""
    topic = f"certibus.bench.raw.{uuid.uuid4().hex[:8]}"
    await ensure_topics(kafka, [TopicSpec(topic, partitions, 3_600_000)])
    producer = AIOKafkaProducer(bootstrap_servers=kafka, enable_idempotence=True, acks="all", linger_ms=5)
    await producer.start()
    started = time.perf_counter()
    try:
        deliveries = [
            await producer.send(
                topic, value=sample.value, key=f"k{i % 200}".encode(), headers=list(sample.headers)
            )
            for i in range(events)
        ]
        await asyncio.gather(*deliveries)
    finally:
        await producer.stop()
    produced = time.perf_counter() - started
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=kafka, group_id=f"raw-{topic}", auto_offset_reset="earliest"
    )
    await consumer.start()
    received, first = 0, None
    try:
        while received < events:
            batch = await consumer.getmany(timeout_ms=200, max_records=500)
            if batch and first is None:
                first, first_cpu = time.perf_counter(), time.process_time()
            received += sum(len(records) for records in batch.values())
        consumed, consumed_cpu = time.perf_counter() - first, time.process_time() - first_cpu
    finally:
        await consumer.stop()
        await _delete_topic(kafka, topic)
    return produced, consumed, consumed_cpu


async def sample_record(kafka: str, topic: str):
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=kafka, auto_offset_reset="earliest")
    await consumer.start()
    try:
        return await consumer.getone()
    finally:
        await consumer.stop()


async def consume_all(
    pool, kafka: str, topic: str, name: str, table: str, events: int, configure
) -> tuple[float, float]:
    """Wall and CPU seconds (of this process) an inbox consumer (a new group) takes from its first
    batch to the last of its ``events`` inbox rows."""
    broker = KafkaBroker(kafka, logger=logging.getLogger("faststream"), log_level=logging.DEBUG)
    consumer = EventConsumer(service="bench", name=f"{name}-{table}", pool=pool, broker=broker)
    configure(consumer)
    first_batch: list[float] = []
    handle_batch = consumer.handle_batch

    async def timed(records) -> None:
        if not first_batch:
            first_batch.extend((time.perf_counter(), time.process_time()))
        await handle_batch(records)

    consumer.handle_batch = timed  # type: ignore[method-assign]
    consumer.subscribe(topic)
    async with broker:
        await broker.start()
        await poll_until(lambda: _inbox_rows(pool, consumer.inbox_consumer, events))
        finished, cpu = time.perf_counter(), time.process_time()
        await consumer.close()
    return finished - first_batch[0], cpu - first_batch[1]


async def main(events: int, partitions: int, concurrency: int) -> None:
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
        for table in ("per_event", "batched", "concurrent"):  # one effect row per event applied
            await conn.execute(f"CREATE TABLE {table} (event_id uuid, subject text)")

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

    sample = await sample_record(kafka, topic)
    produced, raw_consumed, raw_cpu = await raw_kafka(kafka, partitions, sample, events)

    def per_event(table: str, concurrency: int = 1):
        async def apply(uow: UnitOfWork, event: SessionUpdated, envelope) -> None:
            await uow.conn.execute(f"INSERT INTO {table} VALUES ($1, $2)", envelope.id, envelope.subject)

        def configure(consumer: EventConsumer) -> None:
            consumer.partition_concurrency = concurrency
            consumer.on(SessionUpdated, apply)

        return configure

    async def apply_all(uow: UnitOfWork, deliveries: Sequence[Delivery]) -> None:
        await uow.conn.execute(
            "INSERT INTO batched SELECT * FROM unnest($1::uuid[], $2::text[])",
            [d.envelope.id for d in deliveries],
            [d.envelope.subject for d in deliveries],
        )

    async def nothing(uow: UnitOfWork, event: SessionUpdated, envelope) -> None:
        """No effect: what is left is the platform's own cost (fetch, parse, inbox, commit)."""

    noop = await consume_all(
        pool, kafka, topic, name, "noop", events, lambda c: c.on(SessionUpdated, nothing)
    )
    cheap = await consume_all(pool, kafka, topic, name, "per_event", events, per_event("per_event"))
    batched = await consume_all(
        pool, kafka, topic, name, "batched", events, lambda c: c.on_batch(SessionUpdated, apply_all)
    )
    parallel = await consume_all(
        pool, kafka, topic, name, "concurrent", events, per_event("concurrent", concurrency)
    )
    twice = [
        await pool.fetchval(f"SELECT count(*) - count(DISTINCT event_id) FROM {t}")
        for t in ("per_event", "batched", "concurrent")
    ]

    raw_rate = events / raw_consumed

    def rate(measured: tuple[float, float]) -> str:
        seconds, cpu = measured
        return (
            f"{seconds:6.2f} s  {events / seconds:9.0f} events/s  {events / seconds / raw_rate:6.1%} of raw"
            f"  {cpu / events * 1e6:5.0f} µs CPU/event"
        )

    out = sys.__stdout__
    print(
        f"events: {events} on {partitions} partitions, 200 aggregates, {len(sample.value)} B each", file=out
    )
    print(
        f"outbox write (transactions of 500):   {written:6.2f} s  {events / written:9.0f} events/s", file=out
    )
    print(
        f"relay publish (idempotent producer):  {published:6.2f} s  {events / published:9.0f} events/s",
        file=out,
    )
    print(
        f"raw aiokafka produce (acks=all):      {produced:6.2f} s  {events / produced:9.0f} records/s",
        file=out,
    )
    print(
        f"raw aiokafka consume (getmany 500):   {raw_consumed:6.2f} s  {raw_rate:9.0f} records/s"
        f"                {raw_cpu / events * 1e6:5.0f} µs CPU/record",
        file=out,
    )
    print(f"inbox consumer, no-op handler:        {rate(noop)}", file=out)
    print(f"inbox consumer, per-event INSERT:     {rate(cheap)}", file=out)
    print(f"inbox consumer, batch handler INSERT: {rate(batched)}", file=out)
    print(f"inbox consumer, per-event, {concurrency} parallel: {rate(parallel)}", file=out)
    print(f"effects applied twice: {sum(twice)}", file=out)
    await pool.close()
    await _delete_topic(kafka, topic)


async def _delete_topic(kafka: str, topic: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka)
    await admin.start()
    await admin.delete_topics([topic])
    await admin.close()


async def _zero(pool, query: str) -> bool:
    return await pool.fetchval(query) == 0


async def _inbox_rows(pool, consumer: str, n: int) -> bool:
    """The consumer's inbox holds ``n`` rows: it has committed the transactions of ``n`` events."""
    return await pool.fetchval("SELECT count(*) FROM inbox WHERE consumer = $1", consumer) >= n


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--concurrency", type=int, default=4, help="CONSUMER_PARTITION_CONCURRENCY")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args()
    configure_logging("bench", args.log_level, "json")
    logging.getLogger().handlers[0].setStream(open(os.devnull, "w"))  # noqa: SIM115
    asyncio.run(main(args.events, args.partitions, args.concurrency))
