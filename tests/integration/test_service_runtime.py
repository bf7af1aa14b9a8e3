"""The shared service runtime on real infrastructure: health, readiness, topics, cross-service events."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from fastapi import APIRouter, Depends

from shared.contracts.events import SessionCancelled
from shared.contracts.topics import SCHEDULER, all_topics
from shared.kafka_admin import describe_topic_configs, topic_partitions
from shared.service import Runtime, ServiceDefinition, get_runtime
from tests.support import wait_for

pytestmark = pytest.mark.integration

commands = APIRouter()


@commands.post("/cancel/{session_id}")
async def cancel(session_id: str, runtime: Runtime = Depends(get_runtime)) -> dict:
    async with runtime.unit_of_work() as uow:
        await uow.conn.execute("CREATE TABLE IF NOT EXISTS cancelled (session_id text PRIMARY KEY)")
        await uow.conn.execute("INSERT INTO cancelled VALUES ($1)", session_id)
        await uow.emit(
            SessionCancelled(session_id=session_id, uai="0750001A", cancelled_at=datetime.now(UTC))
        )
    return {"cancelled": session_id}


def wire_listener(runtime: Runtime) -> None:
    async def on_cancelled(uow, event: SessionCancelled, envelope) -> None:
        await uow.conn.execute("CREATE TABLE IF NOT EXISTS seen (session_id text, event_id uuid)")
        await uow.conn.execute("INSERT INTO seen VALUES ($1, $2)", event.session_id, envelope.id)

    runtime.consumer("sessions", SCHEDULER).on(SessionCancelled, on_cancelled)


async def test_health_and_readiness(start_service):
    svc = await start_service(ServiceDefinition(name="scheduler"))
    assert (await svc.http.get("/health")).json()["status"] == "ok"
    ready = await svc.http.get("/ready")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": True, "broker": True}


async def test_topics_are_created_with_explicit_partitions_and_retention(start_service, kafka):
    await start_service(ServiceDefinition(name="scheduler"))
    for spec in all_topics():
        assert len(await topic_partitions(kafka, [spec.name])) == spec.partitions
        config = await describe_topic_configs(kafka, spec.name)
        assert config["retention.ms"] == str(spec.retention_ms)
        assert config["cleanup.policy"] == spec.cleanup_policy


async def test_event_raised_by_one_service_is_handled_by_another(start_service):
    scheduler = await start_service(ServiceDefinition(name="scheduler", router=commands))
    listener = await start_service(ServiceDefinition(name="finalisation", wire=wire_listener))
    session_id = str(uuid.uuid4())
    assert (await scheduler.http.post(f"/cancel/{session_id}")).status_code == 200

    async def seen() -> bool:
        exists = await listener.pool.fetchval("SELECT to_regclass('seen') IS NOT NULL")
        return exists and await listener.pool.fetchval(
            "SELECT count(*) FROM seen WHERE session_id = $1", session_id
        )

    await wait_for(seen, what="the listener to handle SessionCancelled")
    assert await scheduler.pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 0
