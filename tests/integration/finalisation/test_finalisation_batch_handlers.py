"""Finalisation's sessions consumer in batches, on real Kafka and PostgreSQL: the same state as one
event at a time, duplicates and redeliveries changing nothing, a poison event parked alone.

Each test writes the scheduler's events straight to a topic of its own (keyed by session id, as the
outbox relay keys them) before its consumers start, so a consumer's first fetch hands them over as
one batch. The reference is the per-event handlers (``handlers.PER_EVENT_HANDLERS``) applied one
record per transaction (``batch_max_records=1``); the path under test is the service's own
registration (``handlers.BATCH_HANDLERS``, what ``app.wire`` registers) with partitions in parallel.
The two run on schemas of their own, and their rows are compared whole.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, NamedTuple

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from faststream.kafka import KafkaBroker

from services.finalisation import handlers
from services.finalisation.app import definition
from shared.consumer import Delivery, EventConsumer
from shared.contracts.envelope import Envelope
from shared.contracts.events import (
    CandidatesEnrolled,
    CandidateUnenrolled,
    CandidateUpdated,
    EnrolledCandidate,
    Event,
    SessionCancelled,
    SessionCreated,
    SessionUpdated,
)
from shared.contracts.topics import TopicSpec, dead_letter_topic
from shared.db import create_pool, migrate, provision_service
from shared.kafka_admin import ensure_topics, group_lag, read_topic
from shared.outbox import UnitOfWork
from tests.events import session
from tests.support import wait_for

pytestmark = pytest.mark.integration

T0 = datetime(2027, 1, 11, 9, 0, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


class Sent(NamedTuple):
    """A record as the scheduler's relay writes it: the event's JSON, its subject as key, its envelope."""

    value: bytes
    key: bytes
    headers: list[tuple[str, bytes]]
    event_id: str


def record_of(event: Event) -> Sent:
    envelope = Envelope.new(source="/certibus/scheduler", type=event.event_type, subject=event.subject())
    headers = [(k, v.encode()) for k, v in envelope.to_headers().items()]
    return Sent(event.model_dump_json().encode(), event.subject().encode(), headers, envelope.id)


@dataclass
class Lane:
    """A topic and a dead-letter topic of the test's own (``service`` names the consumers' DLQ)."""

    kafka: str
    topic: str
    service: str

    @property
    def dead_letters(self) -> str:
        return dead_letter_topic(self.service)

    async def produce(self, *records: Sent) -> None:
        producer = AIOKafkaProducer(bootstrap_servers=self.kafka, enable_idempotence=True)
        await producer.start()
        try:
            for r in records:
                await producer.send(self.topic, value=r.value, key=r.key, headers=r.headers)
            await producer.flush()
        finally:
            await producer.stop()

    async def parked(self) -> list[str]:
        """The event ids of the records on the dead-letter topic."""
        return [dict(r.headers)["ce_id"].decode() for r in await read_topic(self.kafka, self.dead_letters)]


@pytest.fixture
async def lane(kafka) -> AsyncIterator[Lane]:
    tag = uuid.uuid4().hex[:8]
    lane = Lane(kafka, f"certibus.it.finbatch.{tag}", f"finbatch{tag}")
    await ensure_topics(
        kafka, [TopicSpec(lane.topic, 3, 3_600_000), TopicSpec(lane.dead_letters, 1, 3_600_000)]
    )
    yield lane
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka)
    await admin.start()
    await admin.delete_topics([lane.topic, lane.dead_letters])
    await admin.close()


@pytest.fixture
async def schemas(admin_dsn) -> AsyncIterator[Any]:
    """``await schemas()``: a fresh finalisation schema (its migrations applied) and a pool on it."""
    pools: list[asyncpg.Pool] = []

    async def make() -> asyncpg.Pool:
        name = f"it_finb_{uuid.uuid4().hex[:8]}"
        dsn = await provision_service(admin_dsn, name, "scratch-pw")
        pool = await create_pool(dsn, name, 5)
        async with pool.acquire() as conn:
            await migrate(conn, name, definition.migrations)
        pools.append(pool)
        return pool

    yield make
    for pool in pools:
        await pool.close()


@dataclass
class Consumer:
    """An inbox consumer of the lane with finalisation's handlers, and what it was handed."""

    consumer: EventConsumer
    broker: KafkaBroker
    #: events in each call of a batch handler
    handler_calls: list[int] = field(default_factory=list)

    async def drain(self, lane: Lane) -> None:
        """Run until the group has consumed everything on the lane's topic."""

        async def caught_up() -> bool:
            lags = await group_lag(lane.kafka, self.consumer.group_id, [lane.topic])
            return bool(lags) and all(p.lag == 0 for p in lags)

        async with self.broker:
            await self.broker.start()
            await wait_for(caught_up, what=f"{self.consumer.group_id} to drain {lane.topic}")


def consumer_of(lane: Lane, pool: asyncpg.Pool, *, batched: bool, name: str | None = None) -> Consumer:
    """Batched: the service's batch handlers, partitions in parallel. Otherwise the per-event
    handlers, one record per transaction (the path before batching)."""
    broker = KafkaBroker(lane.kafka, logger=logging.getLogger("faststream"))
    settings: dict[str, Any] = {"partition_concurrency": 3} if batched else {"batch_max_records": 1}
    consumer = EventConsumer(
        service=lane.service,
        name=name or f"g{uuid.uuid4().hex[:8]}",
        pool=pool,
        broker=broker,
        retry_max_attempts=2,
        retry_backoff_ms=10,
        **settings,
    )
    watched = Consumer(consumer, broker)
    if batched:
        for event_cls, batch_handler in handlers.BATCH_HANDLERS.items():
            consumer.on_batch(event_cls, counted(batch_handler, watched.handler_calls))
    else:
        for event_cls, handler in handlers.PER_EVENT_HANDLERS.items():
            consumer.on(event_cls, handler)
    consumer.subscribe(lane.topic)
    return watched


def counted(batch_handler, calls: list[int]):
    async def handle(uow: UnitOfWork, deliveries: Sequence[Delivery]) -> None:
        calls.append(len(deliveries))
        await batch_handler(uow, deliveries)

    return handle


async def rows(pool: asyncpg.Pool) -> dict[str, list[dict[str, Any]]]:
    """Every row of the read models and of the finalisations, in key order."""
    return {
        table: [dict(r) for r in await pool.fetch(f"SELECT * FROM {table} ORDER BY {key}")]
        for table, key in (
            ("sessions", "session_id"),
            ("candidates", "session_id, candidate_id"),
            ("finalisations", "session_id"),
        )
    }


# --- the scheduler's events ------------------------------------------------------------------


def candidate(key: str, **overrides: Any) -> EnrolledCandidate:
    values: dict[str, Any] = {
        "candidate_id": f"cand-{key}",
        "learner_id": f"learner-{key}",
        "ine": f"{abs(hash(key)) % 10**9:09d}AB",
        "first_name": f"Prénom {key}",
        "last_name": f"Nom {key}",
        "birthdate": date(2012, 5, 4),
        "division": "3A",
    }
    return EnrolledCandidate(**(values | overrides))


def created(session_id: str, minutes: int, **overrides: Any) -> SessionCreated:
    return session("0750001A", 1, session_id=session_id, created_at=at(minutes), **overrides)


def updated(session_id: str, minutes: int, **overrides: Any) -> SessionUpdated:
    base = created(session_id, 0).model_dump(exclude={"created_at"})
    return SessionUpdated(**(base | overrides), changed_fields=list(overrides), updated_at=at(minutes))


def cancelled(session_id: str, minutes: int, reason: str) -> SessionCancelled:
    return SessionCancelled(session_id=session_id, uai="0750001A", reason=reason, cancelled_at=at(minutes))


def enrolled(session_id: str, *candidates: EnrolledCandidate) -> CandidatesEnrolled:
    return CandidatesEnrolled(
        session_id=session_id, uai="0750001A", candidates=list(candidates), enrolled_at=T0
    )


def unenrolled(session_id: str, key: str, minutes: int) -> CandidateUnenrolled:
    return CandidateUnenrolled(
        session_id=session_id,
        uai="0750001A",
        candidate_id=f"cand-{key}",
        learner_id=f"learner-{key}",
        unenrolled_at=at(minutes),
    )


def corrected(session_id: str, key: str, extra_time: int, **overrides: Any) -> CandidateUpdated:
    """The whole candidate as the scheduler holds it, with its corrected extra time."""
    return CandidateUpdated(
        session_id=session_id,
        uai="0750001A",
        candidate=candidate(key, extra_time_percentage=extra_time, **overrides),
        changed_fields=["extra_time_percentage"],
        updated_at=T0,
    )


def year_of_events(tag: str) -> tuple[dict[str, str], list[Event]]:
    """Sessions whose events, in this order, exercise every rule of the per-event handlers, with
    runs of one type (what a batch handler gets together) touching the same rows more than once."""
    s = {name: f"{tag}-{name}" for name in ("moved", "stale", "cancelled", "roster", "finalised", "orphan")}
    events: list[Event] = [
        # a run of SessionCreated: several sessions; "moved" created twice (the later wins)
        created(s["moved"], 0, room="A1"),
        created(s["stale"], 0, room="S1"),
        created(s["cancelled"], 0),
        created(s["roster"], 0),
        created(s["finalised"], 0),
        created(s["moved"], 1, room="A2"),
        # a run of SessionUpdated: out of order, equal times (the last given of equal ones wins)
        updated(s["moved"], 5, room="A5"),
        updated(s["moved"], 3, room="A3"),  # older than what is there: ignored
        updated(s["stale"], 4, room="S4-first"),
        updated(s["stale"], 4, room="S4-last"),
        updated(s["orphan"], 2, room="never created"),  # an update creates the session
        # a run of CandidatesEnrolled: one candidate twice in an event, and again in a later event
        enrolled(s["roster"], candidate("r1"), candidate("r2"), candidate("r1", first_name="Twice")),
        enrolled(s["roster"], candidate("r3"), candidate("r4")),
        enrolled(s["roster"], candidate("r3", last_name="Renamed"), candidate("r5")),
        enrolled(s["finalised"], candidate("f1"), candidate("f2")),
        enrolled(f"{tag}-nowhere", candidate("n1")),  # no session yet: kept for when it comes
        # a run of CandidateUnenrolled: twice (the last given wins), unknown candidates ignored
        unenrolled(s["roster"], "r2", 10),
        unenrolled(s["roster"], "r4", 11),
        unenrolled(s["roster"], "r4", 9),
        unenrolled(s["roster"], "ghost", 12),
        unenrolled(s["finalised"], "f2", 13),
        # enrolled again after the unenrolment
        enrolled(s["roster"], candidate("r2", division="3B")),
        # a run of CandidateUpdated (extra time corrected on the day): twice (the last given wins)
        corrected(s["roster"], "r3", 33, last_name="Renamed"),
        corrected(s["roster"], "r3", 50, last_name="Renamed"),
        corrected(s["finalised"], "f1", 25),
        # a run of SessionCancelled: twice (the last given wins), an unknown session ignored
        cancelled(s["cancelled"], 20, "first"),
        cancelled(s["cancelled"], 19, "second"),
        cancelled(f"{tag}-unknown", 20, "nothing to cancel"),
        # after its cancellation, an update changes the details and keeps the cancellation
        updated(s["cancelled"], 30, room="after cancel"),
        # events for a finalised session are applied as for any other
        updated(s["finalised"], 40, room="late change"),
        enrolled(s["finalised"], candidate("f3")),
        unenrolled(s["roster"], "r5", 50),
        unenrolled(s["roster"], "r1", 51),
        enrolled(s["roster"], candidate("r1", first_name="Back")),
    ]
    return s, events


async def finalise(pool: asyncpg.Pool, session_id: str) -> None:
    """The session as finalisation records it once finalised (what the invigilator space writes)."""
    await pool.execute(
        "INSERT INTO finalisations (session_id, finalised_at, payload) VALUES ($1, $2, $3)",
        session_id,
        at(35),
        {"session_id": session_id, "uai": "0750001A"},
    )


async def test_the_batch_handlers_leave_the_state_the_per_event_handlers_leave(lane, schemas):
    s, events = year_of_events(uuid.uuid4().hex[:8])
    records = [record_of(e) for e in events]
    await lane.produce(*records, records[0], records[11])  # and two redelivered copies
    one_by_one, batched = await schemas(), await schemas()
    for pool in (one_by_one, batched):
        await finalise(pool, s["finalised"])

    reference = consumer_of(lane, one_by_one, batched=False)
    await reference.drain(lane)
    under_test = consumer_of(lane, batched, batched=True)
    await under_test.drain(lane)

    assert await rows(batched) == await rows(one_by_one)
    for watched in (reference, under_test):
        assert (watched.consumer.processed, watched.consumer.duplicates) == (len(events), 2)
        assert watched.consumer.dead_lettered == 0
    assert max(under_test.handler_calls) > 1  # set-based: runs of events per call, not one each
    assert sum(under_test.handler_calls) == len(events)

    # and that common state is the one the rules say
    sessions = {r["session_id"]: r for r in (await rows(batched))["sessions"]}
    assert sessions[s["moved"]]["room"] == "A5" and sessions[s["moved"]]["updated_at"] == at(5)
    assert sessions[s["stale"]]["room"] == "S4-last"
    assert sessions[s["orphan"]]["room"] == "never created"
    assert sessions[s["cancelled"]]["room"] == "after cancel"
    assert sessions[s["cancelled"]]["cancel_reason"] == "second"
    assert sessions[s["cancelled"]]["cancelled_at"] == at(19)
    assert sessions[s["finalised"]]["room"] == "late change"
    assert len(sessions) == 6
    candidates = {r["candidate_id"]: r for r in (await rows(batched))["candidates"]}
    assert {key: (c["first_name"], c["last_name"], c["division"]) for key, c in candidates.items()} == {
        "cand-r1": ("Back", "Nom r1", "3A"),
        "cand-r2": ("Prénom r2", "Nom r2", "3B"),
        "cand-r3": ("Prénom r3", "Renamed", "3A"),
        "cand-r4": ("Prénom r4", "Nom r4", "3A"),
        "cand-r5": ("Prénom r5", "Nom r5", "3A"),
        "cand-f1": ("Prénom f1", "Nom f1", "3A"),
        "cand-f2": ("Prénom f2", "Nom f2", "3A"),
        "cand-f3": ("Prénom f3", "Nom f3", "3A"),
        "cand-n1": ("Prénom n1", "Nom n1", "3A"),
    }
    assert {
        key: c["extra_time_percentage"] for key, c in candidates.items() if c["extra_time_percentage"]
    } == {
        "cand-r3": 50,
        "cand-f1": 25,
    }
    assert {key: c["unenrolled_at"] for key, c in candidates.items() if c["unenrolled_at"]} == {
        "cand-r4": at(9),
        "cand-r5": at(50),
        "cand-f2": at(13),
    }


async def test_duplicates_in_a_batch_and_a_redelivered_batch_change_nothing(lane, schemas):
    tag = uuid.uuid4().hex[:8]
    sid = f"{tag}-s"
    events: list[Event] = [
        created(sid, 0),
        enrolled(sid, candidate("a"), candidate("b"), candidate("c")),
        unenrolled(sid, "b", 10),
        updated(sid, 5, room="B5"),
        cancelled(sid, 20, "grève"),
    ]
    records = [record_of(e) for e in events]
    await lane.produce(records[0], records[1], records[1], records[2], records[1], *records[3:])
    pool = await schemas()
    name = f"g{uuid.uuid4().hex[:8]}"
    first = consumer_of(lane, pool, batched=True, name=name)
    await first.drain(lane)
    assert (first.consumer.processed, first.consumer.duplicates) == (5, 2)
    applied = await rows(pool)
    assert [c["unenrolled_at"] for c in applied["candidates"]] == [None, at(10), None]

    # the whole batch again (the enrolment after the unenrolment would enrol "b" again if applied),
    # read by the same consumer (its inbox) as after a crash before the offset commit
    await lane.produce(*records)
    again = consumer_of(lane, pool, batched=True, name=name)
    await again.drain(lane)
    assert (again.consumer.processed, again.consumer.duplicates) == (0, 5)
    assert again.handler_calls == []
    assert await rows(pool) == applied


async def test_a_poison_event_in_the_middle_of_a_run_is_dead_lettered_alone(lane, schemas):
    tag = uuid.uuid4().hex[:8]
    sid = f"{tag}-s"
    # PostgreSQL refuses a NUL character in text: this enrolment can never be applied
    poison = enrolled(sid, candidate("p", first_name="Nul\x00"))
    events: list[Event] = [
        created(sid, 0),
        enrolled(sid, candidate("a")),
        enrolled(sid, candidate("b")),
        poison,
        enrolled(sid, candidate("c")),
        unenrolled(sid, "a", 10),
    ]
    records = [record_of(e) for e in events]
    await lane.produce(*records)
    reference_pool, pool = await schemas(), await schemas()
    reference = consumer_of(lane, reference_pool, batched=False)
    await reference.drain(lane)
    under_test = consumer_of(lane, pool, batched=True)
    await under_test.drain(lane)

    assert (under_test.consumer.processed, under_test.consumer.dead_lettered) == (5, 1)
    assert await lane.parked() == [records[3].event_id] * 2  # once by each consumer
    applied = await rows(pool)
    assert applied == await rows(reference_pool)
    assert [(c["candidate_id"], c["unenrolled_at"]) for c in applied["candidates"]] == [
        ("cand-a", at(10)),
        ("cand-b", None),
        ("cand-c", None),
    ]
    # the run as a whole (the creation, then the four enrolments fail together and roll back), then
    # record by record: the six good ones once each, the poison twice (retry_max_attempts)
    assert under_test.handler_calls == [1, 4] + [1] * 7
