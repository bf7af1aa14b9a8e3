"""Batch consumption on real Kafka and Postgres: one transaction per partition's run, nothing twice.

Each test writes its records straight to a topic of its own (and has a dead-letter topic of its
own) before the consumer starts, so the consumer's first fetch hands them over as one batch; the
test checks that the batch was one batch and one transaction where it says so (the effects' xmin),
and that duplicates, poison records, malformed records and crashes change nothing twice.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import NamedTuple

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from faststream.kafka import KafkaBroker
from prometheus_client.parser import text_string_to_metric_families

from shared.consumer import Delivery, EventConsumer
from shared.contracts.envelope import Envelope
from shared.contracts.events import SessionUpdated
from shared.contracts.topics import TopicSpec, dead_letter_topic
from shared.kafka_admin import ensure_topics, group_lag, read_topic
from shared.outbox import UnitOfWork
from tests.integration.harness.processes import record_effect
from tests.support import session_update, wait_for

pytestmark = pytest.mark.integration


class Sent(NamedTuple):
    """A record as the test writes it to Kafka."""

    value: bytes
    key: bytes
    headers: list[tuple[str, bytes]]
    event_id: str


def sent(subject: str, marker: str) -> Sent:
    event = session_update(subject, marker)
    envelope = Envelope.new(source="/certibus/scheduler", type=event.event_type, subject=subject)
    headers = [(k, v.encode()) for k, v in envelope.to_headers().items()]
    return Sent(event.model_dump_json().encode(), subject.encode(), headers, envelope.id)


class Lane(NamedTuple):
    """A topic and a dead-letter topic of the test's own; ``service`` names the consumer's DLQ."""

    topic: str
    service: str

    @property
    def dead_letters(self) -> str:
        return dead_letter_topic(self.service)


@pytest.fixture
async def lane(kafka, request) -> AsyncIterator[Lane]:
    partitions = getattr(request, "param", 1)
    tag = uuid.uuid4().hex[:8]
    lane = Lane(f"certibus.it.batch.{tag}", f"batch{tag}")
    await ensure_topics(
        kafka, [TopicSpec(lane.topic, partitions, 3_600_000), TopicSpec(lane.dead_letters, 1, 3_600_000)]
    )
    yield lane
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka)
    await admin.start()
    await admin.delete_topics([lane.topic, lane.dead_letters])
    await admin.close()


async def produce(kafka: str, topic: str, *records: Sent) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=kafka, enable_idempotence=True)
    await producer.start()
    try:
        for r in records:
            await producer.send(topic, value=r.value, key=r.key, headers=r.headers)
        await producer.flush()
    finally:
        await producer.stop()


async def record_effects(uow: UnitOfWork, deliveries: Sequence[Delivery]) -> None:
    """The batch handler under test: the run's effects in one INSERT, in the order given."""
    if any("poison" in d.event.changed_fields for d in deliveries):
        raise RuntimeError("this event always fails")
    await uow.conn.execute(
        "INSERT INTO effects (event_id, subject, marker)"
        " SELECT e.id, e.subject, e.marker FROM unnest($1::uuid[], $2::text[], $3::text[])"
        " WITH ORDINALITY AS e(id, subject, marker, n) ORDER BY e.n",
        [d.envelope.id for d in deliveries],
        [d.envelope.subject for d in deliveries],
        [",".join(d.event.changed_fields) for d in deliveries],
    )


class Watched(NamedTuple):
    consumer: EventConsumer
    broker: KafkaBroker
    batches: list[int]  # records in each batch Kafka handed over
    handler_calls: list[int]  # events in each call of the batch handler


def watched_consumer(scratch, kafka: str, lane: Lane, *, batch_handler: bool, **settings) -> Watched:
    broker = KafkaBroker(kafka, logger=logging.getLogger("faststream"))
    consumer = EventConsumer(
        service=lane.service,
        name=f"g{uuid.uuid4().hex[:8]}",
        pool=scratch.pool,
        broker=broker,
        retry_max_attempts=2,
        retry_backoff_ms=10,
        **settings,
    )
    batches: list[int] = []
    handler_calls: list[int] = []
    if batch_handler:

        async def counted(uow: UnitOfWork, deliveries: Sequence[Delivery]) -> None:
            handler_calls.append(len(deliveries))
            await record_effects(uow, deliveries)

        consumer.on_batch(SessionUpdated, counted)
    else:
        consumer.on(SessionUpdated, record_effect)
    handle_batch = consumer.handle_batch

    async def watched(records) -> None:
        batches.append(len(records))
        await handle_batch(records)

    consumer.handle_batch = watched  # type: ignore[method-assign]
    consumer.subscribe(lane.topic)
    return Watched(consumer, broker, batches, handler_calls)


async def caught_up(kafka: str, group_id: str, topic: str) -> bool:
    lags = await group_lag(kafka, group_id, [topic])
    return bool(lags) and all(p.lag == 0 for p in lags)


async def markers(scratch, subject: str) -> list[str]:
    return [r["marker"] for r in await scratch.effects(subject)]


async def transactions(scratch, subject: str) -> set[str]:
    """The transactions that wrote the aggregate's effects (their xmin)."""
    rows = await scratch.pool.fetch("SELECT xmin::text AS tx FROM effects WHERE subject = $1", subject)
    return {r["tx"] for r in rows}


async def parked(kafka: str, lane: Lane) -> dict[str, dict[str, str]]:
    """Dead letters by the key of the record they park: their headers."""
    return {
        r.key.decode(): {k: v.decode(errors="replace") for k, v in r.headers}
        for r in await read_topic(kafka, lane.dead_letters)
    }


async def outcomes(consumer: EventConsumer) -> dict[tuple[str, str], float]:
    """``certibus_events_handled_total`` of the consumer's group, by (event type, outcome), scraped."""
    text = (await consumer._metrics.scrape()).decode()
    return {
        (s.labels["event_type"], s.labels["outcome"]): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "certibus_events_handled_total" and s.labels["consumer"] == consumer.group_id
    }


UPDATED = SessionUpdated.event_type
handler_kinds = pytest.mark.parametrize("batch_handler", [False, True], ids=["per-event", "batch-handler"])


@handler_kinds
async def test_duplicates_in_one_batch_and_across_batches_are_applied_once(
    scratch, kafka, lane, batch_handler
):
    subject = str(uuid.uuid4())
    a, b, c = sent(subject, "a"), sent(subject, "b"), sent(subject, "c")
    await produce(kafka, lane.topic, a, a, b, a)
    w = watched_consumer(scratch, kafka, lane, batch_handler=batch_handler)
    async with w.broker:
        await w.broker.start()
        await wait_for(lambda: caught_up(kafka, w.consumer.group_id, lane.topic), what="the first batch")
        assert w.batches == [4]  # one batch, and a and b applied in one transaction
        assert await markers(scratch, subject) == ["a", "b"]
        assert len(await transactions(scratch, subject)) == 1
        assert (w.consumer.processed, w.consumer.duplicates) == (2, 2)
        await produce(kafka, lane.topic, b, c, a)  # redelivered copies beside a new event
        await wait_for(lambda: caught_up(kafka, w.consumer.group_id, lane.topic), what="the second batch")
    assert await markers(scratch, subject) == ["a", "b", "c"]
    assert (w.consumer.processed, w.consumer.duplicates) == (3, 4)
    assert await outcomes(w.consumer) == {(UPDATED, "applied"): 3, (UPDATED, "duplicate"): 4}
    if batch_handler:  # only fresh events reach it, once each
        assert w.handler_calls == [2, 1]


@handler_kinds
async def test_a_poison_record_in_the_middle_of_a_batch_is_the_only_one_dead_lettered(
    scratch, kafka, lane, batch_handler
):
    subject = str(uuid.uuid4())
    poison = sent(subject, "poison")
    await produce(kafka, lane.topic, sent(subject, "1"), sent(subject, "2"), poison, sent(subject, "3"))
    w = watched_consumer(scratch, kafka, lane, batch_handler=batch_handler)
    async with w.broker:
        await w.broker.start()
        await wait_for(lambda: caught_up(kafka, w.consumer.group_id, lane.topic), what="the batch")
    assert w.batches == [4]
    assert await markers(scratch, subject) == ["1", "2", "3"]  # the good ones once, in order
    assert w.consumer.dead_lettered == 1
    [(key, headers)] = (await parked(kafka, lane)).items()
    assert key == subject and headers["ce_id"] == poison.event_id
    assert headers["dlq_original_offset"] == "2" and headers["dlq_attempts"] == "2"
    assert "RuntimeError: this event always fails" in headers["dlq_error"]
    counted = {(UPDATED, "applied"): 3, (UPDATED, "retried"): 1, (UPDATED, "dead_lettered"): 1}
    assert await outcomes(w.consumer) == counted  # the rolled-back batch attempt is not a retry
    if batch_handler:  # the whole run first, then one at a time after the rollback
        assert w.handler_calls == [4, 1, 1, 1, 1, 1]


async def test_records_that_do_not_parse_are_parked_without_failing_their_batch(scratch, kafka, lane):
    subject = str(uuid.uuid4())
    good = sent(subject, "1")
    bad_payload = sent(subject, "x")._replace(value=b'{"session_id": 12}', key=b"bad-payload")
    no_envelope = sent(subject, "y")._replace(headers=[("ce_type", b"x")], key=b"no-envelope")
    await produce(kafka, lane.topic, good, bad_payload, sent(subject, "2"), no_envelope, sent(subject, "3"))
    w = watched_consumer(scratch, kafka, lane, batch_handler=False)
    async with w.broker:
        await w.broker.start()
        await wait_for(lambda: caught_up(kafka, w.consumer.group_id, lane.topic), what="the batch")
    assert w.batches == [5]
    assert await markers(scratch, subject) == ["1", "2", "3"]
    assert len(await transactions(scratch, subject)) == 1  # the batch did not fall back record by record
    dead = await parked(kafka, lane)
    assert sorted(dead) == ["bad-payload", "no-envelope"]
    assert dead["bad-payload"]["dlq_error"].startswith("payload: ")
    assert dead["no-envelope"]["dlq_error"].startswith("envelope: ")
    assert dead["no-envelope"]["dlq_original_offset"] == "3"
    parked_too = {(UPDATED, "dead_lettered"): 1, ("unknown", "dead_lettered"): 1}
    assert await outcomes(w.consumer) == {(UPDATED, "applied"): 3, **parked_too}


@pytest.mark.parametrize("lane", [3], indirect=True)
@handler_kinds
async def test_partitions_applied_in_parallel_keep_the_order_of_each_key(scratch, kafka, lane, batch_handler):
    subjects = [str(uuid.uuid4()) for _ in range(6)]
    await produce(kafka, lane.topic, *(sent(s, f"{i:02d}") for i in range(20) for s in subjects))
    w = watched_consumer(scratch, kafka, lane, batch_handler=batch_handler, partition_concurrency=3)
    async with w.broker:
        await w.broker.start()
        await wait_for(lambda: caught_up(kafka, w.consumer.group_id, lane.topic), what="all 120 events")
        lags = await w.consumer.lag()  # what /metrics samples: the member's positions, its fetches' marks
        assert set(lags) == {(lane.topic, p) for p in range(3)} and all(lag >= 0 for lag in lags.values())
    for subject in subjects:
        assert await markers(scratch, subject) == [f"{i:02d}" for i in range(20)]
    assert w.consumer.processed == 120 and w.consumer.duplicates == 0
    if batch_handler:  # set-based: a partition's run per call, not an event per call
        assert sum(w.handler_calls) == 120 and len(w.handler_calls) <= len(w.batches) * 3
        assert max(w.handler_calls) > 1


# --- crashes: a real consumer process, SIGKILLed ----------------------------------------------


def consume_args(scratch, kafka: str, lane: Lane, group: str, *extra: str) -> list[str]:
    return [
        "consume",
        *("--dsn", scratch.dsn, "--schema", scratch.name, "--bootstrap", kafka),
        *("--group", group, "--topic", lane.topic, *extra),
    ]


async def test_a_consumer_killed_between_a_batch_transaction_and_its_offset_commit_applies_nothing_twice(
    scratch, kafka, lane, processes, tmp_path
):
    subject = str(uuid.uuid4())
    await produce(kafka, lane.topic, *(sent(subject, f"{i:02d}") for i in range(30)))
    group, marker = f"crash-{subject[:8]}", tmp_path / "consumer-paused"
    doomed = processes(
        *consume_args(scratch, kafka, lane, group, "--pause-marker", str(marker), "--pause-subject", subject)
    )
    await wait_for(lambda: _exists(marker), what="the consumer to commit its batch transaction")
    doomed.kill()  # the whole batch is applied, no offset is committed
    assert await markers(scratch, subject) == [f"{i:02d}" for i in range(30)]

    survivor = processes(*consume_args(scratch, kafka, lane, group))
    await wait_for(lambda: caught_up(kafka, f"certibus.harness.{group}", lane.topic), what="the survivor")
    survivor.stop()
    assert survivor.output().count("duplicate event ignored") == 30
    assert await markers(scratch, subject) == [f"{i:02d}" for i in range(30)]


async def test_a_consumer_killed_inside_a_batch_transaction_leaves_nothing_and_its_successor_applies_all(
    scratch, kafka, lane, processes, tmp_path
):
    subject = str(uuid.uuid4())
    await produce(
        kafka, lane.topic, *(sent(subject, "pause-here" if i == 15 else f"{i:02d}") for i in range(30))
    )
    group, marker = f"crash-{subject[:8]}", tmp_path / "consumer-paused"
    doomed = processes(
        *consume_args(scratch, kafka, lane, group, "--pause-marker", str(marker), "--pause-in-transaction")
    )
    await wait_for(lambda: _exists(marker), what="the consumer to reach the middle of its batch")
    doomed.kill()  # 16 events applied inside the open transaction: rolled back with the connection
    await wait_for(lambda: _no_effects(scratch, subject), 15, "the killed transaction to roll back")

    survivor = processes(*consume_args(scratch, kafka, lane, group))
    await wait_for(lambda: caught_up(kafka, f"certibus.harness.{group}", lane.topic), what="the survivor")
    survivor.stop()
    assert await markers(scratch, subject) == ["pause-here" if i == 15 else f"{i:02d}" for i in range(30)]
    assert "duplicate event ignored" not in survivor.output()


async def _exists(path) -> bool:
    return path.exists()


async def _no_effects(scratch, subject: str) -> bool:
    return not await scratch.effects(subject)
