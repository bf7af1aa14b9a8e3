"""Consuming events effectively once, in batches: inbox, retries with backoff, dead letters, offsets.

Records arrive in batches (FastStream's batch subscriber: up to ``batch_max_records`` at a time).
Each partition's run of records is applied in **one** Postgres transaction: the inbox rows
``(consumer, event id)`` of the whole run go in with one statement that returns the ones not seen
before, then the handlers of those fresh events run in offset order on the same connection, so a
redelivered event finds its inbox row and changes nothing. Kafka offsets are committed only after
that transaction. A service may register a *batch handler* for an event type, which receives the
consecutive fresh events of that type at once and can apply them with set-based SQL.

A run whose transaction fails is rolled back and handled again record by record, as before batching:
one transaction per record, retried ``retry_max_attempts`` times with exponential backoff, then sent
to the service's dead-letter topic with headers naming where it came from and why; the good records
of the run are applied once and only the failing one is parked. Records whose envelope or payload
does not parse, or whose ``ce_type`` no contract knows (shared/contracts/events.py), are parked
straight away and never fail the run; a known type this consumer has no handler for is another
consumer's and is skipped. A database outage spends no
attempt: the partition waits for PostgreSQL (shared/health.py). See docs/adr/0006.

This module is the flow (batches, runs, retries, offsets, shutdown); the inbox statements are in
shared/inbox.py and the dead-letter publishing in shared/dead_letters.py. Past 400 lines on purpose:
the flow's invariants (what is committed when) only hold when read as one.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import structlog
from aiokafka import ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.structs import OffsetAndMetadata
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.kafka.message import FAKE_CONSUMER, KafkaAckableMessage
from pydantic import ValidationError

from shared.contracts.envelope import Envelope, EnvelopeError
from shared.contracts.events import EVENT_TYPES, Event
from shared.dead_letters import dead_letter_headers, describe, park, validation_summary
from shared.health import is_database_unavailable
from shared.inbox import Delivery, Received, record_one, record_run
from shared.metrics import APPLIED, DEAD_LETTERED, DUPLICATE, RETRIED, UNKNOWN_TYPE, ServiceMetrics
from shared.outbox import UnitOfWork

log = structlog.get_logger(__name__)

__all__ = ["AfterCommit", "BatchHandler", "Delivery", "EventConsumer", "Handler", "PermanentError"]


#: applies one event: ``handler(uow, event, envelope)``
Handler = Callable[[UnitOfWork, Any, Envelope], Awaitable[None]]
#: applies consecutive fresh events of one type, in offset order: ``handler(uow, deliveries)``
BatchHandler = Callable[[UnitOfWork, Sequence[Delivery]], Awaitable[None]]
AfterCommit = Callable[[Envelope, ConsumerRecord], Awaitable[None]]


class PermanentError(Exception):
    """A failure that retrying cannot fix (the event contradicts this service's state): dead-letter now."""


async def _batch_message(records: tuple[ConsumerRecord, ...]) -> KafkaAckableMessage:
    """FastStream's message for a batch, its body the records themselves.

    FastStream's own parser decodes every record's headers into dicts (work done again by the
    envelope parser) and fails the whole batch on a header that is not UTF-8; here the envelope
    parser alone reads them, and dead-letters such a record without failing the others.
    """
    first, last = records[0], records[-1]
    return KafkaAckableMessage(  # what FastStream builds for a manually acknowledged batch
        raw_message=records,
        body=records,
        message_id=f"{first.offset}-{last.offset}-{first.timestamp}",
        consumer=FAKE_CONSUMER,
    )


def _records(msg: KafkaAckableMessage) -> tuple[ConsumerRecord, ...]:
    """Keep the records: events are parsed by their ``ce_type``, not by FastStream's decoder."""
    return msg.body


@dataclass
class EventConsumer:
    """One consumer group of one service: handlers by event class, run in batches with inbox and retries."""

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
    #: records taken from Kafka at once (at most), and how long to wait for some when none are there
    batch_max_records: int = 500
    batch_timeout_ms: int = 50
    #: partitions of one batch applied at the same time, each on its own connection (order per
    #: partition kept); 1 unless the service declared its handlers independent across partitions
    partition_concurrency: int = 1
    #: at shutdown, how long ``close`` lets a record in flight finish before the broker cancels it
    shutdown_grace_seconds: float = 10.0
    group_prefix: str = "certibus"
    topics: tuple[str, ...] = ()
    handlers: dict[str, Handler] = field(default_factory=dict)
    batch_handlers: dict[str, BatchHandler] = field(default_factory=dict)
    processed: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    #: where outcomes, latencies and lag are recorded (the service's registry; a private one if None)
    metrics: ServiceMetrics | None = None
    _pending: dict[TopicPartition, int] = field(default_factory=dict, repr=False)
    _handled_to: dict[TopicPartition, int] = field(default_factory=dict, repr=False)
    _handled_since_commit: int = field(default=0, repr=False)
    _kafka_consumer: Any = field(default=None, repr=False)
    _flusher: asyncio.Task | None = field(default=None, repr=False)
    _subscriber: Any = field(default=None, repr=False)
    _closing: bool = field(default=False, repr=False)
    _idle: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    def __post_init__(self) -> None:
        self._idle.set()
        if self.metrics is None:
            self.metrics = ServiceMetrics(self.service)
        self._metrics: ServiceMetrics = self.metrics

    @property
    def group_id(self) -> str:
        return f"{self.group_prefix}.{self.service}.{self.name}"

    @property
    def inbox_consumer(self) -> str:
        return self.group_id

    def on(self, event_cls: type[Event], handler: Handler) -> None:
        """Apply each event of this class with ``handler(uow, event, envelope)``."""
        self.batch_handlers.pop(event_cls.event_type, None)
        self.handlers[event_cls.event_type] = handler

    def on_batch(self, event_cls: type[Event], handler: BatchHandler) -> None:
        """Apply consecutive events of this class together with ``handler(uow, deliveries)``.

        ``deliveries`` are the fresh events of one partition's run, in offset order, all in the
        transaction that records them in the inbox; when a record has to be retried alone, the
        handler gets a list of one.
        """

        async def one_at_a_time(uow: UnitOfWork, event: Any, envelope: Envelope) -> None:
            await handler(uow, [Delivery(event, envelope)])

        self.handlers[event_cls.event_type] = one_at_a_time
        self.batch_handlers[event_cls.event_type] = handler

    def subscribe(self, *topics: str) -> None:
        """Register the FastStream batch subscriber; offsets are committed by us, after the transaction."""
        self.topics = topics
        self._subscriber = subscriber = self.broker.subscriber(
            *topics,
            batch=True,
            max_records=self.batch_max_records,
            batch_timeout_ms=self.batch_timeout_ms,
            group_id=self.group_id,
            auto_offset_reset="earliest",
            ack_policy=AckPolicy.MANUAL,
            parser=_batch_message,
            decoder=_records,
            listener=_CommitOnRevoke(self),
            title=f"{self.group_id}:{','.join(topics)}",
            description="Handles " + ", ".join(sorted(self.handlers)) + " (CloudEvents binary mode).",
        )
        subscriber(self._on_batch)

    async def _on_batch(self, body: Any, msg: KafkaMessage) -> None:
        if self._closing:
            return  # shutting down: not handled, not committed, redelivered after the restart
        records: tuple[ConsumerRecord, ...] = msg.raw_message  # type: ignore[assignment]
        self._kafka_consumer = self._subscriber.consumer
        self._idle.clear()
        try:
            await self.handle_batch(records)  # raises only on cancellation (shutdown): no commit then
        finally:
            self._idle.set()
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_periodically(), name=f"commit-{self.group_id}")
        if self._handled_since_commit >= self.commit_every:
            await self.commit_handled()

    async def handle_batch(self, records: Sequence[ConsumerRecord]) -> None:
        """Handle records as Kafka hands them over, then mark their offsets ready to commit.

        Each partition's run is handled in order; runs of different partitions one after the other,
        or ``partition_concurrency`` at a time. A run is marked only once all of it is handled, so a
        shutdown in the middle leaves the rest for the next start.
        """
        started = time.perf_counter()
        runs: dict[TopicPartition, list[ConsumerRecord]] = {}
        for record in records:
            runs.setdefault(TopicPartition(record.topic, record.partition), []).append(record)
        limit = asyncio.Semaphore(self.partition_concurrency)

        async def handle(partition: TopicPartition, run: list[ConsumerRecord]) -> None:
            async with limit:
                if self._closing:
                    return
                await self._handle_run(run)
                self._pending[partition] = self._handled_to[partition] = run[-1].offset + 1
                self._handled_since_commit += len(run)

        if self.partition_concurrency == 1 or len(runs) == 1:
            for partition, run in runs.items():
                await handle(partition, run)
        else:
            await asyncio.gather(*(handle(partition, run) for partition, run in runs.items()))
        self._metrics.observe_batch(self.group_id, time.perf_counter() - started)
        if self._kafka_consumer is not None:  # the fetch brought the high-water marks: no round trip
            for tp in runs:
                if (high := self._kafka_consumer.highwater(tp)) is not None and tp in self._handled_to:
                    self._metrics.set_lag(self.group_id, tp.topic, tp.partition, high - self._handled_to[tp])

    async def lag(self) -> dict[tuple[str, int], int]:
        """Lag of each partition this member owns: high-water mark minus what it handled (sampled at
        scrape; the fetch position where nothing was handled yet; unknown high-water marks left out)."""
        consumer = self._kafka_consumer or getattr(self._subscriber, "consumer", None)
        lags: dict[tuple[str, int], int] = {}
        for tp in consumer.assignment() if consumer is not None else ():
            if (high := consumer.highwater(tp)) is None:
                continue
            position = self._handled_to.get(tp)
            if position is None:
                try:
                    async with asyncio.timeout(1):
                        position = await consumer.position(tp)
                except Exception:
                    continue
            lags[(tp.topic, tp.partition)] = max(high - position, 0)
        return lags

    async def _handle_run(self, run: list[ConsumerRecord]) -> None:
        """One partition's consecutive records: one transaction, or record by record if it fails."""
        items = [item for record in run if (item := await self._decode(record)) is not None]
        if len(items) > 1:
            try:
                fresh = await self._apply_run(items)
            except Exception as exc:  # rolled back: find the culprit one record at a time
                log.warning(
                    "batch failed; handling its records one by one",
                    topic=run[0].topic,
                    partition=run[0].partition,
                    records=len(items),
                    error=describe(exc),
                )
            else:
                await self._after_run(items, fresh)
                return
        for item in items:
            with _context(item.record, item.envelope):
                await self._run_with_retries(item)

    async def _decode(self, record: ConsumerRecord) -> Received | None:
        """The record's envelope and event; None when it is not ours or was dead-lettered as malformed."""
        try:
            envelope = Envelope.from_headers(record.headers or [])
        except EnvelopeError as exc:
            with _context(record):
                await self._dead_letter(record, f"envelope: {exc}", attempts=0)
            return None
        if envelope.type not in self.handlers:
            if envelope.type in EVENT_TYPES:
                return None  # another consumer's event on a shared topic
            with _context(record, envelope):  # no contract: a producer ahead of us, or a stray record
                await self._dead_letter(record, f"envelope: unknown event type {envelope.type!r}", attempts=0)
            return None
        try:
            event = EVENT_TYPES[envelope.type].model_validate_json(record.value)
        except ValidationError as exc:
            with _context(record, envelope):
                await self._dead_letter(
                    record, f"payload: {validation_summary(exc)}", attempts=0, event_type=envelope.type
                )
            return None
        return Received(record, envelope, event)

    async def _apply_run(self, items: list[Received]) -> list[Received]:
        """The run's inbox rows in one statement, then the fresh events' handlers; returns the fresh."""
        async with self.pool.acquire() as conn, conn.transaction():
            fresh = await record_run(conn, self.inbox_consumer, items)
            await self._run_handlers(UnitOfWork(conn, self.service), fresh)
        return fresh

    async def _run_handlers(self, uow: UnitOfWork, fresh: list[Received]) -> None:
        """Handlers in offset order; consecutive events of a type with a batch handler go together."""
        for event_type, same_type in itertools.groupby(fresh, key=lambda item: item.envelope.type):
            batch_handler = self.batch_handlers.get(event_type)
            if batch_handler is not None:
                started = time.perf_counter()
                await batch_handler(uow, [Delivery(item.event, item.envelope) for item in same_type])
                self._metrics.observe_handler(self.group_id, event_type, time.perf_counter() - started)
                continue
            handler = self.handlers[event_type]
            try:
                for item in same_type:  # the handler's log lines name its event (bound cheaply)
                    structlog.contextvars.bind_contextvars(
                        event_id=item.envelope.id, event_type=event_type, subject=item.envelope.subject
                    )
                    started = time.perf_counter()
                    await handler(uow, item.event, item.envelope)
                    self._metrics.observe_handler(self.group_id, event_type, time.perf_counter() - started)
            finally:
                structlog.contextvars.unbind_contextvars("event_id", "event_type", "subject")

    async def _after_run(self, items: list[Received], fresh: list[Received]) -> None:
        """Count and log a committed run (one line, plus one per duplicate), then ``after_commit``."""
        fresh_records = {id(item) for item in fresh}
        outcomes: dict[tuple[str, str], int] = {}  # one increment per (type, outcome) of the run
        for item in items:
            outcome = APPLIED if id(item) in fresh_records else DUPLICATE
            key = (item.envelope.type, outcome)
            outcomes[key] = outcomes.get(key, 0) + 1
            if outcome == DUPLICATE:
                with _context(item.record, item.envelope):
                    log.info("duplicate event ignored")
        for (event_type, outcome), count in outcomes.items():
            self._metrics.count_events(self.group_id, event_type, outcome, count)
        self.processed += len(fresh)
        self.duplicates += len(items) - len(fresh)
        log.info(
            "events handled",
            topic=items[0].record.topic,
            partition=items[0].record.partition,
            first_offset=items[0].record.offset,
            last_offset=items[-1].record.offset,
            events=len(fresh),
            duplicates=len(items) - len(fresh),
        )
        if self.after_commit is not None:
            for item in items:
                await self.after_commit(item.envelope, item.record)

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
            log.warning("offset commit failed; will retry", error=describe(exc))

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
        """One record alone, everything but the offset commit (the path a failed batch falls back to)."""
        item = await self._decode(record)
        if item is not None:
            with _context(record, item.envelope):
                await self._run_with_retries(item)

    async def _run_with_retries(self, item: Received) -> None:
        record, envelope = item.record, item.envelope
        delay = self.retry_backoff_ms / 1000
        attempt = 0
        while attempt < self.retry_max_attempts:
            attempt += 1
            try:
                fresh = await self._apply(item)
            except PermanentError as exc:
                await self._dead_letter(record, describe(exc), attempts=attempt, event_type=envelope.type)
                return
            except Exception as exc:
                if is_database_unavailable(exc):  # not the record's fault: wait, spend no attempt
                    attempt -= 1
                    self._metrics.count_events(self.group_id, envelope.type, RETRIED)
                    log.warning("database unavailable; the partition waits", error=describe(exc))
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, self.retry_backoff_max_ms / 1000)
                    continue
                if attempt == self.retry_max_attempts:
                    log.error("handler failed; dead-lettering", attempts=attempt, error=describe(exc))
                    await self._dead_letter(record, describe(exc), attempts=attempt, event_type=envelope.type)
                    return
                log.warning("handler failed; retrying", attempt=attempt, error=describe(exc))
                self._metrics.count_events(self.group_id, envelope.type, RETRIED)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.retry_backoff_max_ms / 1000)
                continue
            self._metrics.count_events(self.group_id, envelope.type, APPLIED if fresh else DUPLICATE)
            if fresh:
                self.processed += 1
                log.info("event handled")
            else:
                self.duplicates += 1
                log.info("duplicate event ignored")
            if self.after_commit is not None:
                await self.after_commit(envelope, record)
            return

    async def _apply(self, item: Received) -> bool:
        """The handler's effects and the inbox row in one transaction; False for a duplicate."""
        async with self.pool.acquire() as conn, conn.transaction():
            if not await record_one(conn, self.inbox_consumer, item):
                return False
            started = time.perf_counter()
            await self.handlers[item.envelope.type](UnitOfWork(conn, self.service), item.event, item.envelope)
            self._metrics.observe_handler(self.group_id, item.envelope.type, time.perf_counter() - started)
            return True

    async def _dead_letter(
        self, record: ConsumerRecord, error: str, attempts: int, event_type: str = UNKNOWN_TYPE
    ) -> None:
        headers = dead_letter_headers(record, error, self.group_id, attempts)
        await park(
            self.broker, self.service, record, headers, self.retry_backoff_ms, self.retry_backoff_max_ms
        )
        self.dead_lettered += 1
        self._metrics.count_events(self.group_id, event_type, DEAD_LETTERED)
        log.error("event dead-lettered", error=error[:500], attempts=attempts)


class _CommitOnRevoke(ConsumerRebalanceListener):
    """Before a rebalance takes partitions away, commit what was handled on them (they may move)."""

    def __init__(self, consumer: EventConsumer) -> None:
        self.consumer = consumer

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self.consumer.commit_handled(set(revoked))
        for tp in revoked:  # if it comes back, its lag is measured from the fetch position again
            self.consumer._handled_to.pop(tp, None)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        # one line per rebalance: which replica holds which partitions (e.g. after one is lost)
        log.info(
            "partitions assigned",
            group=self.consumer.group_id,
            partitions=sorted(f"{tp.topic}:{tp.partition}" for tp in assigned),
        )


def _context(record: ConsumerRecord, envelope: Envelope | None = None) -> AbstractContextManager:
    """Log context of one record (and its event once the envelope is known)."""
    where: dict[str, Any] = {"topic": record.topic, "partition": record.partition, "offset": record.offset}
    if envelope is not None:
        where |= {"event_id": envelope.id, "event_type": envelope.type, "subject": envelope.subject}
    return structlog.contextvars.bound_contextvars(**where)
