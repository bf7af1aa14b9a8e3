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
from aiokafka import ConsumerRebalanceListener, ConsumerRecord, TopicPartition
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
    #: at shutdown, how long ``close`` lets a record in flight finish before the broker cancels it
    shutdown_grace_seconds: float = 10.0
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
    _subscriber: Any = field(default=None, repr=False)
    _closing: bool = field(default=False, repr=False)
    _idle: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    def __post_init__(self) -> None:
        self._idle.set()

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
        self._subscriber = subscriber = self.broker.subscriber(
            *topics,
            group_id=self.group_id,
            auto_offset_reset="earliest",
            ack_policy=AckPolicy.MANUAL,
            decoder=_raw_body,
            listener=_CommitOnRevoke(self),
            title=f"{self.group_id}:{','.join(topics)}",
            description="Handles " + ", ".join(sorted(self.handlers)) + " (CloudEvents binary mode).",
        )
        subscriber(self._on_record)

    async def _on_record(self, body: Any, msg: KafkaMessage) -> None:
        if self._closing:
            return  # shutting down: not handled, not committed, redelivered after the restart
        record: ConsumerRecord = msg.raw_message  # type: ignore[assignment]
        self._idle.clear()
        try:
            await self.handle_record(record)  # raises only on cancellation (shutdown): no commit then
        finally:
            self._idle.set()
        self._kafka_consumer = msg.consumer
        self._pending[TopicPartition(record.topic, record.partition)] = record.offset + 1
        self._handled_since_commit += 1
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_periodically(), name=f"commit-{self.group_id}")
        if self._handled_since_commit >= self.commit_every:
            await self.commit_handled()

    async def commit_handled(self, partitions: set[TopicPartition] | None = None) -> None:
        """Commit the offsets of records already handled (never of one still in flight).

        Committing explicit offsets, batched, instead of the consumer's position after every record:
        a crash between two commits only redelivers handled records, which the inbox drops. Only
        partitions this member still owns are committed (a late commit of a partition handed to
        another member could move its offset back); when the commit fails, the offsets stay pending
        for the next one. ``partitions`` restricts the commit to those (a rebalance revoking them).
        """
        consumer = self._kafka_consumer
        if not self._pending or consumer is None:
            return
        owned = consumer.assignment()
        offsets = {
            tp: o
            for tp, o in self._pending.items()
            if tp in owned and (partitions is None or tp in partitions)
        }
        for tp in list(self._pending):
            if tp not in owned:  # revoked: its new owner resumes from the last commit, inbox dedups
                del self._pending[tp]
        for tp in offsets:
            del self._pending[tp]
        self._handled_since_commit = 0
        if not offsets:
            return
        try:
            await consumer.commit({tp: OffsetAndMetadata(o, "") for tp, o in offsets.items()})
        except Exception as exc:
            for tp, o in offsets.items():  # keep them (unless a newer record of tp is pending already)
                self._pending[tp] = max(o, self._pending.get(tp, o))
            log.warning("offset commit failed; will retry", error=_describe(exc))

    async def close(self) -> None:
        """Stop handling, let the record in flight finish (bounded), commit what was handled.

        Called before the broker stops (which cancels whatever is still running); records that
        arrive meanwhile are left for the next start.
        """
        self._closing = True
        try:  # asyncio.timeout: on Python 3.11, wait_for can swallow a cancellation
            async with asyncio.timeout(self.shutdown_grace_seconds):
                await self._idle.wait()
        except TimeoutError:
            log.warning("a record was still in flight at shutdown; it will be redelivered")
        if self._flusher is not None:
            self._flusher.cancel()
            await asyncio.gather(self._flusher, return_exceptions=True)
            self._flusher = None
        await self.commit_handled()

    async def _flush_periodically(self) -> None:
        """Commit every ``commit_interval_ms`` while the subscriber runs (ends when the broker stops)."""
        while self._subscriber is None or self._subscriber.running:
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
                await self._dead_letter(record, f"payload: {_validation_summary(exc)}", attempts=0)
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
        delay = max(self.retry_backoff_ms, 100) / 1000
        while True:  # until it is parked: moving on would commit past a record nobody has
            try:
                await self.broker.publish(
                    record.value,
                    topic=dead_letter_topic(self.service),
                    key=record.key,
                    headers=headers,
                )
                break
            except Exception as exc:
                log.error("dead-letter publish failed; the partition waits", error=_describe(exc))
                await asyncio.sleep(delay)
                delay = min(delay * 2, max(self.retry_backoff_max_ms, 100) / 1000)
        self.dead_lettered += 1
        log.error("event dead-lettered", error=error[:500], attempts=attempts)


class _CommitOnRevoke(ConsumerRebalanceListener):
    """Before a rebalance takes partitions away, commit what was handled on them (they may move)."""

    def __init__(self, consumer: EventConsumer) -> None:
        self.consumer = consumer

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self.consumer.commit_handled(set(revoked))

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        pass


def _validation_summary(exc: ValidationError) -> str:
    """Where and why a payload is invalid, without the input values (names, INE, birth dates)."""
    errors = exc.errors(include_url=False, include_input=False, include_context=False)
    return f"{len(errors)} validation error(s): " + "; ".join(
        f"{'.'.join(map(str, e['loc'])) or '(root)'}: {e['msg']}" for e in errors
    )


def _describe(exc: BaseException) -> str:
    last = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
    where = f" at {last[0].filename}:{last[0].lineno}" if last else ""
    text = _validation_summary(exc) if isinstance(exc, ValidationError) else str(exc)
    return f"{type(exc).__name__}: {text}{where}"
