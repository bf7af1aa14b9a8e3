"""shared/metrics.py and its hooks without infrastructure: series, labels, lag, samplers, HTTP routes."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import httpx
import pytest
from aiokafka import ConsumerRecord, TopicPartition
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from shared.consumer import EventConsumer
from shared.contracts.envelope import Envelope
from shared.contracts.events import SessionUpdated
from shared.contracts.topics import SCHEDULER
from shared.http import RequestMetrics
from shared.metrics import ServiceMetrics, exposed_names
from shared.usecases import every


def samples(text: bytes) -> dict[tuple[str, frozenset], float]:
    """``{(sample name, labels): value}`` of an exposition, parsed by prometheus-client's own parser."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text.decode())
        for s in family.samples
    }


def value(text: bytes, name: str, **labels: str) -> float | None:
    return samples(text).get((name, frozenset(labels.items())))


async def test_event_outcomes_are_counted_by_group_type_and_outcome_with_the_service_label():
    metrics = ServiceMetrics("finalisation")
    metrics.count_events("g", "certibus.scheduler.session_cancelled.v1", "applied", 3)
    metrics.count_events("g", "certibus.scheduler.session_cancelled.v1", "applied")
    metrics.count_events("g", "certibus.scheduler.session_cancelled.v1", "duplicate", 0)  # no series
    text = await metrics.scrape()
    labels = dict(service="finalisation", consumer="g", event_type="certibus.scheduler.session_cancelled.v1")
    assert value(text, "certibus_events_handled_total", outcome="applied", **labels) == 4
    assert value(text, "certibus_events_handled_total", outcome="duplicate", **labels) is None
    assert b"_created" not in text
    with pytest.raises(ValueError, match="unknown outcome 'skipped'"):
        metrics.count_events("g", "t", "skipped")


async def test_each_service_has_its_own_registry():
    one, two = ServiceMetrics("scheduler"), ServiceMetrics("export")
    one.observe_request("GET", "/health", 200, 0.01)
    assert value(await two.scrape(), "certibus_http_requests_total", service="export") is None
    text = await one.scrape()
    assert (
        value(
            text,
            "certibus_http_requests_total",
            service="scheduler",
            method="GET",
            route="/health",
            status="200",
        )
        == 1
    )
    assert (
        value(
            text,
            "certibus_http_request_duration_seconds_count",
            service="scheduler",
            method="GET",
            route="/health",
        )
        == 1
    )


async def test_lag_is_never_negative_and_partitions_no_longer_owned_lose_their_series():
    metrics = ServiceMetrics("export")
    metrics.replace_lag("g", {("t", 0): 5, ("t", 1): -3})
    metrics.replace_lag("other", {("t", 0): 9})
    text = await metrics.scrape()
    assert value(text, "certibus_consumer_lag", service="export", consumer="g", topic="t", partition="1") == 0
    metrics.replace_lag("g", {("t", 1): 2})
    text = await metrics.scrape()
    assert (
        value(text, "certibus_consumer_lag", service="export", consumer="g", topic="t", partition="0") is None
    )
    assert value(text, "certibus_consumer_lag", service="export", consumer="g", topic="t", partition="1") == 2
    assert (
        value(text, "certibus_consumer_lag", service="export", consumer="other", topic="t", partition="0")
        == 9
    )


async def test_samplers_run_before_each_scrape_and_a_failing_one_does_not_fail_it():
    metrics = ServiceMetrics("scheduler")
    calls: list[int] = []

    async def backlog() -> None:
        calls.append(1)
        metrics.set_outbox_backlog(len(calls) * 10, None if len(calls) == 1 else 4.5)

    async def broken() -> None:
        raise ConnectionError("database gone")

    metrics.add_sampler(broken)
    metrics.add_sampler(backlog)
    first = await metrics.scrape()
    assert value(first, "certibus_outbox_unpublished", service="scheduler") == 10
    assert value(first, "certibus_outbox_oldest_unpublished_age_seconds", service="scheduler") == 0
    second = await metrics.scrape()
    assert value(second, "certibus_outbox_oldest_unpublished_age_seconds", service="scheduler") == 4.5


async def test_published_events_are_counted_per_type_in_one_increment_per_batch():
    metrics = ServiceMetrics("scheduler")
    metrics.count_published(["a", "b", "a"])
    text = await metrics.scrape()
    assert value(text, "certibus_outbox_published_events_total", service="scheduler", event_type="a") == 2
    assert value(text, "certibus_outbox_published_events_total", service="scheduler", event_type="b") == 1


def test_exposed_names_cover_every_kind_of_series():
    names = exposed_names(ServiceMetrics("x").registry)
    assert {
        "certibus_events_handled_total",
        "certibus_handler_duration_seconds_bucket",
        "certibus_batch_duration_seconds_count",
        "certibus_consumer_lag",
        "certibus_job_last_success_timestamp_seconds",
    } <= names
    assert "certibus_events_handled" not in names


# ---- HTTP -----------------------------------------------------------------------------------


async def test_requests_are_counted_by_route_template_not_raw_path():
    metrics = ServiceMetrics("scheduler")
    app = FastAPI()
    app.add_middleware(RequestMetrics, metrics=metrics)

    @app.get("/sessions/{session_id}")
    async def session(session_id: str) -> dict:
        return {"id": session_id}

    @app.get("/boom")
    async def boom() -> dict:
        raise RuntimeError("bug")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        assert (await http.get("/sessions/s-1")).status_code == 200
        assert (await http.get("/sessions/s-2")).status_code == 200
        assert (await http.get("/nowhere")).status_code == 404
        assert (await http.get("/boom")).status_code == 500
        assert (await http.request("BREW", "/nowhere")).status_code == 404
    text = await metrics.scrape()
    count = "certibus_http_requests_total"
    common = {"service": "scheduler", "method": "GET"}
    assert value(text, count, route="/sessions/{session_id}", status="200", **common) == 2
    assert value(text, count, route="unmatched", status="404", **common) == 1
    assert value(text, count, route="/boom", status="500", **common) == 1
    assert value(text, count, route="unmatched", status="404", service="scheduler", method="OTHER") == 1
    assert not [name for (name, labels) in samples(text) if ("route", "/sessions/s-1") in labels]


# ---- consumer and jobs ------------------------------------------------------------------------


class ParkingBroker:
    def __init__(self) -> None:
        self.published: list[str] = []

    async def publish(self, value, *, topic, key, headers) -> None:
        self.published.append(topic)


def record(headers: list[tuple[str, bytes]], value: bytes = b"{}", partition: int = 2, offset: int = 7):
    return ConsumerRecord(SCHEDULER, partition, offset, 0, 0, b"k", value, None, 1, len(value), headers)


async def test_records_dead_lettered_at_decoding_are_counted_with_their_type_or_unknown():
    metrics = ServiceMetrics("harness")
    consumer = EventConsumer(
        service="harness", name="unit", pool=None, broker=ParkingBroker(), metrics=metrics
    )
    consumer.on(SessionUpdated, None)  # type: ignore[arg-type]  # never reached: both records are parked
    envelope = Envelope.new(source="/certibus/scheduler", type=SessionUpdated.event_type, subject="s-1")
    await consumer.handle_record(record([]))  # no envelope
    await consumer.handle_record(record([(k, v.encode()) for k, v in envelope.to_headers().items()]))
    text = await metrics.scrape()
    group = {"service": "harness", "consumer": "certibus.harness.unit", "outcome": "dead_lettered"}
    assert value(text, "certibus_events_handled_total", event_type="unknown", **group) == 1
    assert value(text, "certibus_events_handled_total", event_type=SessionUpdated.event_type, **group) == 1


class PositionsConsumer:
    """What ``EventConsumer.lag`` reads of aiokafka's consumer: assignment, high-water marks, positions."""

    def __init__(self, highwater: dict[TopicPartition, int | None], positions: dict[TopicPartition, int]):
        self._high, self._positions = highwater, positions

    def assignment(self) -> set[TopicPartition]:
        return set(self._high)

    def highwater(self, tp: TopicPartition) -> int | None:
        return self._high[tp]

    async def position(self, tp: TopicPartition) -> int:
        return self._positions[tp]


async def test_consumer_lag_is_the_high_water_mark_minus_what_was_handled_else_the_fetch_position():
    consumer = EventConsumer(service="harness", name="unit", pool=None, broker=ParkingBroker())
    handled, fetched, unknown = (TopicPartition(SCHEDULER, p) for p in (0, 1, 2))
    consumer._kafka_consumer = PositionsConsumer({handled: 50, fetched: 30, unknown: None}, {fetched: 26})
    consumer._handled_to[handled] = 42  # the fetch position (ahead: prefetched) does not count
    assert await consumer.lag() == {(SCHEDULER, 0): 8, (SCHEDULER, 1): 4}


async def test_a_job_records_its_last_successful_tick_only():
    ticks: list[int] = []
    done = asyncio.Event()

    async def nightly_tick(_runtime: object) -> None:
        ticks.append(1)
        if len(ticks) == 1:
            raise RuntimeError("first tick fails")
        done.set()

    metrics = ServiceMetrics("eligibility")
    runtime = SimpleNamespace(metrics=metrics, interval=0.01)
    text = await metrics.scrape()
    assert (
        value(text, "certibus_job_last_success_timestamp_seconds", service="eligibility", job="nightly_tick")
        is None
    )
    task = asyncio.create_task(every(nightly_tick, lambda r: r.interval, "nightly")(runtime))
    await asyncio.wait_for(done.wait(), 5)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    stamp = value(
        await metrics.scrape(),
        "certibus_job_last_success_timestamp_seconds",
        service="eligibility",
        job="nightly_tick",
    )
    assert stamp is not None and stamp > 1.7e9
