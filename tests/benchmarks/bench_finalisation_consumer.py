"""Benchmark (not a test): finalisation's sessions consumer draining the scheduler's events.

    . .local/env && .venv/bin/python tests/benchmarks/bench_finalisation_consumer.py \
        [--sessions 1000] [--candidates 20] [--partitions 6] [--concurrency 4] [--only batched]

Publishes ``--sessions`` SessionCreated and as many CandidatesEnrolled (``--candidates`` each) to a
throw-away topic (keyed by session id, like the relay), in two orders: *phased* (every session
created, then every enrolment: planning, then the enrolment commands, as in the académie run) and
*interleaved* (each session's creation then its enrolment: the worst case for runs of one type).
Then, for each order, times finalisation's consumer draining them, each on a fresh schema of its
own and a new group:

- ``per-event``: the per-event handlers, partitions one after the other (the consumer before this
  change: one statement set per event, in one transaction per partition's run);
- ``batched-serial``: the batch handlers, partitions one after the other;
- ``batched``: the batch handlers, partitions in parallel (what the service now runs).

The figure is timed from the consumer's first batch to its last inbox row (joining the group is not
counted), with the CPU over the same span of this process and of the PostgreSQL backends serving
its pool (read from /proc: run it on the machine of the database; WAL writer and checkpointer are
not counted); logs go through the services' JSON configuration at INFO into /dev/null. The end checks that every mode left the same rows.
Profile the after case with ``py-spy record -o out.svg -- .venv/bin/python … --only batched``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from faststream.kafka import KafkaBroker

from services.finalisation import handlers
from services.finalisation.app import definition
from shared.consumer import EventConsumer
from shared.contracts.envelope import Envelope
from shared.contracts.events import CandidatesEnrolled, EnrolledCandidate, Event
from shared.contracts.topics import TopicSpec, dead_letter_topic
from shared.db import create_pool, migrate, provision_service
from shared.kafka_admin import ensure_topics
from shared.logging import configure_logging
from tests.events import session as session_created

MODES = ("per-event", "batched-serial", "batched")
ORDERS = ("phased", "interleaved")
POOL_SIZE = 10


def scheduler_events(sessions: int, candidates: int) -> tuple[list[Event], list[Event]]:
    """The sessions' SessionCreated, and their CandidatesEnrolled (``candidates`` each)."""
    created, enrolled = [], []
    for n in range(sessions):
        session_id = str(uuid.uuid4())
        created.append(
            session_created("0750001A", 100_000 + n, session_id=session_id, created_at=datetime.now(UTC))
        )
        enrolled.append(
            CandidatesEnrolled(
                session_id=session_id,
                uai="0750001A",
                candidates=[
                    EnrolledCandidate(
                        candidate_id=f"{session_id}-{i:02d}",
                        learner_id=f"learner-{session_id}-{i:02d}",
                        ine=f"{n:06d}{i:03d}AB",
                        first_name=f"Prénom{i}",
                        last_name=f"Nom{n}",
                        birthdate=date(2012, 1 + i % 12, 1 + i % 28),
                        division="3A",
                    )
                    for i in range(candidates)
                ],
                enrolled_at=datetime.now(UTC),
            )
        )
    return created, enrolled


async def publish(kafka: str, topic: str, events: list[Event]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=kafka, enable_idempotence=True, linger_ms=5)
    await producer.start()
    try:
        sends = []
        for event in events:
            envelope = Envelope.new(
                source="/certibus/scheduler", type=event.event_type, subject=event.subject()
            )
            headers = [(k, v.encode()) for k, v in envelope.to_headers().items()]
            sends.append(
                await producer.send(
                    topic,
                    value=event.model_dump_json().encode(),
                    key=event.subject().encode(),
                    headers=headers,
                )
            )
        await asyncio.gather(*sends)
    finally:
        await producer.stop()


def configure(mode: str, concurrency: int) -> Callable[[EventConsumer], None]:
    def apply(consumer: EventConsumer) -> None:
        if mode == "per-event":
            for event_cls, handler in handlers.PER_EVENT_HANDLERS.items():
                consumer.on(event_cls, handler)
            return
        for event_cls, batch_handler in handlers.BATCH_HANDLERS.items():
            consumer.on_batch(event_cls, batch_handler)
        consumer.partition_concurrency = concurrency if mode == "batched" else 1

    return apply


def backend_cpu(pids: list[int]) -> float:
    """CPU seconds (user + system) the PostgreSQL backends ``pids`` have used so far (/proc)."""
    ticks = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rpartition(")")[2].split()
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


class Drained(NamedTuple):
    seconds: float
    cpu: float  # this process
    pg_cpu: float  # the pool's PostgreSQL backends
    pool: asyncpg.Pool
    schema: str


async def drain(
    kafka: str, admin_dsn: str, topic: str, service: str, events: int, configure_consumer
) -> Drained:
    """A new consumer on a fresh schema, from its first batch to its last inbox row: wall seconds,
    CPU seconds of this process and of its PostgreSQL backends; the pool is left open (to compare rows)."""
    schema = f"bench_fin_{uuid.uuid4().hex[:8]}"
    pool = await create_pool(await provision_service(admin_dsn, schema, "bench-pw"), schema, POOL_SIZE)
    async with pool.acquire() as conn:
        await migrate(conn, schema, definition.migrations)
    held = [await pool.acquire() for _ in range(POOL_SIZE)]  # every connection opened now, pids known
    pids = [await conn.fetchval("SELECT pg_backend_pid()") for conn in held]
    for conn in held:
        await pool.release(conn)
    broker = KafkaBroker(kafka, logger=None)  # its own lines would bury the figures
    consumer = EventConsumer(service=service, name=schema, pool=pool, broker=broker)
    configure_consumer(consumer)
    first_batch: list[float] = []
    handle_batch = consumer.handle_batch

    async def timed(records) -> None:
        if not first_batch:
            first_batch.extend((time.perf_counter(), time.process_time(), backend_cpu(pids)))
        await handle_batch(records)

    consumer.handle_batch = timed  # type: ignore[method-assign]
    consumer.subscribe(topic)
    async with broker:
        await broker.start()
        while await pool.fetchval("SELECT count(*) FROM inbox") < events:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        finished, cpu, pg_cpu = time.perf_counter(), time.process_time(), backend_cpu(pids)
        await consumer.close()
    started, started_cpu, started_pg_cpu = first_batch
    return Drained(finished - started, cpu - started_cpu, pg_cpu - started_pg_cpu, pool, schema)


async def state(pool: asyncpg.Pool) -> list[list[asyncpg.Record]]:
    return [
        await pool.fetch("SELECT * FROM sessions ORDER BY session_id"),
        await pool.fetch("SELECT * FROM candidates ORDER BY session_id, candidate_id"),
    ]


async def main(args: argparse.Namespace) -> None:
    kafka, admin_dsn = os.environ["KAFKA_BOOTSTRAP_SERVERS"], os.environ["DATABASE_URL"]
    out = sys.__stdout__
    service = f"benchfin{uuid.uuid4().hex[:6]}"
    modes = [args.only] if args.only else list(MODES)
    orders = [args.order] if args.order else list(ORDERS)
    created, enrolled = scheduler_events(args.sessions, args.candidates)
    sequences = {
        "phased": created + enrolled,
        "interleaved": [e for pair in zip(created, enrolled, strict=True) for e in pair],
    }
    print(
        f"{args.sessions} SessionCreated + {args.sessions} CandidatesEnrolled ({args.candidates} candidates"
        f" each) on {args.partitions} partitions; partition concurrency {args.concurrency}",
        file=out,
    )
    schemas: list[str] = []
    for order in orders:
        topic = f"certibus.bench.finalisation.{uuid.uuid4().hex[:8]}"
        await ensure_topics(
            kafka,
            [
                TopicSpec(topic, args.partitions, 3_600_000),
                TopicSpec(dead_letter_topic(service), 1, 3_600_000),
            ],
        )
        events = sequences[order]
        await publish(kafka, topic, events)
        states = []
        for mode in modes:
            run = await drain(
                kafka, admin_dsn, topic, service, len(events), configure(mode, args.concurrency)
            )
            schemas.append(run.schema)
            states.append(await state(run.pool))
            await run.pool.close()
            n = len(events)
            print(
                f"{order:11s} {mode:15s} {run.seconds:6.2f} s  {n / run.seconds:6.0f} events/s"
                f"  {n * args.candidates / 2 / run.seconds:6.0f} candidates/s"
                f"  CPU-ms/event: consumer {run.cpu / n * 1e3:5.2f} + PostgreSQL {run.pg_cpu / n * 1e3:5.2f}"
                f" = {(run.cpu + run.pg_cpu) / n * 1e3:5.2f}",
                file=out,
            )
        same = all(s == states[0] for s in states)
        print(f"{order:11s} same rows in every mode: {'yes' if same else 'NO'}", file=out)
        await _delete_topics(kafka, [topic])
    await _delete_topics(kafka, [dead_letter_topic(service)])
    await _drop_schemas(admin_dsn, schemas)


async def _delete_topics(kafka: str, topics: list[str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka)
    await admin.start()
    await admin.delete_topics(topics)
    await admin.close()


async def _drop_schemas(admin_dsn: str, schemas: list[str]) -> None:
    """The benchmark's schemas and roles go away (the shared database keeps only the services')."""
    conn = await asyncpg.connect(admin_dsn)
    try:
        for schema in schemas:
            await conn.execute(f"DROP SCHEMA {schema} CASCADE")
            await conn.execute(f"DROP ROLE certibus_{schema}")
    finally:
        await conn.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--candidates", type=int, default=20)
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--concurrency", type=int, default=4, help="CONSUMER_PARTITION_CONCURRENCY")
    parser.add_argument("--only", choices=MODES, help="one mode (e.g. to profile it)")
    parser.add_argument("--order", choices=ORDERS, help="one order of the events")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args()
    configure_logging("bench", args.log_level, "json")
    logging.getLogger().handlers[0].setStream(open(os.devnull, "w"))  # noqa: SIM115
    asyncio.run(main(args))
