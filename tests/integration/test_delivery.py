"""Effectively-once delivery on real Kafka and Postgres: outbox, inbox, crashes, order, dead letters."""

from __future__ import annotations

import asyncio
import logging
import uuid

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from faststream.kafka import KafkaBroker

from shared.consumer import EventConsumer
from shared.contracts.envelope import Envelope
from shared.contracts.events import SessionUpdated
from shared.contracts.topics import SCHEDULER, TopicSpec, dead_letter_topic
from shared.kafka_admin import ensure_topics, group_lag, read_topic
from shared.outbox import OutboxRelay
from tests.integration.harness.processes import record_effect
from tests.support import emit, session_update, wait_for

pytestmark = pytest.mark.integration


def relay_args(scratch, kafka, *extra: str) -> list[str]:
    return ["relay", "--dsn", scratch.dsn, "--schema", scratch.name, "--bootstrap", kafka, *extra]


def consume_args(scratch, kafka, group: str, *extra: str) -> list[str]:
    return [
        "consume",
        "--dsn",
        scratch.dsn,
        "--schema",
        scratch.name,
        "--bootstrap",
        kafka,
        "--group",
        group,
        *extra,
    ]


async def unpublished(scratch) -> int:
    return await scratch.pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")


async def records_with_id(kafka: str, topic: str, event_id: str) -> list:
    """Every record of ``topic`` whose ce_id is ``event_id`` (scans the topic from the start)."""
    return [r for r in await read_topic(kafka, topic) if dict(r.headers).get("ce_id") == event_id.encode()]


async def test_event_reaches_another_service_exactly_once_when_consumer_dies_before_offset_commit(
    scratch, kafka, processes, tmp_path
):
    subject = str(uuid.uuid4())
    [event_id] = await emit(scratch.pool, session_update(subject, "first"))
    relay = processes(*relay_args(scratch, kafka))
    await wait_for(lambda: _zero(unpublished(scratch)), what="the relay to publish")
    relay.stop()

    group = f"crash-{subject[:8]}"
    marker = tmp_path / "consumer-paused"
    doomed = processes(
        *consume_args(scratch, kafka, group, "--pause-marker", str(marker), "--pause-subject", subject)
    )
    await wait_for(lambda: _exists(marker), what="the consumer to commit its transaction")
    doomed.kill()  # after the Postgres transaction, before the Kafka offset commit
    assert [r["event_id"] for r in await scratch.effects(subject)] == [uuid.UUID(event_id)]

    survivor = processes(*consume_args(scratch, kafka, group))
    await wait_for(lambda: _caught_up(kafka, f"certibus.harness.{group}"), what="the survivor to catch up")
    survivor.stop()
    assert f'"subject": "{subject}"' in survivor.output() and "duplicate event ignored" in survivor.output()
    effects = await scratch.effects(subject)
    assert [(str(r["event_id"]), r["subject"]) for r in effects] == [(event_id, subject)]


async def test_event_applied_once_when_relay_dies_after_publishing_before_marking_sent(
    scratch, kafka, processes, tmp_path
):
    subject = str(uuid.uuid4())
    [event_id] = await emit(scratch.pool, session_update(subject, "once"))
    marker = tmp_path / "relay-paused"
    doomed = processes(*relay_args(scratch, kafka, "--pause-marker", str(marker)))
    await wait_for(lambda: _exists(marker), what="the relay to publish")
    doomed.kill()  # published to Kafka, outbox row not marked
    assert await unpublished(scratch) == 1

    restarted = processes(*relay_args(scratch, kafka))
    await wait_for(lambda: _zero(unpublished(scratch)), what="the restarted relay to mark the row sent")
    restarted.stop()
    assert len(await records_with_id(kafka, SCHEDULER, event_id)) == 2  # really delivered twice

    group = f"relay-crash-{subject[:8]}"
    consumer = processes(*consume_args(scratch, kafka, group))
    await wait_for(lambda: _count_effects(scratch, subject, 1), what="the first copy")
    await wait_for(lambda: _caught_up(kafka, f"certibus.harness.{group}"), what="both copies consumed")
    consumer.stop()
    assert [str(r["event_id"]) for r in await scratch.effects(subject)] == [event_id]


async def test_same_event_delivered_twice_changes_state_once(scratch, kafka):
    subject = str(uuid.uuid4())
    event = session_update(subject, "twice")
    envelope = Envelope.new(source="/certibus/scheduler", type=event.event_type, subject=subject)
    producer = AIOKafkaProducer(bootstrap_servers=kafka, enable_idempotence=True)
    await producer.start()
    try:
        for _ in range(2):
            await producer.send_and_wait(
                SCHEDULER,
                value=event.model_dump_json().encode(),
                key=subject.encode(),
                headers=[(k, v.encode()) for k, v in envelope.to_headers().items()],
            )
    finally:
        await producer.stop()
    consumer, broker = _in_process_consumer(scratch, kafka, f"twice-{subject[:8]}")
    async with broker:
        await broker.start()
        await wait_for(lambda: _count_effects(scratch, subject, 1), what="the first copy")
        await wait_for(lambda: _caught_up(kafka, consumer.group_id), what="the second copy to be consumed")
    assert [str(r["event_id"]) for r in await scratch.effects(subject)] == [envelope.id]
    assert consumer.duplicates >= 1


async def test_events_with_the_same_key_arrive_in_the_order_they_were_raised(scratch, kafka):
    subject, other = str(uuid.uuid4()), str(uuid.uuid4())
    for i in range(40):  # one transaction each, interleaved with another aggregate
        await emit(scratch.pool, session_update(subject, f"{i:02d}"), session_update(other, f"o{i:02d}"))
    relay = OutboxRelay(dsn=scratch.dsn, schema=scratch.name, bootstrap_servers=kafka, batch_size=7)
    relay_task = asyncio.create_task(relay.run())
    _, broker = _in_process_consumer(scratch, kafka, f"order-{subject[:8]}")
    try:
        async with broker:
            await broker.start()
            await wait_for(
                lambda: _count_effects(scratch, subject, 40), what="all 40 events of the aggregate"
            )
    finally:
        relay_task.cancel()
    markers = [r["marker"] for r in await scratch.effects(subject)]
    assert markers == [f"{i:02d}" for i in range(40)]


async def test_always_failing_message_goes_to_dead_letters_and_partition_keeps_flowing(scratch, kafka):
    subject = str(uuid.uuid4())
    poison_id, next_id = await emit(
        scratch.pool, session_update(subject, "poison"), session_update(subject, "after-poison")
    )
    relay_task = asyncio.create_task(
        OutboxRelay(dsn=scratch.dsn, schema=scratch.name, bootstrap_servers=kafka).run()
    )
    _, broker = _in_process_consumer(scratch, kafka, f"dlq-{subject[:8]}", attempts=3)
    try:
        async with broker:
            await broker.start()
            await wait_for(
                lambda: _count_effects(scratch, subject, 1), what="the message after the poison one"
            )
    finally:
        relay_task.cancel()
    assert [str(r["event_id"]) for r in await scratch.effects(subject)] == [next_id]

    [original] = await records_with_id(kafka, SCHEDULER, poison_id)
    [dead] = await records_with_id(kafka, dead_letter_topic("harness"), poison_id)
    headers = {k: v.decode() for k, v in dead.headers}
    assert headers["dlq_original_topic"] == SCHEDULER
    assert headers["dlq_original_partition"] == str(original.partition)
    assert headers["dlq_original_offset"] == str(original.offset)
    assert "RuntimeError: this event always fails" in headers["dlq_error"]
    assert headers["dlq_attempts"] == "3"
    assert headers["ce_type"] == SessionUpdated.event_type
    assert dead.value == original.value and dead.key == original.key


async def test_only_one_relay_is_active_per_schema(scratch, kafka):
    first = OutboxRelay(dsn=scratch.dsn, schema=scratch.name, bootstrap_servers=kafka, poll_seconds=0.2)
    second = OutboxRelay(dsn=scratch.dsn, schema=scratch.name, bootstrap_servers=kafka, poll_seconds=0.2)
    first_task = asyncio.create_task(first.run())
    await wait_for(lambda: _true(lambda: first.active), what="the first relay to take the lock")
    second_task = asyncio.create_task(second.run())
    await asyncio.sleep(1)
    assert first.active and not second.active
    first_task.cancel()
    await asyncio.gather(first_task, return_exceptions=True)
    await wait_for(lambda: _true(lambda: second.active), what="the standby relay to take over")
    await emit(scratch.pool, session_update(str(uuid.uuid4()), "standby"))
    await wait_for(lambda: _zero(unpublished(scratch)), what="the standby relay to publish")
    second_task.cancel()


async def test_a_row_kafka_refuses_stops_the_relay_there_without_republishing_the_rows_before_it(
    scratch, kafka
):
    subject = str(uuid.uuid4())
    [before] = await emit(scratch.pool, session_update(subject, "before"))
    await scratch.pool.execute(  # a row larger than a Kafka request: the producer refuses it
        "INSERT INTO outbox (event_id, topic, key, event_type, headers, payload)"
        " SELECT gen_random_uuid(), topic, key, event_type, headers, $1 FROM outbox WHERE event_id = $2",
        b"x" * 1_100_000,
        uuid.UUID(before),
    )
    [after] = await emit(scratch.pool, session_update(subject, "after"))
    relay = OutboxRelay(dsn=scratch.dsn, schema=scratch.name, bootstrap_servers=kafka, poll_seconds=0.2)
    task = asyncio.create_task(relay.run())
    try:
        await wait_for(lambda: _zero(_unpublished_id(scratch, before)), 15, "the row before to be marked")
        await asyncio.sleep(1.5)  # several failed rounds on the big row
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert len(await records_with_id(kafka, SCHEDULER, before)) == 1  # not republished each round
    assert await _unpublished_id(scratch, after) == 1  # did not overtake the stuck row
    assert await records_with_id(kafka, SCHEDULER, after) == []


async def test_an_event_committed_while_the_relay_publishes_a_batch_is_not_left_for_the_poll(scratch, kafka):
    first_subject, late_subject = str(uuid.uuid4()), str(uuid.uuid4())
    await emit(scratch.pool, session_update(first_subject, "first"))
    raised: list[str] = []

    async def raise_another(_ids: list[int]) -> None:  # NOTIFY arrives while the batch is in flight
        if not raised:
            raised.extend(await emit(scratch.pool, session_update(late_subject, "late")))

    relay = OutboxRelay(
        dsn=scratch.dsn,
        schema=scratch.name,
        bootstrap_servers=kafka,
        poll_seconds=60,  # only a NOTIFY can wake it within the test
        after_publish=raise_another,
    )
    task = asyncio.create_task(relay.run())
    try:
        await wait_for(lambda: _true(lambda: raised), 15, "the late event")
        await wait_for(lambda: _zero(unpublished(scratch)), 5, "the relay to wake for the late event")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_rebalance_commits_what_was_handled_on_the_revoked_partitions(scratch, kafka):
    topic = f"certibus.it.rebalance.{uuid.uuid4().hex[:8]}"
    await ensure_topics(kafka, [TopicSpec(topic, 6, 3_600_000)])
    subjects = [str(uuid.uuid4()) for _ in range(60)]
    producer = AIOKafkaProducer(bootstrap_servers=kafka, enable_idempotence=True)
    await producer.start()
    try:
        for subject in subjects:
            event = session_update(subject, "rebalance")
            envelope = Envelope.new(source="/certibus/scheduler", type=event.event_type, subject=subject)
            await producer.send(
                topic,
                value=event.model_dump_json().encode(),
                key=subject.encode(),
                headers=[(k, v.encode()) for k, v in envelope.to_headers().items()],
            )
        await producer.flush()
    finally:
        await producer.stop()
    group = f"rebalance-{uuid.uuid4().hex[:8]}"
    never = {"commit_every": 10_000, "commit_interval_ms": 600_000}  # only a rebalance commits here
    first, first_broker = _in_process_consumer(scratch, kafka, group, topic=topic, **never)
    second, second_broker = _in_process_consumer(scratch, kafka, group, topic=topic, **never)
    handled = "SELECT count(*) FROM effects WHERE subject = ANY($1::text[])"
    try:
        async with first_broker:
            await first_broker.start()
            await wait_for(lambda: _at_least(scratch.pool.fetchval(handled, subjects), 60), what="all 60")
            assert all(p.committed is None for p in await group_lag(kafka, first.group_id, [topic]))
            async with second_broker:
                await second_broker.start()  # joins the group: every partition of the first is revoked
                await wait_for(lambda: _caught_up(kafka, first.group_id, topic), 30, "the revoke commit")
                await wait_for(
                    lambda: _true(lambda: second._subscriber.consumer.assignment()), 30, "the new member"
                )
                await asyncio.sleep(1)
                assert second.processed == second.duplicates == 0  # nothing handled twice
                await second.close()
            await first.close()  # stops its periodic commit (10 minutes here) with the test
    finally:
        admin = AIOKafkaAdminClient(bootstrap_servers=kafka)
        await admin.start()
        await admin.delete_topics([topic])
        await admin.close()
    assert await scratch.pool.fetchval(handled, subjects) == 60


# ---------------------------------------------------------------------------------------------


def _in_process_consumer(
    scratch, kafka: str, group: str, attempts: int = 3, topic: str = SCHEDULER, **settings
) -> tuple[EventConsumer, KafkaBroker]:
    broker = KafkaBroker(kafka, logger=logging.getLogger("faststream"))
    consumer = EventConsumer(
        service="harness",
        name=group,
        pool=scratch.pool,
        broker=broker,
        retry_max_attempts=attempts,
        retry_backoff_ms=10,
        **settings,
    )
    consumer.on(SessionUpdated, record_effect)
    consumer.subscribe(topic)
    return consumer, broker


async def _unpublished_id(scratch, event_id: str) -> int:
    return await scratch.pool.fetchval(
        "SELECT count(*) FROM outbox WHERE event_id = $1 AND published_at IS NULL", uuid.UUID(event_id)
    )


async def _zero(awaitable) -> bool:
    return await awaitable == 0


async def _exists(path) -> bool:
    return path.exists()


async def _caught_up(kafka: str, group_id: str, topic: str = SCHEDULER) -> bool:
    """The group has committed everything on the topic, so both copies went through the handler path."""
    lags = await group_lag(kafka, group_id, [topic])
    return bool(lags) and all(p.lag == 0 for p in lags)


async def _at_least(awaitable, n: int) -> bool:
    return await awaitable >= n


async def _true(value) -> bool:
    return bool(value())


async def _count_effects(scratch, subject: str, n: int) -> bool:
    return await scratch.pool.fetchval("SELECT count(*) FROM effects WHERE subject = $1", subject) >= n
