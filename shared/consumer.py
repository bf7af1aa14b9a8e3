"""Consuming events effectively once: inbox, retries with backoff, dead letters, manual offsets.

For every record: parse the CloudEvents envelope and the event model, then run the handler in a
Postgres transaction that also records ``(consumer, event id)`` in the inbox; a redelivered event
finds its inbox row and changes nothing. The Kafka offset is committed only after that
transaction. A handler that keeps failing is retried ``retry_max_attempts`` times with exponential
backoff, then the record goes to the service's dead-letter topic with headers naming where it came
from and why, and the partition moves on.
"""

from __future__ import annotations

import asyncio
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import structlog
from aiokafka import ConsumerRecord, TopicPartition
from aiokafka.structs import OffsetAndMetadata
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pydantic import ValidationError

from shared.contracts.envelope import Envelope, EnvelopeError
from shared.contracts.events import EVENT_TYPES, Event
from shared.contracts.topics import dead_letter_topic
from shared.outbox import UnitOfWork

log = structlog.get_logger(__name__)

Handler = Callable[[UnitOfWork, Any, Envelope], Awaitable[None]]
AfterCommit = Callable[[Envelope, ConsumerRecord], Awaitable[None]]

DLQ_HEADERS = (
    "dlq_original_topic",
    "dlq_original_partition",
    "dlq_original_offset",
    "dlq_error",
    "dlq_consumer",
    "dlq_attempts",
)


class PermanentError(Exception):
    """A failure that retrying cannot fix (the event contradicts this service's state): dead-letter now."""


def _raw_body(msg: Any) -> bytes:
    """Keep the record's bytes: events are parsed by their ``ce_type``, not by FastStream's decoder."""
    return msg.body


@dataclass
class EventConsumer:
    """One consumer group of one service: handlers by event class, run with inbox and retries."""

    service: str
    name: str
    pool: asyncpg.Pool
    broker: KafkaBroker
    retry_max_attempts: int = 5
    retry_backoff_ms: int = 200
    retry_backoff_max_ms: int = 5000
    after_commit: AfterCommit | None = None
    #: offsets are committed after this many handled records, or this often, whichever comes first
    commit_every: int = 100
    commit_interval_ms: int = 200
    group_prefix: str = "certibus"
    topics: tuple[str, ...] = ()
    handlers: dict[str, Handler] = field(default_factory=dict)
    processed: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    _pending: dict[TopicPartition, int] = field(default_factory=dict, repr=False)
    _handled_since_commit: int = field(default=0, repr=False)
    _kafka_consumer: Any = field(default=None, repr=False)
    _flusher: asyncio.Task | None = field(default=None, repr=False)

    @property
    def group_id(self) -> str:
        return f"{self.group_prefix}.{self.service}.{self.name}"

    @property
    def inbox_consumer(self) -> str:
        return self.group_id

    def on(self, event_cls: type[Event], handler: Handler) -> None:
        self.handlers[event_cls.event_type] = handler

    def subscribe(self, *topics: str) -> None:
        """Register the FastStream subscriber; offsets are committed by us, after the transaction."""
        self.topics = topics
        subscriber = self.broker.subscriber(
            *topics,
            group_id=self.group_id,
            auto_offset_reset="earliest",
            ack_policy=AckPolicy.MANUAL,
            decoder=_raw_body,
            title=f"{self.group_id}:{','.join(topics)}",
            description="Handles " + ", ".join(sorted(self.handlers)) + " (CloudEvents binary mode).",
        )
        subscriber(self._on_record)

    async def _on_record(self, body: Any, msg: KafkaMessage) -> None:
        record: ConsumerRecord = msg.raw_message  # type: ignore[assignment]
        await self.handle_record(record)  # raises only if even dead-lettering failed: no commit then
        self._kafka_consumer = msg.consumer
        self._pending[TopicPartition(record.topic, record.partition)] = record.offset + 1
        self._handled_since_commit += 1
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush_periodically(), name=f"commit-{self.group_id}")
        if self._handled_since_commit >= self.commit_every:
            await self.commit_handled()

    async def commit_handled(self) -> None:
        """Commit the offsets of records already handled (never of one still in flight).

        Committing explicit offsets, batched, instead of the consumer's position after every record:
        a crash between two commits only redelivers handled records, which the inbox drops.
        """
        if not self._pending or self._kafka_consumer is None:
            return
        offsets, self._pending = self._pending, {}
        self._handled_since_commit = 0
        try:
            await self._kafka_consumer.commit({tp: OffsetAndMetadata(o, "") for tp, o in offsets.items()})
        except Exception as exc:  # a rebalance took the partition: its new owner resumes, inbox dedups
            log.warning("offset commit failed; records will be redelivered", error=_describe(exc))

    async def close(self) -> None:
        """Stop the periodic commit and commit what was handled (before the broker stops)."""
        if self._flusher is not None:
            self._flusher.cancel()
            await asyncio.gather(self._flusher, return_exceptions=True)
            self._flusher = None
        await self.commit_handled()

    async def _flush_periodically(self) -> None:
        while True:
            await asyncio.sleep(self.commit_interval_ms / 1000)
            await self.commit_handled()

    async def handle_record(self, record: ConsumerRecord) -> None:
        """Everything but the offset commit, so it can be exercised on a record directly."""
        structlog.contextvars.bind_contextvars(
            topic=record.topic, partition=record.partition, offset=record.offset
        )
        try:
            try:
                envelope = Envelope.from_headers(record.headers or [])
            except EnvelopeError as exc:
                await self._dead_letter(record, f"envelope: {exc}", attempts=0)
                return
            structlog.contextvars.bind_contextvars(
                event_id=envelope.id, event_type=envelope.type, subject=envelope.subject
            )
            handler = self.handlers.get(envelope.type)
            if handler is None:
                return  # another consumer's event on a shared topic
            try:
                event = EVENT_TYPES[envelope.type].model_validate_json(record.value)
            except ValidationError as exc:
                await self._dead_letter(record, f"payload: {exc}", attempts=0)
                return
            await self._run_with_retries(record, envelope, event, handler)
        finally:
            structlog.contextvars.unbind_contextvars(
                "topic", "partition", "offset", "event_id", "event_type", "subject"
            )

    async def _run_with_retries(
        self, record: ConsumerRecord, envelope: Envelope, event: Event, handler: Handler
    ) -> None:
        delay = self.retry_backoff_ms / 1000
        for attempt in range(1, self.retry_max_attempts + 1):
            try:
                fresh = await self._apply(record, envelope, event, handler)
            except PermanentError as exc:
                await self._dead_letter(record, _describe(exc), attempts=attempt)
                return
            except Exception as exc:
                if attempt == self.retry_max_attempts:
                    log.error("handler failed; dead-lettering", attempts=attempt, error=_describe(exc))
                    await self._dead_letter(record, _describe(exc), attempts=attempt)
                    return
                log.warning("handler failed; retrying", attempt=attempt, error=_describe(exc))
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.retry_backoff_max_ms / 1000)
                continue
            if fresh:
                self.processed += 1
                log.info("event handled")
            else:
                self.duplicates += 1
                log.info("duplicate event ignored")
            if self.after_commit is not None:
                await self.after_commit(envelope, record)
            return

    async def _apply(
        self, record: ConsumerRecord, envelope: Envelope, event: Event, handler: Handler
    ) -> bool:
        """The handler's effects and the inbox row in one transaction; False for a duplicate."""
        async with self.pool.acquire() as conn, conn.transaction():
            fresh = await conn.fetchval(
                "INSERT INTO inbox (consumer, event_id, event_type, topic, kafka_partition, kafka_offset)"
                " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING true",
                self.inbox_consumer,
                envelope.id,
                envelope.type,
                record.topic,
                record.partition,
                record.offset,
            )
            if not fresh:
                return False
            await handler(UnitOfWork(conn, self.service), event, envelope)
            return True

    async def _dead_letter(self, record: ConsumerRecord, error: str, attempts: int) -> None:
        headers = {
            k: (v.decode(errors="replace") if isinstance(v, bytes) else v) for k, v in record.headers or []
        }
        headers.update(
            {
                "dlq_original_topic": record.topic,
                "dlq_original_partition": str(record.partition),
                "dlq_original_offset": str(record.offset),
                "dlq_error": error[:4000],
                "dlq_consumer": self.group_id,
                "dlq_attempts": str(attempts),
            }
        )
        await self.broker.publish(
            record.value,
            topic=dead_letter_topic(self.service),
            key=record.key,
            headers=headers,
        )
        self.dead_lettered += 1
        log.error("event dead-lettered", error=error[:500], attempts=attempts)


def _describe(exc: BaseException) -> str:
    last = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
    where = f" at {last[0].filename}:{last[0].lineno}" if last else ""
    return f"{type(exc).__name__}: {exc}{where}"
