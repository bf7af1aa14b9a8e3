"""``UnitOfWork.emit_many``: a batch of events written in one statement, published like ``emit``'s."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest

from shared.contracts.envelope import Envelope
from shared.contracts.events import SessionUpdated
from shared.contracts.topics import SCHEDULER
from shared.outbox import OutboxRelay, prune_published, unit_of_work
from tests.support import session_update

pytestmark = pytest.mark.integration


async def test_emit_many_writes_every_event_in_order_with_its_envelope(scratch):
    subject = str(uuid.uuid4())
    events = [session_update(subject, f"m{i:03d}") for i in range(250)]
    async with unit_of_work(scratch.pool, "scheduler") as uow:
        envelopes = await uow.emit_many(events)
    rows = await scratch.pool.fetch(
        "SELECT event_id, key, event_type, headers, payload FROM outbox ORDER BY id"
    )
    assert [str(r["event_id"]) for r in rows] == [e.id for e in envelopes]
    assert {r["key"] for r in rows} == {subject}
    assert {r["event_type"] for r in rows} == {SessionUpdated.event_type}
    first = rows[0]
    assert Envelope.from_headers(first["headers"]).id == envelopes[0].id
    assert SessionUpdated.model_validate_json(first["payload"]).changed_fields == ["m000"]
    assert SessionUpdated.model_validate_json(rows[-1]["payload"]).changed_fields == ["m249"]


async def test_emit_many_refuses_another_services_event_and_writes_nothing(scratch):
    with pytest.raises(ValueError, match="cannot raise"):
        async with unit_of_work(scratch.pool, "eligibility") as uow:
            await uow.emit_many([session_update(str(uuid.uuid4()), "x")])
    assert await scratch.pool.fetchval("SELECT count(*) FROM outbox") == 0


async def test_emit_many_of_nothing_is_a_no_op(scratch):
    async with unit_of_work(scratch.pool, "scheduler") as uow:
        assert await uow.emit_many([]) == []
    assert await scratch.pool.fetchval("SELECT count(*) FROM outbox") == 0


async def test_events_emitted_in_a_batch_are_published_in_order(scratch, kafka, record_events):
    subject = str(uuid.uuid4())
    async with record_events([SCHEDULER]) as recorder:
        async with unit_of_work(scratch.pool, "scheduler") as uow:
            await uow.emit_many([session_update(subject, f"b{i:02d}") for i in range(30)])
        relay = OutboxRelay(dsn=scratch.dsn, schema=scratch.name, bootstrap_servers=kafka, poll_seconds=0.2)
        task = asyncio.create_task(relay.run())
        try:
            published = await recorder.wait_for(SessionUpdated, count=30, session_id=subject)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    assert [e.changed_fields[0] for e in published] == [f"b{i:02d}" for i in range(30)]


async def test_pruning_deletes_only_rows_published_long_enough_ago(scratch):
    subject = str(uuid.uuid4())
    async with unit_of_work(scratch.pool, "scheduler") as uow:
        await uow.emit_many(
            [session_update(subject, m) for m in ("old", "recent", "unpublished", "ancient-unsent")]
        )
    ids = [r["id"] for r in await scratch.pool.fetch("SELECT id FROM outbox ORDER BY id")]
    await scratch.pool.execute(
        "UPDATE outbox SET published_at = now() - interval '8 days' WHERE id = $1", ids[0]
    )
    await scratch.pool.execute(
        "UPDATE outbox SET published_at = now() - interval '1 hour' WHERE id = $1", ids[1]
    )
    await scratch.pool.execute(
        "UPDATE outbox SET created_at = now() - interval '30 days' WHERE id = $1", ids[3]
    )

    assert await prune_published(scratch.pool, timedelta(days=7)) == 1
    assert [r["id"] for r in await scratch.pool.fetch("SELECT id FROM outbox ORDER BY id")] == ids[1:]
