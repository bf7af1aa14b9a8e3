"""/metrics on real Kafka and PostgreSQL: a request, an event through the outbox and a consumer move
the series operators alert on (HTTP counter, outbox backlog and age, relay, events, handler, lag)."""

from __future__ import annotations

import asyncio
import dataclasses
import importlib
import time
import uuid
from datetime import UTC, datetime

import asyncpg
import pytest
from fastapi import APIRouter, Depends
from prometheus_client.parser import text_string_to_metric_families

from shared.contracts.events import SessionCancelled
from shared.contracts.topics import SCHEDULER
from shared.kafka_admin import reset_group_offsets
from shared.service import Runtime, ServiceDefinition, get_runtime
from tests.support import wait_for

pytestmark = pytest.mark.integration
JOB_SUCCESS = "certibus_job_last_success_timestamp_seconds"

commands = APIRouter()


@commands.post("/cancel/{session_id}")
async def cancel(session_id: str, runtime: Runtime = Depends(get_runtime)) -> dict:
    async with runtime.unit_of_work() as uow:
        await uow.emit(
            SessionCancelled(session_id=session_id, uai="0750001A", cancelled_at=datetime.now(UTC))
        )
    return {"cancelled": session_id}


def wire_listener(runtime: Runtime) -> None:
    async def on_cancelled(uow, event: SessionCancelled, envelope) -> None:
        await uow.conn.execute("CREATE TABLE IF NOT EXISTS seen (session_id text, event_id uuid)")
        await uow.conn.execute("INSERT INTO seen VALUES ($1, $2)", event.session_id, envelope.id)

    runtime.consumer("sessions", SCHEDULER).on(SessionCancelled, on_cancelled)


async def scrape(svc) -> dict[tuple[str, frozenset], float]:
    """``{(sample, labels): value}`` of the service's ``/metrics``, read with prometheus-client's parser."""
    answer = await svc.http.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain; version=")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(answer.text)
        for s in family.samples
    }


def pick(metrics: dict, name: str, **labels: str) -> float:
    """The sum of the samples named ``name`` whose labels include ``labels`` (0 when none)."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in metrics.items() if n == name and wanted <= ls)


async def test_a_request_and_the_event_it_raises_move_the_series(start_service, kafka, admin_dsn):
    cancelled = SessionCancelled.event_type
    # a fresh group on the shared topic starts at "now", or it would read every earlier test's events
    prefix = f"it_metrics_{uuid.uuid4().hex[:8]}"
    group = f"{prefix}.finalisation.sessions"
    await reset_group_offsets(kafka, group, [SCHEDULER], since_ms=int(time.time() * 1000))
    listener = await start_service(
        ServiceDefinition(name="finalisation", wire=wire_listener), consumer_group_prefix=prefix
    )
    # another replica holds the scheduler's relay lock: what the request raises waits in the outbox
    schema = f"it_metric_{uuid.uuid4().hex[:8]}"
    holder = await asyncpg.connect(admin_dsn)
    try:
        await holder.execute("SELECT pg_advisory_lock(hashtext($1))", f"certibus.outbox.{schema}")
        scheduler = await start_service(ServiceDefinition(name="scheduler", router=commands), schema=schema)
        assert scheduler.runtime.relay.lock_key == f"certibus.outbox.{schema}"
        before = await scrape(scheduler)
        assert pick(before, "certibus_outbox_unpublished", service="scheduler") == 0
        session_id = str(uuid.uuid4())
        assert (await scheduler.http.post(f"/cancel/{session_id}")).status_code == 200
        await asyncio.sleep(0.05)  # the age is rounded to the millisecond
        waiting = await scrape(scheduler)
        assert pick(waiting, "certibus_outbox_unpublished", service="scheduler") == 1
        assert pick(waiting, "certibus_outbox_oldest_unpublished_age_seconds", service="scheduler") > 0
        assert pick(waiting, "certibus_outbox_relay_active", service="scheduler") == 0
        requests = {"service": "scheduler", "method": "POST", "route": "/cancel/{session_id}"}
        assert pick(waiting, "certibus_http_requests_total", status="200", **requests) == 1
        assert pick(waiting, "certibus_http_request_duration_seconds_count", **requests) == 1
        assert not [labels for (_, labels) in waiting if ("route", f"/cancel/{session_id}") in labels]
    finally:
        await holder.close()  # the lock goes with the connection: the service's relay takes over

    async def published() -> bool:
        now = await scrape(scheduler)
        return (
            pick(now, "certibus_outbox_published_events_total", service="scheduler", event_type=cancelled)
            == 1
            and pick(now, "certibus_outbox_unpublished", service="scheduler") == 0
        )

    await wait_for(published, what="the relay to publish the outbox row")
    after = await scrape(scheduler)
    assert pick(after, "certibus_outbox_relay_active", service="scheduler") == 1
    assert pick(after, "certibus_outbox_oldest_unpublished_age_seconds", service="scheduler") == 0

    async def handled() -> bool:
        seen = await listener.pool.fetchval("SELECT to_regclass('seen') IS NOT NULL") and (
            await listener.pool.fetchval("SELECT count(*) FROM seen WHERE session_id = $1", session_id)
        )
        return bool(seen)

    await wait_for(handled, what="the listener to handle SessionCancelled")
    consumed = await scrape(listener)
    labels = {"service": "finalisation", "consumer": group, "event_type": cancelled}
    # ≥ 1: other engineers' tests publish on the same topic while this one runs
    assert pick(consumed, "certibus_events_handled_total", outcome="applied", **labels) >= 1
    assert pick(consumed, "certibus_events_handled_total", outcome="dead_lettered", **labels) == 0
    assert pick(consumed, "certibus_handler_duration_seconds_count", **labels) >= 1
    assert pick(consumed, "certibus_handler_duration_seconds_sum", **labels) > 0
    assert (
        pick(consumed, "certibus_batch_duration_seconds_count", service="finalisation", consumer=group) >= 1
    )
    lags = [
        v
        for (name, ls), v in consumed.items()
        if name == "certibus_consumer_lag" and ("consumer", group) in ls and ("topic", SCHEDULER) in ls
    ]
    assert lags and all(lag >= 0 for lag in lags)
    # the service's own series only: the scheduler's requests are not in the listener's registry
    assert not pick(consumed, "certibus_http_requests_total", service="scheduler")
    # a scrape is counted once answered: the next one shows it
    again = await scrape(listener)
    assert (
        pick(again, "certibus_http_requests_total", service="finalisation", route="/metrics", status="200")
        == 1
    )


@pytest.mark.parametrize(
    ("service", "job"),
    [("finalisation", "overdue_tick"), ("eligibility", "remediation_tick"), ("export", "rebuild_all_stale")],
)
async def test_the_services_jobs_report_their_last_success(start_service, tmp_path, service, job):
    """The real jobs (the names the alerts watch), their first tick at start-up; no consumers: these
    schemas are empty and a new group would read the whole shared topic."""
    definition = importlib.import_module(f"services.{service}.app").definition
    extra = {"export_output_dir": tmp_path} if service == "export" else {}
    started = time.time()
    svc = await start_service(dataclasses.replace(definition, wire=None), **extra)

    async def ticked() -> bool:
        now = await scrape(svc)
        return all(pick(now, JOB_SUCCESS, service=service, job=name) for name in (job, "outbox_pruning"))

    await wait_for(ticked, what=f"{service}'s {job} and outbox pruning to succeed once")
    stamp = pick(await scrape(svc), JOB_SUCCESS, service=service, job=job)
    assert started <= stamp <= time.time()
