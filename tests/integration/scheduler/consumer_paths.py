"""The same records consumed two ways, to prove a service's batch handlers change nothing but speed.

A *lane* is a topic (and a dead-letter topic) of the test's own; a *path* is one consumer group on
it, on a schema of its own migrated with the service's migrations: the batch path takes Kafka's
batches (up to 500 records, partitions applied concurrently) so a partition's run reaches the batch
handlers whole, the per-event path takes one record at a time, which is the consumer's one-record
fallback (one transaction per event, the batch handler given a list of one). A test writes the
same records once, lets both paths drain them, and compares the rows they built.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import asyncpg
from aiokafka import AIOKafkaProducer
from faststream.kafka import KafkaBroker

from shared.consumer import BatchHandler, Delivery, EventConsumer
from shared.contracts.envelope import Envelope
from shared.contracts.events import Event
from shared.db import create_pool, migrate, provision_service
from shared.kafka_admin import read_topic
from shared.outbox import UnitOfWork
from tests.integration.test_batch_delivery import Lane, Sent, caught_up
from tests.support import wait_for


def as_record(event: Event, at: datetime) -> Sent:
    """The record the owning service's relay would write for ``event`` raised at ``at``."""
    subject = event.subject()
    envelope = Envelope.new(
        source=f"/certibus/{event.source_service}", type=event.event_type, subject=subject, time=at
    )
    headers = [(k, v.encode()) for k, v in envelope.to_headers().items()]
    return Sent(event.model_dump_json().encode(), subject.encode(), headers, envelope.id)


async def produce_together(kafka: str, topic: str, *records: Sent) -> None:
    """Write ``records`` so that each partition's share lands as one record batch, which a consumer
    then fetches whole (one run): the producer lingers until all of them are queued."""
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka, enable_idempotence=True, linger_ms=200, max_batch_size=4 * 1024 * 1024
    )
    await producer.start()
    try:
        for r in records:
            await producer.send(topic, value=r.value, key=r.key, headers=r.headers)
        await producer.flush()
    finally:
        await producer.stop()


@dataclass
class ConsumerPath:
    """One consumer group on its own schema; ``handler_calls`` are the events per batch-handler call."""

    consumer: EventConsumer
    broker: KafkaBroker
    pool: asyncpg.Pool
    handler_calls: list[int] = field(default_factory=list)

    async def drained(self, kafka: str, topic: str) -> None:
        await wait_for(lambda: caught_up(kafka, self.consumer.group_id, topic), what=self.consumer.name)

    async def rows(self, table: str, order_by: str) -> list[dict]:
        return [dict(r) for r in await self.pool.fetch(f"SELECT * FROM {table} ORDER BY {order_by}")]


def _counted(handler: BatchHandler, calls: list[int]) -> BatchHandler:
    async def counted(uow: UnitOfWork, deliveries: Sequence[Delivery]) -> None:
        calls.append(len(deliveries))
        await handler(uow, deliveries)

    return counted


@asynccontextmanager
async def consumer_path(
    admin_dsn: str,
    kafka: str,
    lane: Lane,
    migrations: Path,
    register: Callable[[EventConsumer], None],
    *,
    batched: bool,
) -> AsyncIterator[ConsumerPath]:
    """A running consumer of ``lane`` with the service's handlers (``register``) on a fresh schema."""
    schema = f"it_path_{uuid.uuid4().hex[:10]}"
    pool = await create_pool(await provision_service(admin_dsn, schema, "scratch-pw"), schema, 5)
    try:
        async with pool.acquire() as conn:
            await migrate(conn, schema, migrations)
        broker = KafkaBroker(kafka, logger=logging.getLogger("faststream"))
        consumer = EventConsumer(
            service=lane.service,
            name=f"{'batched' if batched else 'per-event'}-{uuid.uuid4().hex[:8]}",
            pool=pool,
            broker=broker,
            retry_max_attempts=2,
            retry_backoff_ms=10,
            batch_max_records=500 if batched else 1,
            partition_concurrency=3 if batched else 1,
        )
        register(consumer)
        path = ConsumerPath(consumer, broker, pool)
        for event_type, handler in list(consumer.batch_handlers.items()):
            consumer.batch_handlers[event_type] = _counted(handler, path.handler_calls)
        consumer.subscribe(lane.topic)
        async with broker:
            await broker.start()
            yield path
    finally:
        await pool.close()


async def parked_ids(kafka: str, lane: Lane) -> list[str]:
    """The event ids of the records on the lane's dead-letter topic, in the order they were parked."""
    return [dict(r.headers)["ce_id"].decode() for r in await read_topic(kafka, lane.dead_letters)]
