"""The operator commands on real Kafka and Postgres: a dead letter redriven once the bug is fixed, lag."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
import uuid

import pytest
from faststream.kafka import KafkaBroker

from shared.consumer import EventConsumer
from shared.contracts.events import SessionUpdated
from shared.contracts.topics import SCHEDULER, dead_letter_topic
from shared.kafka_admin import group_lag, reset_group_offsets
from shared.ops import read_topic
from shared.outbox import OutboxRelay
from tests.integration.harness.processes import record_effect
from tests.support import REPO, emit, session_update, wait_for

pytestmark = pytest.mark.integration


async def ops(kafka: str, prefix: str, *args: str) -> str:
    """``python -m shared.ops …`` as an operator runs it; its standard output."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "shared.ops",
        *args,
        cwd=REPO,
        env={**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka, "CONSUMER_GROUP_PREFIX": prefix},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    return out.decode()


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
            listed = await ops(kafka, prefix, "dlq", "list", "--service", "finalisation", "--limit", "100000")
            assert event_id in listed and "the bug is not fixed yet" in listed

            broken.clear()  # the fix is deployed
            assert "redriven: 1" in await ops(
                kafka, prefix, "dlq", "redrive", "--service", "finalisation", "--event-id", event_id
            )
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

    rows = [line.split() for line in lag.splitlines()[1:]]
    assert {row[0] for row in rows} == {consumer.group_id}
    mine = [row for row in rows if row[1] == SCHEDULER and int(row[2]) == redriven[0].partition]
    assert mine and mine[0][3] == mine[0][4] and mine[0][5] == "0"  # committed == end, lag 0


async def _true(value: bool) -> bool:
    return value


async def _effects(scratch, subject: str, n: int) -> bool:
    return len(await scratch.effects(subject)) >= n


async def _caught_up(kafka: str, group_id: str) -> bool:
    lags = await group_lag(kafka, group_id, [SCHEDULER])
    return bool(lags) and all(p.lag == 0 for p in lags)
