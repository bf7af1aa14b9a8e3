"""Export's batch handlers on real Kafka and PostgreSQL: a batch leaves what one event at a time does.

The same records (roster, sessions, enrolments, results, in one order) are written to a topic of
the test's own, then read by two export read models, each behind its own consumer with export's
handlers: one takes them in batches (runs of consecutive events of a type go to the handlers
together, set-based), the other one record at a time (``batch_max_records=1``: the handlers get
lists of one, the path a retried record takes). After the stale-class job, rows, exports log and
files must be the same. Then duplicates and a redelivery of everything change nothing, and a
poison record in the middle of a run is the only one dead-lettered.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from faststream.kafka import KafkaBroker

from services.export.app import definition, rebuild_all_stale
from services.export.handlers import ExportHandlers
from shared.clock import ManualClock
from shared.consumer import BatchHandler, Delivery, EventConsumer
from shared.contracts.envelope import Envelope
from shared.contracts.events import (
    CandidateUnenrolled,
    Event,
    LearnerDeactivated,
    LearnerUpdated,
    SessionCancelled,
    SessionUpdated,
)
from shared.contracts.topics import TopicSpec, dead_letter_topic
from shared.kafka_admin import ensure_topics, group_lag, read_topic
from shared.outbox import UnitOfWork, event_source
from tests.events import (
    Outcome,
    candidate_id,
    certification_ids,
    enrolled,
    learner,
    new_uai,
    results,
    session,
)
from tests.support import wait_for

pytestmark = pytest.mark.integration

NOW = datetime(2025, 4, 2, 9, 0, tzinfo=UTC)
READ_MODELS = {
    "learners": "learner_id",
    "sessions": "session_id",
    "candidates": "candidate_id",
    "results": "certification_id",
}


class Sent(NamedTuple):
    """A record as the test writes it to Kafka (its envelope id fixed: a copy is a redelivery)."""

    value: bytes
    key: bytes
    headers: list[tuple[str, bytes]]
    event_id: str


def sent(event: Event) -> Sent:
    envelope = Envelope.new(
        source=event_source(event.source_service), type=event.event_type, subject=event.subject()
    )
    headers = [(k, v.encode()) for k, v in envelope.to_headers().items()]
    return Sent(event.model_dump_json().encode(), event.subject().encode(), headers, envelope.id)


@pytest.fixture
async def lane(kafka) -> AsyncIterator[str]:
    topic = f"certibus.it.export-batches.{uuid.uuid4().hex[:8]}"
    await ensure_topics(kafka, [TopicSpec(topic, 1, 3_600_000)])
    yield topic
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka)
    await admin.start()
    await admin.delete_topics([topic])
    await admin.close()


async def produce(kafka: str, topic: str, records: Sequence[Sent]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=kafka, enable_idempotence=True)
    await producer.start()
    try:
        for r in records:
            await producer.send(topic, value=r.value, key=r.key, headers=r.headers)
        await producer.flush()
    finally:
        await producer.stop()


@dataclass
class ReadModel:
    """An export read model (service without its own consumers or job) behind a lane consumer."""

    svc: object
    out: Path
    consumer: EventConsumer
    broker: KafkaBroker
    calls: list[int] = field(default_factory=list)  # events in each call of a batch handler

    @property
    def pool(self):
        return self.svc.pool

    async def caught_up(self, kafka: str, topic: str) -> bool:
        lags = await group_lag(kafka, self.consumer.group_id, [topic])
        return bool(lags) and all(p.lag == 0 for p in lags)


async def read_model(start_service, kafka: str, topic: str, out: Path, **consumer_settings) -> ReadModel:
    svc = await start_service(replace(definition, wire=None, jobs=[]), export_output_dir=out)
    svc.runtime.clock = ManualClock(NOW)
    broker = KafkaBroker(kafka, logger=logging.getLogger("faststream"))
    consumer = EventConsumer(
        service="export",
        name=f"lane{uuid.uuid4().hex[:8]}",
        pool=svc.pool,
        broker=broker,
        retry_max_attempts=2,
        retry_backoff_ms=10,
        group_prefix=svc.schema,
        **consumer_settings,
    )
    model = ReadModel(svc, out, consumer, broker)

    def counted(handler: BatchHandler) -> BatchHandler:
        async def call(uow: UnitOfWork, deliveries: Sequence[Delivery]) -> None:
            model.calls.append(len(deliveries))
            await handler(uow, deliveries)

        return call

    for event_cls, handler in ExportHandlers(svc.runtime).every_event().items():
        consumer.on_batch(event_cls, counted(handler))
    consumer.subscribe(topic)
    return model


async def consume(model: ReadModel, kafka: str, topic: str) -> None:
    """Start the consumer, wait until it has read the whole lane, stop it, run the job."""
    async with model.broker:
        await model.broker.start()
        await wait_for(lambda: model.caught_up(kafka, topic), what="the lane to be consumed")
    await rebuild_all_stale(model.svc.runtime)


async def rows(model: ReadModel, uais: Sequence[str]) -> dict[str, list]:
    """The schools' rows in every read model and in the exports log, without ``updated_at``."""
    found = {}
    for table, key in READ_MODELS.items():
        columns = [
            r["column_name"]
            for r in await model.pool.fetch(
                "SELECT column_name FROM information_schema.columns"
                " WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position",
                model.svc.schema,
                table,
            )
            if r["column_name"] != "updated_at"
        ]
        query = f"SELECT {', '.join(columns)} FROM {table} WHERE uai = ANY($1) ORDER BY {key}"
        found[table] = [tuple(r) for r in await model.pool.fetch(query, list(uais))]
    found["exports"] = [
        tuple(r)
        for r in await model.pool.fetch(
            "SELECT * FROM exports WHERE uai = ANY($1) ORDER BY 1, 2, 3", list(uais)
        )
    ]
    found["stale_classes"] = [
        tuple(r)
        for r in await model.pool.fetch(
            "SELECT uai, division_key FROM stale_classes WHERE uai = ANY($1)", list(uais)
        )
    ]
    return found


def files(out: Path, uais: Sequence[str], with_mtime: bool = False) -> dict[str, object]:
    return {
        f"{p.parent.name}/{p.name}": (p.read_bytes(), p.stat().st_mtime_ns) if with_mtime else p.read_bytes()
        for uai in uais
        if (out / uai).exists()
        for p in sorted((out / uai).iterdir())
    }


def a_school_year(uai: str, other_uai: str) -> list[Sent]:
    """Roster, sessions, enrolments and results of two schools, with moves, a deactivation, a
    cancelled session, an unenrolment, results read before a roster entry, a Pix re-send without
    publication times and a record delivered twice."""
    ana, bob, eve = learner(uai, "ana"), learner(uai, "bob"), learner(uai, "eve")
    carl, dan = learner(uai, "carl", division="3B"), learner(uai, "dan", division="3C")
    zoe = learner(uai, "zoe", division="3B")  # her results come before her roster entry
    s1, s2, s3, elsewhere = session(uai, 1), session(uai, 2), session(uai, 3), session(other_uai, 7)
    first, second, third, fourth, fifth, sixth, seventh = certification_ids(7)
    processed = results(
        s1,
        Outcome(ana, first, pix_score=410),
        Outcome(bob, second, status="rejected", pix_score=0),
        Outcome(carl, third),
        Outcome(dan, fourth, levels={"1.1": 4}),
        Outcome(eve, fifth),
        Outcome(zoe, sixth),
    )
    resent = processed.model_copy(
        update={
            "results": [r.model_copy(update={"published_at": None}) for r in processed.results],
            "processed_at": datetime(2025, 3, 29, 8, 0, tzinfo=UTC),
        }
    )
    carl_registered = sent(carl)
    events: list[Sent] = [
        *(sent(x) for x in (ana, bob, eve)),
        carl_registered,
        carl_registered,  # the same record twice: the inbox drops the copy
        sent(dan),
        sent(s1),
        sent(SessionUpdated(**{**s1.model_dump(), "room": "C3"}, updated_at=NOW)),
        sent(elsewhere),
        sent(enrolled(s1, ana, bob, carl, dan, eve)),
        sent(session(uai, 2)),
        sent(SessionCancelled(session_id=s2.session_id, uai=uai, cancelled_at=NOW)),
        sent(processed),
        sent(resent),  # in the same run as the first sending: each result keeps its publication time
        sent(LearnerUpdated(**{**bob.model_dump(), "division": "3B"}, changed_fields=["division"])),
        sent(LearnerDeactivated(learner_id=eve.learner_id, uai=uai, division="3A", deactivated_at=NOW)),
        sent(LearnerUpdated(**{**ana.model_dump(), "uai": other_uai}, changed_fields=["uai"])),
        sent(zoe),
        sent(
            CandidateUnenrolled(
                session_id=s1.session_id,
                uai=uai,
                candidate_id=candidate_id(s1, dan),
                learner_id=dan.learner_id,
                unenrolled_at=NOW,
            )
        ),
        sent(s3),
        sent(enrolled(s3, carl)),
        sent(results(s3, Outcome(carl, seventh, pix_score=600))),
        sent(resent),  # and once more, alone (a new event id)
    ]
    return events


async def test_a_batch_leaves_the_rows_and_files_that_one_event_at_a_time_leaves(
    start_service, kafka, lane, tmp_path
):
    uai, other_uai = new_uai(), new_uai()
    records = a_school_year(uai, other_uai)
    await produce(kafka, lane, records)
    batched = await read_model(start_service, kafka, lane, tmp_path / "batched")
    one_by_one = await read_model(start_service, kafka, lane, tmp_path / "one-by-one", batch_max_records=1)
    await consume(batched, kafka, lane)
    await consume(one_by_one, kafka, lane)

    assert set(one_by_one.calls) == {1} and len(one_by_one.calls) == len(records) - 1
    assert max(batched.calls) > 1 and sum(batched.calls) == len(records) - 1
    for model in (batched, one_by_one):
        assert (model.consumer.processed, model.consumer.duplicates) == (len(records) - 1, 1)
    expected = await rows(one_by_one, [uai, other_uai])
    assert expected["results"] and expected["exports"] and not expected["stale_classes"]
    assert await rows(batched, [uai, other_uai]) == expected
    on_disk = files(one_by_one.out, [uai, other_uai])
    assert any(name.startswith(other_uai) for name in on_disk)  # Ana's certification moved with her
    assert files(batched.out, [uai, other_uai]) == on_disk

    # everything delivered again (a consumer that lost its offsets): nothing changes
    state, written = (
        await rows(batched, [uai, other_uai]),
        files(batched.out, [uai, other_uai], with_mtime=True),
    )
    announced = await batched.pool.fetchval(
        "SELECT count(*) FROM outbox WHERE key = ANY($1)", [uai, other_uai]
    )
    await produce(kafka, lane, records)
    calls = len(batched.calls)
    await consume(batched, kafka, lane)
    assert len(batched.calls) == calls  # every record found in the inbox: no handler ran
    assert batched.consumer.duplicates == 1 + len(records)
    assert await rows(batched, [uai, other_uai]) == state
    assert files(batched.out, [uai, other_uai], with_mtime=True) == written
    assert (
        await batched.pool.fetchval("SELECT count(*) FROM outbox WHERE key = ANY($1)", [uai, other_uai])
        == announced
    )


async def test_a_poison_record_in_the_middle_of_a_run_is_the_only_one_dead_lettered(
    start_service, kafka, lane, tmp_path
):
    uai = new_uai()
    good = [learner(uai, key) for key in ("ana", "bob", "carl")]
    poison = learner(uai, "nul", first_name="Nu\x00l")  # PostgreSQL refuses a NUL in text
    s1 = session(uai)
    ids = certification_ids(3)
    records = [
        sent(good[0]),
        sent(good[1]),
        poison_record := sent(poison),
        sent(good[2]),
        sent(s1),
        sent(enrolled(s1, *good)),
        sent(results(s1, *(Outcome(x, i) for x, i in zip(good, ids, strict=True)))),
    ]
    await produce(kafka, lane, records)
    model = await read_model(start_service, kafka, lane, tmp_path)
    await consume(model, kafka, lane)

    assert model.calls[0] == 4  # the learners' run together first; it failed and was rolled back
    assert model.consumer.dead_lettered == 1 and model.consumer.processed == len(records) - 1
    learners = await model.pool.fetch("SELECT learner_id FROM learners WHERE uai = $1 ORDER BY 1", uai)
    assert [r["learner_id"] for r in learners] == sorted(x.learner_id for x in good)
    dead = [
        {k: v.decode(errors="replace") for k, v in r.headers}
        for r in await read_topic(kafka, dead_letter_topic("export"))
        if r.key == poison_record.key
    ]
    assert [d["ce_id"] for d in dead] == [poison_record.event_id]
    assert dead[0]["dlq_attempts"] == "2" and dead[0]["dlq_original_offset"] == "2"
    [csv] = (tmp_path / uai).glob("*_resultats_3A.csv")
    assert len(csv.read_bytes().decode("utf-8-sig").split("\n")) == 1 + len(good)
