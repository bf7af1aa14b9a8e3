"""Eligibility's sessions consumer on real Kafka and Postgres: its batch handlers (sessions' details,
enrolments) build exactly the rows the events applied one at a time build, with the per-event ones
(cancellation, unenrolment) between them; duplicates and a redelivered batch change nothing, and a
poison enrolment in the middle of a run is dead-lettered alone."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from services.eligibility.app import definition
from services.eligibility.handlers import handle_session_events
from shared.contracts.events import CandidateUnenrolled, SessionCancelled, SessionUpdated
from shared.contracts.topics import TopicSpec
from shared.kafka_admin import ensure_topics
from tests.events import enrolled, learner, new_uai, session
from tests.integration.scheduler.consumer_paths import (
    as_record,
    consumer_path,
    parked_ids,
    produce_together,
)
from tests.integration.test_batch_delivery import Lane

pytestmark = pytest.mark.integration

T0 = datetime(2025, 1, 10, 9, 0, tzinfo=UTC)
MIGRATIONS = definition.migrations


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.fixture
async def lane(kafka) -> AsyncIterator[Lane]:
    tag = uuid.uuid4().hex[:8]
    lane = Lane(f"certibus.it.sessions.{tag}", f"sessions{tag}")
    await ensure_topics(
        kafka, [TopicSpec(lane.topic, 3, 3_600_000), TopicSpec(lane.dead_letters, 1, 3_600_000)]
    )
    yield lane
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka)
    await admin.start()
    await admin.delete_topics([lane.topic, lane.dead_letters])
    await admin.close()


def moved(created, minutes: int, **changes) -> SessionUpdated:
    details = created.model_dump(exclude={"created_at"})
    return SessionUpdated(**(details | changes), changed_fields=sorted(changes), updated_at=at(minutes))


async def test_batches_build_the_rows_events_one_at_a_time_build(admin_dsn, kafka, lane):
    uai = new_uai()
    sessions = [session(uai, n, created_at=at(n)) for n in range(1, 13)]
    s1, s2, s3 = sessions[:3]
    pupils = [learner(uai, f"{i:02d}") for i in range(60)]
    enrolments = [enrolled(s, *pupils[5 * i : 5 * i + 5]) for i, s in enumerate(sessions)]
    reenrolled = enrolled(s1, *(p.model_copy(update={"division": "3B"}) for p in pupils[2:4]))
    unenrolled = CandidateUnenrolled(
        session_id=s1.session_id,
        uai=uai,
        candidate_id=enrolments[0].candidates[4].candidate_id,
        learner_id=pupils[4].learner_id,
        unenrolled_at=at(30),
    )
    twice = as_record(enrolments[5], at(20))
    records = [as_record(s, at(0)) for s in sessions]
    records += [
        as_record(moved(s1, 15, date=date(2025, 3, 20)), at(15)),
        as_record(moved(s1, 16, date=date(2025, 3, 21), time="14:00"), at(16)),  # the last one wins
        as_record(session(uai, 99, created_at=at(15)), at(15)),
        *(as_record(e, at(20)) for e in enrolments[:5]),
        twice,
        twice,  # the very same record twice in one batch: applied once
        *(as_record(e, at(20)) for e in enrolments[6:]),
        as_record(reenrolled, at(25)),  # the same candidates again, in another class
        as_record(unenrolled, at(30)),
        as_record(enrolments[0], at(31)),  # the unenrolled one back, the others overwritten again
        as_record(SessionCancelled(session_id=s2.session_id, uai=uai, cancelled_at=at(32)), at(32)),
        as_record(moved(s2, 33, time="15:00"), at(33)),  # an update after the cancellation
        as_record(enrolled(session(uai, 77), pupils[0]), at(34)),  # a session never seen created
    ]
    poison = as_record(enrolled(s3, pupils[0].model_copy(update={"division": "Nul\x00"})), at(40))
    around_poison = [
        as_record(moved(s3, 39, room="C3"), at(39)),
        as_record(enrolled(s3, *pupils[50:55]), at(39)),
        poison,  # keyed by s3 like its neighbours: in the middle of that partition's run
        as_record(enrolled(s3, *pupils[55:60]), at(41)),
        as_record(moved(s3, 42, time="10:00"), at(42)),
    ]

    async with (
        consumer_path(admin_dsn, kafka, lane, MIGRATIONS, handle_session_events, batched=True) as batched,
        consumer_path(admin_dsn, kafka, lane, MIGRATIONS, handle_session_events, batched=False) as one_by_one,
    ):
        await produce_together(kafka, lane.topic, *records)
        await asyncio.gather(batched.drained(kafka, lane.topic), one_by_one.drained(kafka, lane.topic))
        assert max(batched.handler_calls) > 1  # the runs did reach the batch handlers whole
        for path in (batched, one_by_one):
            assert (path.consumer.processed, path.consumer.duplicates) == (len(records) - 1, 1)

        await produce_together(kafka, lane.topic, *records)  # the batch redelivered
        await asyncio.gather(batched.drained(kafka, lane.topic), one_by_one.drained(kafka, lane.topic))
        redelivered = await batched.rows("session_candidates", "session_id, candidate_id")
        calls_before_poison = len(batched.handler_calls)

        await produce_together(kafka, lane.topic, *around_poison)
        await asyncio.gather(batched.drained(kafka, lane.topic), one_by_one.drained(kafka, lane.topic))
        assert batched.handler_calls[calls_before_poison] == 1  # the update before it, in the whole run
        assert batched.handler_calls[calls_before_poison + 1] == 3  # the three enrolments: then alone
        rows = await batched.rows("sessions", "session_id")
        assert rows == await one_by_one.rows("sessions", "session_id")
        candidates = await batched.rows("session_candidates", "session_id, candidate_id")
        assert candidates == await one_by_one.rows("session_candidates", "session_id, candidate_id")
        for path in (batched, one_by_one):
            assert path.consumer.duplicates == 1 + len(records)
            assert path.consumer.dead_lettered == 1

    assert await parked_ids(kafka, lane) == [poison.event_id] * 2  # the poison alone, once per path
    by_id = {row["session_id"]: row for row in rows}
    assert len(rows) == 12 + 1  # the twelve and the one created late (an enrolment creates none)
    assert (by_id[s1.session_id]["session_date"], by_id[s1.session_id]["session_time"]) == (
        date(2025, 3, 21),
        "14:00",
    )
    assert by_id[s1.session_id]["updated_at"] == at(16)
    assert by_id[s2.session_id]["cancelled"] and by_id[s2.session_id]["session_time"] == "15:00"
    assert by_id[s3.session_id]["session_time"] == "10:00"
    assert [r for r in candidates if r["session_id"] != s3.session_id] == [
        r for r in redelivered if r["session_id"] != s3.session_id
    ]
    s1_candidates = {r["learner_id"]: r["division"] for r in candidates if r["session_id"] == s1.session_id}
    assert s1_candidates == {p.learner_id: "3A" for p in pupils[:5]}  # re-enrolled as at first
    s3_candidates = {r["learner_id"] for r in candidates if r["session_id"] == s3.session_id}
    assert s3_candidates == {p.learner_id for p in pupils[10:15] + pupils[50:60]}
    assert len(candidates) == 60 + 10 + 1  # each pupil in one session, ten in s3 too, and session 77's
