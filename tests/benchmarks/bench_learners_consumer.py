"""How fast the scheduler's learners consumer drains a roster import and a campaign (issue 10 item 2),
and, with ``--consumer sessions``, how fast eligibility's sessions consumer drains a plan's sessions.

    . .local/env && .venv/bin/python tests/benchmarks/bench_learners_consumer.py [--events 20000]
    .venv/bin/python tests/benchmarks/bench_learners_consumer.py --consumer sessions [--candidates 20]
    # before, on a snapshot of another commit (its services, this script):
    git archive <commit> | tar -x -C /tmp/before
    PYTHONPATH=/tmp/before .venv/bin/python tests/benchmarks/bench_learners_consumer.py

Writes N events for ``--schools`` schools to a throw-away topic (as many partitions as the
eligibility topic): each school's roster import (LearnerRegistered for each learner), then each
school's campaign (CertifiabilityAssessed for each), keyed by learner as eligibility publishes them.
Then it wires the service exactly as it wires itself (``definition.wire``: its handlers, its
consumer settings, parallel partitions or not) on a throw-away schema, points the consumer at that
topic, and times it from its first batch to its N-th handled event (wall and CPU of this
process), and checks the read model holds every learner. ``--consumer sessions`` does the same
with eligibility's sessions consumer: per school, SessionCreated then CandidatesEnrolled (one per
session, ``--candidates`` each, as the scheduler raises them at plan confirm), keyed by session.
Logs go through the services' JSON configuration at INFO into /dev/null (their cost is measured,
their lines not printed).
Prints figures; not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import time
import uuid
from datetime import UTC, date, datetime

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from faststream.kafka import KafkaBroker

from services.eligibility.app import definition as eligibility
from services.scheduler.app import definition as scheduler
from shared.contracts.envelope import Envelope
from shared.contracts.events import (
    CandidatesEnrolled,
    CertifiabilityAssessed,
    EnrolledCandidate,
    LearnerRegistered,
    SessionCreated,
)
from shared.contracts.topics import ELIGIBILITY, TopicSpec, all_topics, dead_letter_topic
from shared.db import create_pool, migrate, provision_service
from shared.kafka_admin import ensure_topics
from shared.logging import configure_logging
from shared.service import Runtime, ServiceDefinition

ASSESSED_AT = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def roster_and_campaign(schools: int, per_school: int) -> list[LearnerRegistered | CertifiabilityAssessed]:
    """Every school's LearnerRegistered, then every school's CertifiabilityAssessed."""
    learners = [
        LearnerRegistered(
            learner_id=f"{uai}-{k:04d}", uai=uai, ine=f"{s:04d}{k:05d}AB", first_name=f"Prénom{k}",
            last_name=f"Nom{k}", birthdate=date(2011, 1 + k % 12, 1 + k % 28), division=f"3{'ABCDEFGH'[k % 8]}",
        )
        for s in range(schools)
        for uai in [f"{870000 + s:07d}P"]
        for k in range(per_school)
    ]  # fmt: skip
    assessments = [
        CertifiabilityAssessed(
            learner_id=r.learner_id, uai=r.uai, division=r.division, status="certifiable",
            certifiable_competences=6, competences_needed=0, source="campagne.csv", assessed_at=ASSESSED_AT,
        )
        for r in learners
    ]  # fmt: skip
    return [*learners, *assessments]


def sessions_and_enrolments(
    schools: int, sessions: int, candidates: int
) -> list[SessionCreated | CandidatesEnrolled]:
    """Every school's SessionCreated then CandidatesEnrolled, ``sessions`` in all."""
    events: list[SessionCreated | CandidatesEnrolled] = []
    for s in range(schools):
        uai = f"{870000 + s:07d}P"
        created = [
            SessionCreated(
                session_id=str(uuid.uuid4()), session_number=s * 1000 + n, uai=uai, certification_center="Collège",
                school_level="college", address="Site", room=f"Salle {n}", examiners=["M. Martin"],
                date=date(2027, 3, 1 + n % 28), time="09:00", access_code="BCDF23",
                invigilator_password_hash="scrypt$bench", created_at=ASSESSED_AT,
            )
            for n in range(sessions // schools)
        ]  # fmt: skip
        events += created
        events += [
            CandidatesEnrolled(
                session_id=c.session_id, uai=uai, enrolled_at=ASSESSED_AT,
                candidates=[
                    EnrolledCandidate(
                        candidate_id=str(uuid.uuid4()), learner_id=f"{uai}-{c.session_number}-{k}", ine=None,
                        first_name=f"Prénom{k}", last_name=f"Nom{k}", birthdate=date(2011, 1 + k % 12, 1),
                        division="3A",
                    )
                    for k in range(candidates)
                ],
            )
            for c in created
        ]  # fmt: skip
    return events


#: what each consumer's read model must hold once it has drained the events
READ_MODEL_CHECKS = {
    "learners": "SELECT count(*) FROM learners JOIN learner_certifiability USING (learner_id) WHERE active",
    "sessions": "SELECT count(*) FROM session_candidates",
}


async def publish(kafka: str, topic: str, events: list) -> float:
    """Seconds to write the events with their CloudEvents headers, keyed by learner."""
    producer = AIOKafkaProducer(bootstrap_servers=kafka, enable_idempotence=True, linger_ms=5)
    await producer.start()
    started = time.perf_counter()
    try:
        sent = []
        for event in events:
            envelope = Envelope.new(
                source="/certibus/eligibility", type=event.event_type, subject=event.subject()
            )
            headers = [(k, v.encode()) for k, v in envelope.to_headers().items()]
            value = event.model_dump_json().encode()
            sent.append(
                await producer.send(topic, value=value, key=event.subject().encode(), headers=headers)
            )
        await asyncio.gather(*sent)
    finally:
        await producer.stop()
    return time.perf_counter() - started


async def drain(
    definition: ServiceDefinition, name: str, kafka: str, dsn: str, schema: str, topic: str, events: int
) -> tuple[float, float, int, int]:
    """The service's consumer ``name``, wired as the service wires it, reading ``topic``: wall and CPU
    seconds from its first batch to its ``events``-th handled event, its partition concurrency, and
    the count of READ_MODEL_CHECKS."""
    settings = definition.settings_class(
        database_url=dsn, database_schema=schema, kafka_bootstrap_servers=kafka, consumer_group_prefix=schema
    )
    pool = await create_pool(dsn, schema, 10)
    broker = KafkaBroker(kafka, logger=logging.getLogger("faststream"), log_level=logging.DEBUG)
    runtime = Runtime(definition, settings, pool, broker, relay=None)  # type: ignore[arg-type]
    definition.wire(runtime)
    learners = next(c for c in runtime.consumers if c.name == name)
    first_batch: list[float] = []
    handle_batch = learners.handle_batch

    async def timed(records) -> None:
        if not first_batch:
            first_batch.extend((time.perf_counter(), time.process_time()))
        await handle_batch(records)

    learners.handle_batch = timed  # type: ignore[method-assign]
    learners.subscribe(topic)
    try:
        async with broker:
            await broker.start()
            while learners.processed + learners.dead_lettered < events:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
            finished, cpu = time.perf_counter(), time.process_time()
            await learners.close()
        known = await pool.fetchval(READ_MODEL_CHECKS[name])
    finally:
        await pool.close()
    return finished - first_batch[0], cpu - first_batch[1], learners.partition_concurrency, known


async def main(consumer: str, events: int, schools: int, candidates: int) -> None:
    kafka, admin_dsn = os.environ["KAFKA_BOOTSTRAP_SERVERS"], os.environ["DATABASE_URL"]
    if consumer == "learners":
        definition, batch = scheduler, roster_and_campaign(schools, events // 2 // schools)
        what, expected = "active learners with an assessment", len(batch) // 2
    else:
        definition, batch = eligibility, sessions_and_enrolments(schools, events // 2, candidates)
        what, expected = "candidates", len(batch) // 2 * candidates
    name = f"bench_{uuid.uuid4().hex[:8]}"
    topic = f"certibus.bench.{consumer}.{name}"
    partitions = next(t.partitions for t in all_topics() if t.name == ELIGIBILITY)  # all topics alike
    await ensure_topics(
        kafka,
        [
            TopicSpec(topic, partitions, 3_600_000),
            TopicSpec(dead_letter_topic(definition.name), 1, 3_600_000),
        ],
    )
    dsn = await provision_service(admin_dsn, name, "bench-pw")
    pool = await create_pool(dsn, name, 2)
    async with pool.acquire() as conn:
        await migrate(conn, name, definition.migrations)
    await pool.close()

    published = await publish(kafka, topic, batch)
    seconds, cpu, concurrency, known = await drain(definition, consumer, kafka, dsn, name, topic, len(batch))

    out = sys.__stdout__
    kinds = sorted({type(e).__name__ for e in batch})
    print(
        f"{definition.name} {consumer}: {len(batch)} events ({' + '.join(kinds)}), {schools} schools,",
        file=out,
    )
    print(f"  {partitions} partitions, partition concurrency {concurrency}", file=out)
    print(f"published:           {published:6.2f} s  {len(batch) / published:8.0f} events/s", file=out)
    print(
        f"consumer:            {seconds:6.2f} s  {len(batch) / seconds:8.0f} events/s"
        f"  {cpu / len(batch) * 1e6:5.0f} µs CPU/event (this process)",
        file=out,
    )
    print(f"read model: {known} {what} (expected {expected})", file=out)
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka)
    await admin.start()
    await admin.delete_topics([topic])
    await admin.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--consumer", choices=sorted(READ_MODEL_CHECKS), default="learners")
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--candidates", type=int, default=20, help="per CandidatesEnrolled (sessions)")
    parser.add_argument("--schools", type=int, default=40)
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args()
    configure_logging(args.consumer, args.log_level, "json")
    logging.getLogger().handlers[0].setStream(open(os.devnull, "w"))  # noqa: SIM115
    asyncio.run(main(args.consumer, args.events, args.schools, args.candidates))
