"""``certibus`` on real Kafka and Postgres: a dead letter listed, shown and redriven once the bug is
fixed, lag, topics, rewind."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import time
import uuid
from pathlib import Path

import pytest
from faststream.kafka import KafkaBroker

from shared.consumer import EventConsumer
from shared.contracts.events import SessionUpdated
from shared.contracts.topics import SCHEDULER, all_topics, dead_letter_topic
from shared.kafka_admin import end_offsets, group_lag, read_topic, reset_group_offsets
from shared.outbox import OutboxRelay
from tests.integration.harness.processes import record_effect
from tests.support import REPO, emit, session_update, wait_for

pytestmark = pytest.mark.integration


CERTIBUS = str(Path(sys.executable).parent / "certibus")


async def certibus(kafka: str, prefix: str, *args: str, status: int = 0, **env: str) -> str:
    """``certibus …`` (the installed console script) as an operator runs it; its standard output."""
    proc = await asyncio.create_subprocess_exec(
        CERTIBUS,
        *args,
        cwd=REPO,
        env={**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka, "CONSUMER_GROUP_PREFIX": prefix, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == status, f"exit {proc.returncode}: {err.decode()}{out.decode()}"
    return out.decode()


async def ops(kafka: str, prefix: str, *args: str, status: int = 0) -> dict:
    """``certibus … --json``: the document it prints."""
    return json.loads(await certibus(kafka, prefix, *args, "--json", status=status))


async def test_a_dead_letter_redriven_after_the_fix_is_applied_exactly_once(scratch, kafka):
    subject = str(uuid.uuid4())
    broken = {subject}

    async def handler(uow, event: SessionUpdated, envelope) -> None:
        if envelope.subject in broken:
            raise RuntimeError("the bug is not fixed yet")
        await record_effect(uow, event, envelope)

    prefix = scratch.name  # groups <prefix>.finalisation.sessions: the command must find them too
    broker = KafkaBroker(kafka, logger=logging.getLogger("faststream"))
    consumer = EventConsumer(
        service="finalisation",
        name="sessions",
        pool=scratch.pool,
        broker=broker,
        retry_max_attempts=2,
        retry_backoff_ms=10,
        group_prefix=prefix,
    )
    consumer.on(SessionUpdated, handler)
    consumer.subscribe(SCHEDULER)
    # the group starts at the topic's end, not at the history other tests left there
    await reset_group_offsets(kafka, consumer.group_id, [SCHEDULER], since_ms=int(time.time() * 1000))
    [event_id] = await emit(scratch.pool, session_update(subject, "fragile"))
    relay = asyncio.create_task(
        OutboxRelay(dsn=scratch.dsn, schema=scratch.name, bootstrap_servers=kafka, poll_seconds=0.2).run()
    )
    try:
        async with broker:
            await broker.start()
            await wait_for(lambda: _true(consumer.dead_lettered == 1), what="the dead letter")
            assert await scratch.effects(subject) == []
            listed = await ops(
                kafka,
                prefix,
                "dlq",
                "list",
                "--service",
                "finalisation",
                "--limit",
                "100000",
                "--fail-if-any",
                status=1,
            )
            [mine] = [d for d in listed["dead_letters"] if d["event_id"] == event_id]
            assert listed["count"] >= 1 and mine["consumer"] == consumer.group_id
            assert mine["type"] == "certibus.scheduler.session_updated.v2" and mine["attempts"] == 2
            assert "the bug is not fixed yet" in mine["error"] and mine["origin"].startswith(SCHEDULER + "[")
            table = await certibus(kafka, prefix, "dlq", "list", "--limit", "100000", status=0)
            assert event_id in table  # every service's dead letters, as a table, exit 0 without --fail-if-any
            [shown] = (await ops(kafka, prefix, "dlq", "show", "--event-id", event_id))["dead_letters"]
            assert shown["payload"]["session_id"] == subject and shown["headers"]["ce_id"] == event_id
            missing = await ops(kafka, prefix, "dlq", "show", "--event-id", str(uuid.uuid4()), status=1)
            assert missing == {"dead_letters": []}

            broken.clear()  # the fix is deployed
            assert await ops(
                kafka, prefix, "dlq", "redrive", "--service", "finalisation", "--event-id", event_id
            ) == {"redriven": 1, "event_ids": [event_id]}
            await wait_for(lambda: _effects(scratch, subject, 1), what="the redriven event to be applied")
            # an operator redrives again (or redrives everything): the inbox drops it
            await ops(kafka, prefix, "dlq", "redrive", "--service", "finalisation", "--event-id", event_id)
            await wait_for(lambda: _true(consumer.duplicates == 1), what="the second redrive to be seen")
            await wait_for(lambda: _caught_up(kafka, consumer.group_id), what="offsets committed")

            lag = await ops(kafka, prefix, "lag", "--service", "finalisation")
    finally:
        relay.cancel()
        await asyncio.gather(relay, return_exceptions=True)
    assert [str(r["event_id"]) for r in await scratch.effects(subject)] == [event_id]
    redriven = [
        r for r in await read_topic(kafka, SCHEDULER) if dict(r.headers).get("ce_id") == event_id.encode()
    ]
    assert len(redriven) == 3  # the original and two redrives, with the original envelope, no dlq_ headers
    assert all(not any(k.startswith("dlq_") for k, _ in r.headers) for r in redriven)
    assert len({r.partition for r in redriven}) == 1  # same key, same partition
    [dead] = [
        r
        for r in await read_topic(kafka, dead_letter_topic("finalisation"))
        if dict(r.headers).get("ce_id") == event_id.encode()
    ]
    assert dict(dead.headers)["dlq_consumer"] == consumer.group_id.encode()

    rows = lag["partitions"]
    assert {row["group"] for row in rows} == {consumer.group_id}
    mine = [row for row in rows if row["topic"] == SCHEDULER and row["partition"] == redriven[0].partition]
    assert mine and mine[0]["committed"] == mine[0]["end"] and mine[0]["lag"] == 0
    assert lag["total_lag"] == sum(row["lag"] for row in rows)

    # a stopped group rewound to a time: its offsets move there (records before it are not re-read)
    rewound = await ops(
        kafka,
        prefix,
        "rewind",
        "--group",
        consumer.group_id,
        "--topic",
        SCHEDULER,
        "--since",
        "2999-01-01T00:00:00Z",
    )
    ends = {(r["topic"], r["partition"]): r["end"] for r in rows}
    after = {(tp.topic, tp.partition): o for tp, o in (await end_offsets(kafka, [SCHEDULER])).items()}
    moved = {(o["topic"], o["partition"]): o["offset"] for o in rewound["offsets"]}
    assert set(moved) == set(ends)  # (other tests write to the topic meanwhile: the end moves on)
    assert all(ends[tp] <= moved[tp] <= after[tp] for tp in moved)
    committed = {
        (p.topic, p.partition): p.committed for p in await group_lag(kafka, consumer.group_id, [SCHEDULER])
    }
    assert committed == moved
    assert rewound["since"] == "2999-01-01T00:00:00+00:00"


async def test_topics_describe_shows_every_certibus_topic_as_created(kafka):
    described = await ops(kafka, "certibus", "topics", "describe")
    rows = {r["topic"]: r for r in described["topics"]}
    assert set(rows) == {t.name for t in all_topics()}
    for spec in all_topics():
        row = rows[spec.name]
        assert row["exists"] and row["cleanup_policy"] == "delete"
        assert row["partitions"] == spec.partitions and row["retention_ms"] == spec.retention_ms
        assert row["replication_factor"] == 1
    created = await ops(kafka, "certibus", "topics", "create")
    assert created["created"] == [] and set(created["existing"]) == set(rows)


async def _true(value: bool) -> bool:
    return value


async def _effects(scratch, subject: str, n: int) -> bool:
    return len(await scratch.effects(subject)) >= n


async def _caught_up(kafka: str, group_id: str) -> bool:
    lags = await group_lag(kafka, group_id, [SCHEDULER])
    return bool(lags) and all(p.lag == 0 for p in lags)
