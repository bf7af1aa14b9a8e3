"""EventConsumer without infrastructure: dead letters that must not be lost, offsets that must not lie."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime

import pytest
from aiokafka import ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError
from pydantic import ValidationError

from shared.consumer import EventConsumer, _CommitOnRevoke
from shared.contracts.envelope import Envelope
from shared.contracts.events import SessionCancelled, SessionUpdated
from shared.contracts.topics import SCHEDULER
from shared.dead_letters import describe


class FlakyBroker:
    """Stands in for the KafkaBroker: its publish (the dead-letter path) fails ``failures`` times."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.published: list[dict] = []
        self.attempts = 0

    async def publish(self, value, *, topic, key, headers) -> None:
        self.attempts += 1
        if self.attempts <= self.failures:
            raise ConnectionError("broker unreachable")
        self.published.append({"value": value, "topic": topic, "key": key, "headers": headers})


class FakeKafkaConsumer:
    def __init__(self, owned: set[TopicPartition], fail: bool = False) -> None:
        self.owned, self.fail = owned, fail
        self.commits: list[dict[TopicPartition, int]] = []

    def assignment(self) -> set[TopicPartition]:
        return self.owned

    async def commit(self, offsets) -> None:
        if self.fail:
            raise CommitFailedError("rebalancing")
        self.commits.append({tp: meta.offset for tp, meta in offsets.items()})


def consumer(broker=None, **kwargs) -> EventConsumer:
    c = EventConsumer(
        service="harness",
        name="unit",
        pool=None,
        broker=broker or FlakyBroker(),
        retry_backoff_ms=1,
        **kwargs,
    )
    c.on(SessionUpdated, _never_called)
    return c


async def _never_called(uow, event, envelope) -> None:
    raise AssertionError("an invalid record reached the handler")


def record(headers: list[tuple[str, bytes]], value: bytes = b"{}", offset: int = 7) -> ConsumerRecord:
    return ConsumerRecord(SCHEDULER, 2, offset, 0, 0, b"key", value, None, 3, len(value), headers)


def envelope_headers() -> list[tuple[str, bytes]]:
    envelope = Envelope.new(source="/certibus/scheduler", type=SessionUpdated.event_type, subject="s-1")
    return [(k, v.encode()) for k, v in envelope.to_headers().items()]


async def test_a_failing_dead_letter_publish_is_retried_until_the_record_is_parked():
    broker = FlakyBroker(failures=2)
    c = consumer(broker)
    await c.handle_record(record([]))  # no envelope: straight to the dead letters
    assert broker.attempts == 3
    [parked] = broker.published
    assert parked["topic"] == "certibus.harness.dlq" and parked["headers"]["dlq_original_offset"] == "7"
    assert c.dead_lettered == 1


async def test_payload_errors_in_dead_letters_name_the_fields_not_the_personal_data():
    payload = json.loads(
        SessionUpdated(
            session_id="s-1", session_number=1, uai="0750001A", certification_center="C", school_level="college",
            address="A", room="B12", examiners=["M. Martin"], date=date(2027, 3, 10), time="09:00",
            access_code="BCDF23", invigilator_password_verifier="x", changed_fields=[], updated_at=datetime.now(UTC),
        ).model_dump_json()
    )  # fmt: skip
    payload["examiners"] = "Mme Jeanne Dupont-Secret"
    payload["date"] = "2009-02-30"
    broker = FlakyBroker()
    c = consumer(broker)
    await c.handle_record(record(envelope_headers(), json.dumps(payload).encode()))
    error = broker.published[0]["headers"]["dlq_error"]
    assert "examiners" in error and "date" in error
    assert "Dupont" not in error and "2009-02-30" not in error


@pytest.mark.parametrize(
    "bad",
    [("ce_subject", b"\xff\xfe"), ("ce_id", b"not-a-uuid")],
    ids=["header not utf-8", "ce_id not a uuid"],
)
async def test_a_broken_envelope_is_dead_lettered_not_raised(bad):
    headers = [(k, v) for k, v in envelope_headers() if k != bad[0]] + [bad]
    broker = FlakyBroker()
    c = consumer(broker)
    await c.handle_record(record(headers))
    assert broker.published[0]["headers"]["dlq_error"].startswith("envelope: ")


async def test_a_type_no_contract_knows_is_dead_lettered_and_another_consumers_type_skipped():
    unknown = [
        (k, b"certibus.scheduler.no_such_event.v2" if k == "ce_type" else v) for k, v in envelope_headers()
    ]
    others = Envelope.new(source="/certibus/scheduler", type=SessionCancelled.event_type, subject="s-1")
    broker = FlakyBroker()
    c = consumer(broker)
    await c.handle_record(record(unknown))
    await c.handle_record(record([(k, v.encode()) for k, v in others.to_headers().items()], offset=8))
    [parked] = broker.published
    assert (
        parked["headers"]["dlq_error"] == "envelope: unknown event type 'certibus.scheduler.no_such_event.v2'"
    )
    assert parked["headers"]["dlq_original_offset"] == "7" and parked["headers"]["dlq_attempts"] == "0"


async def test_only_owned_partitions_are_committed_and_a_failed_commit_keeps_its_offsets():
    mine, gone = TopicPartition(SCHEDULER, 0), TopicPartition(SCHEDULER, 1)
    c = consumer()
    c._kafka_consumer = kafka = FakeKafkaConsumer({mine}, fail=True)
    c._pending = {mine: 10, gone: 20}
    await c.commit_handled()
    assert c._pending == {mine: 10}  # the revoked partition is its new owner's; ours is kept for later
    kafka.fail = False
    c._pending[mine] = 12  # handled more meanwhile
    await c.commit_handled()
    assert kafka.commits == [{mine: 12}] and c._pending == {}


async def test_revoking_partitions_commits_what_was_handled_on_them():
    p0, p1 = TopicPartition(SCHEDULER, 0), TopicPartition(SCHEDULER, 1)
    c = consumer()
    c._kafka_consumer = kafka = FakeKafkaConsumer({p0, p1})
    c._pending = {p0: 5, p1: 9}
    listener = _CommitOnRevoke(c)  # what subscribe() hands FastStream as the rebalance listener
    await listener.on_partitions_revoked({p1})
    assert kafka.commits == [{p1: 9}] and c._pending == {p0: 5}


async def test_the_periodic_commit_stops_with_the_subscriber():
    class Subscriber:
        running = True

    c = consumer(commit_interval_ms=10)
    c._subscriber = subscriber = Subscriber()
    c._flusher = asyncio.create_task(c._flush_periodically())
    await asyncio.sleep(0.05)
    assert not c._flusher.done()
    subscriber.running = False  # the broker stopped without close()
    await asyncio.wait_for(c._flusher, 1)


async def test_close_lets_the_record_in_flight_finish_then_commits_it():
    p0 = TopicPartition(SCHEDULER, 0)
    c = consumer()
    c._kafka_consumer = kafka = FakeKafkaConsumer({p0})
    c._idle.clear()  # a record is being handled

    async def finish_handling() -> None:
        await asyncio.sleep(0.05)
        c._pending[p0] = 4
        c._idle.set()

    task = asyncio.create_task(finish_handling())
    await c.close()
    await task
    assert kafka.commits == [{p0: 4}]


def test_a_handler_validation_error_is_described_without_its_input():
    with pytest.raises(ValidationError) as raised:
        SessionUpdated.model_validate({"examiners": "Mme Jeanne Dupont-Secret"})
    text = describe(raised.value)
    assert text.startswith("ValidationError: ") and "examiners" in text and "Dupont" not in text
