"""Transactional outbox: state changes and the events they raise commit together, a relay publishes.

A service never publishes to Kafka from a request or a handler. It writes outbox rows in the same
Postgres transaction as its state change (``UnitOfWork.emit``); ``OutboxRelay`` publishes them in
id order with an idempotent producer and marks them sent. A crash between publishing and marking
republishes the same event ids, which consumers' inboxes ignore.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from datetime import timedelta

import asyncpg
import structlog
from aiokafka import AIOKafkaProducer

from shared.contracts.envelope import Envelope
from shared.contracts.events import Event
from shared.kafka_security import client_options
from shared.metrics import ServiceMetrics

log = structlog.get_logger(__name__)


def event_source(service: str) -> str:
    """The CloudEvents ``source`` of everything a service publishes."""
    return f"/certibus/{service}"


@dataclass
class UnitOfWork:
    """One Postgres transaction plus the events it raises (written to the outbox as they come)."""

    conn: asyncpg.Connection
    service: str

    async def emit(self, event: Event) -> Envelope:
        [envelope] = await self.emit_many([event])
        return envelope

    async def emit_many(self, events: Sequence[Event]) -> list[Envelope]:
        """Like ``emit`` for a batch, in one INSERT (bulk imports raise tens of thousands of events).

        Rows keep the given order (the relay publishes in id order); one statement also fires the
        outbox NOTIFY trigger once.
        """
        if not events:
            return []
        envelopes: list[Envelope] = []
        topics: list[str] = []
        types: list[str] = []
        headers: list[str] = []
        payloads: list[bytes] = []
        for event in events:
            if event.source_service != self.service:
                raise ValueError(
                    f"{self.service} cannot raise {event.event_type}: {event.source_service} owns it"
                )
            envelope = Envelope.new(
                source=event_source(self.service), type=event.event_type, subject=event.subject()
            )
            envelopes.append(envelope)
            topics.append(event.topic)
            types.append(envelope.type)
            headers.append(json.dumps(envelope.to_headers()))
            payloads.append(event.model_dump_json().encode())
        await self.conn.execute(
            "INSERT INTO outbox (event_id, topic, key, event_type, headers, payload)"
            " SELECT e.id, e.topic, e.key, e.type, e.headers::jsonb, e.payload"
            " FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bytea[])"
            " WITH ORDINALITY AS e(id, topic, key, type, headers, payload, n) ORDER BY e.n",
            [e.id for e in envelopes],
            topics,
            [e.subject for e in envelopes],
            types,
            headers,
            payloads,
        )
        return envelopes


@asynccontextmanager
async def unit_of_work(pool: asyncpg.Pool, service: str) -> AsyncIterator[UnitOfWork]:
    """``async with unit_of_work(pool, "scheduler") as uow:`` commits on success, rolls back on error."""
    async with pool.acquire() as conn, conn.transaction():
        yield UnitOfWork(conn, service)


async def prune_published(pool: asyncpg.Pool, older_than: timedelta) -> int:
    """Delete outbox rows published more than ``older_than`` ago; return how many.

    Once published, a row is only a trace (the event lives on in Kafka); unpublished rows are never
    touched, whatever their age.
    """
    status = await pool.execute(
        "DELETE FROM outbox WHERE published_at IS NOT NULL AND published_at < now() - $1::interval",
        older_than,
    )
    return int(status.split()[-1])


AfterPublish = Callable[[list[int]], Awaitable[None]]


class OutboxRelay:
    """Publishes a schema's outbox rows to Kafka in order; one active relay per schema.

    The relay holds a session-level advisory lock on its own connection; a second relay (another
    replica) waits on standby and takes over when the first one's connection goes away. It wakes
    on LISTEN/NOTIFY and also polls, so a missed notification only delays, never loses.
    """

    def __init__(
        self,
        *,
        dsn: str,
        schema: str,
        bootstrap_servers: str,
        batch_size: int = 500,
        poll_seconds: float = 2.0,
        after_publish: AfterPublish | None = None,
        metrics: ServiceMetrics | None = None,
    ) -> None:
        self.dsn = dsn
        self.schema = schema
        self.bootstrap_servers = bootstrap_servers
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.after_publish = after_publish
        #: counts what is published, by event type (the service's registry; a private one if None)
        self.metrics = metrics or ServiceMetrics(schema)
        self.active = False
        self.published = 0
        self._wake = asyncio.Event()

    @property
    def lock_key(self) -> str:
        return f"certibus.outbox.{self.schema}"

    async def run(self) -> None:
        """Run until cancelled; reconnects after database or broker failures."""
        while True:
            try:
                await self._run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                self.active = False
                log.exception("outbox relay failed; restarting", schema=self.schema)
                await asyncio.sleep(self.poll_seconds)

    async def _run_once(self) -> None:
        conn = await asyncpg.connect(self.dsn, server_settings={"search_path": self.schema})
        producer = AIOKafkaProducer(
            **client_options(self.bootstrap_servers),
            enable_idempotence=True,
            acks="all",
            linger_ms=5,
            client_id=f"certibus-{self.schema}-relay",
        )
        try:
            while not await conn.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", self.lock_key):
                self.active = False
                await asyncio.sleep(self.poll_seconds)
            self.active = True
            log.info("outbox relay active", schema=self.schema)
            await conn.add_listener(f"certibus_outbox_{self.schema}", lambda *_: self._wake.set())
            await producer.start()
            while True:
                self._wake.clear()  # before reading: a NOTIFY that arrives during the batch is kept
                sent = await self.publish_batch(conn, producer)
                if sent < self.batch_size:
                    await self._sleep_until_woken()
        finally:
            self.active = False
            await producer.stop()
            await conn.close()

    async def _sleep_until_woken(self) -> None:
        """Until a NOTIFY or ``poll_seconds``. ``asyncio.timeout``, not ``wait_for``: on Python 3.11
        ``wait_for`` swallows a cancellation that arrives as the event is set, and the relay would
        then never stop."""
        with suppress(TimeoutError):
            async with asyncio.timeout(self.poll_seconds):
                await self._wake.wait()

    async def publish_batch(self, conn: asyncpg.Connection, producer: AIOKafkaProducer) -> int:
        """Publish the oldest unsent rows, in id order, then mark them sent; return how many.

        When a row cannot be published, the rows before it that were delivered are marked sent and
        the error is raised: the relay restarts from that row, so it neither republishes the whole
        batch forever nor lets later rows overtake it.
        """
        rows = await conn.fetch(
            "SELECT id, topic, key, event_type, headers, payload FROM outbox WHERE published_at IS NULL"
            " ORDER BY id LIMIT $1",
            self.batch_size,
        )
        if not rows:
            return 0
        deliveries = []
        failure: BaseException | None = None
        for row in rows:
            headers = row["headers"]
            if isinstance(headers, str):
                headers = json.loads(headers)
            try:
                deliveries.append(
                    await producer.send(
                        row["topic"],
                        value=bytes(row["payload"]),
                        key=row["key"].encode(),
                        headers=[(k, v.encode()) for k, v in headers.items()],
                    )
                )
            except Exception as exc:  # refused before sending (too large, unknown topic): stop here
                failure = exc
                break
        delivered = 0
        for outcome in await asyncio.gather(*deliveries, return_exceptions=True):
            if isinstance(outcome, BaseException):
                failure = outcome
                break
            delivered += 1
        ids = [row["id"] for row in rows[:delivered]]
        if ids:
            if self.after_publish is not None:
                await self.after_publish(ids)
            await conn.execute("UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])", ids)
            self.published += len(ids)
            self.metrics.count_published(row["event_type"] for row in rows[:delivered])
            log.debug("outbox rows published", schema=self.schema, count=len(ids))
        if failure is not None:
            stuck = rows[delivered]
            log.error(
                "outbox row not published; later rows wait for it",
                schema=self.schema,
                outbox_id=stuck["id"],
                event_type=stuck["event_type"],
                error=f"{type(failure).__name__}: {failure}",
            )
            raise failure
        return len(ids)
