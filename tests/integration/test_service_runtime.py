"""The shared service runtime on real infrastructure: health, readiness, topics, cross-service events."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time
import uuid
from datetime import UTC, datetime

import pytest
from fastapi import APIRouter, Depends

from shared.contracts.events import SessionCancelled
from shared.contracts.topics import SCHEDULER, all_topics
from shared.kafka_admin import describe_topic_configs, group_lag, reset_group_offsets, topic_partitions
from shared.service import Runtime, ServiceDefinition, get_runtime
from tests.support import REPO, emit, session_update, wait_for

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


async def test_sigterm_lets_the_handler_in_flight_finish_and_commits_its_offset(scratch, kafka, tmp_path):
    subject = str(uuid.uuid4())
    group = f"{scratch.name}.finalisation.slow"
    await reset_group_offsets(kafka, group, [SCHEDULER], since_ms=int(time.time() * 1000))
    marker, log = tmp_path / "handler-started", tmp_path / "service.log"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        **os.environ,
        "DATABASE_URL": scratch.dsn,
        "DATABASE_SCHEMA": scratch.name,
        "KAFKA_BOOTSTRAP_SERVERS": kafka,
        "CONSUMER_GROUP_PREFIX": scratch.name,
        "HTTP_PORT": str(port),
        "OUTBOX_POLL_SECONDS": "0.5",
        "SLOW_HANDLER_MARKER": str(marker),
        "SLOW_HANDLER_SECONDS": "2",
    }
    out = await asyncio.to_thread(log.open, "wb")
    service = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.integration.harness.slow_service",
        cwd=REPO,
        env=env,
        stdout=out,
        stderr=out,
    )
    try:
        [event_id] = await emit(scratch.pool, session_update(subject, "slow"))
        await wait_for(lambda: _true(marker.exists()), what="the handler to start")
        service.send_signal(signal.SIGTERM)  # as an orchestrator stops a replica
        await asyncio.wait_for(service.wait(), 30)
    finally:
        if service.returncode is None:
            service.kill()
            await service.wait()
        out.close()
    assert "service stopped" in log.read_text(errors="replace")
    assert [str(r["event_id"]) for r in await scratch.effects(subject)] == [
        event_id
    ]  # finished, not cancelled
    [handled] = await scratch.pool.fetch("SELECT topic, kafka_partition, kafka_offset FROM inbox")
    [row] = [
        p for p in await group_lag(kafka, group, [SCHEDULER]) if p.partition == handled["kafka_partition"]
    ]
    assert row.committed == handled["kafka_offset"] + 1  # a restart does not even redeliver it


async def _true(value: bool) -> bool:
    return value
