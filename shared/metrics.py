"""Prometheus metrics of one service process: one registry, every series labelled by ``service``.

``create_app`` builds a ``ServiceMetrics`` per service and serves it on ``/metrics``; the consumer,
the inbox outcomes, the outbox relay, the HTTP middleware and the periodic jobs record into it.
Several services can run in one process (the tests do): each has its own registry, so nothing
lands in prometheus-client's global one. What costs a query or a broker round trip (the outbox
backlog, lag of partitions that saw no batch lately) is sampled when Prometheus scrapes, never per
event; per event there is at most a counter increment, on a labelled child cached here.
docs/metrics.md lists every series.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import structlog
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST

log = structlog.get_logger(__name__)

disable_created_metrics()  # no ``*_created`` series: Prometheus has the process start time already

__all__ = ["CONTENT_TYPE_LATEST", "OUTCOMES", "ServiceMetrics", "exposed_names"]

#: what became of an event a consumer received (``certibus_events_handled_total{outcome}``)
APPLIED, DUPLICATE, RETRIED, DEAD_LETTERED = "applied", "duplicate", "retried", "dead_lettered"
OUTCOMES = (APPLIED, DUPLICATE, RETRIED, DEAD_LETTERED)
#: the event type label of a record whose envelope did not parse (never a raw header value:
#: whatever a producer writes there must not become a new series)
UNKNOWN_TYPE = "unknown"

#: handlers run a few ms; a batch of 500 records up to seconds; HTTP imports tens of seconds
HANDLER_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
BATCH_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)

#: what runs before each scrape to refresh sampled gauges
Sampler = Callable[[], Awaitable[None]]


class ServiceMetrics:
    """The series of one service; ``scrape()`` is the body of its ``/metrics``."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.registry = CollectorRegistry()
        self._samplers: list[Sampler] = []
        self._children: dict[tuple[Any, ...], Any] = {}
        r = self.registry
        self.events = Counter(
            "certibus_events_handled",
            "Events a consumer group received, by event type and outcome"
            " (applied, duplicate, retried, dead_lettered)",
            ["service", "consumer", "event_type", "outcome"],
            registry=r,
        )
        self.handler_seconds = Histogram(
            "certibus_handler_duration_seconds",
            "Time in one handler call (a batch handler: one call for its run of events)",
            ["service", "consumer", "event_type"],
            buckets=HANDLER_BUCKETS,
            registry=r,
        )
        self.batch_seconds = Histogram(
            "certibus_batch_duration_seconds",
            "Time to handle one batch of records taken from Kafka (all its partitions' runs)",
            ["service", "consumer"],
            buckets=BATCH_BUCKETS,
            registry=r,
        )
        self.consumer_lag = Gauge(
            "certibus_consumer_lag",
            "Records of a partition not handled yet by this member: high-water mark minus its position",
            ["service", "consumer", "topic", "partition"],
            registry=r,
        )
        self.outbox_unpublished = Gauge(
            "certibus_outbox_unpublished",
            "Outbox rows not yet published (sampled at scrape)",
            ["service"],
            registry=r,
        )
        self.outbox_oldest_age = Gauge(
            "certibus_outbox_oldest_unpublished_age_seconds",
            "Age of the oldest unpublished outbox row, 0 when none (sampled at scrape)",
            ["service"],
            registry=r,
        )
        self.outbox_published = Counter(
            "certibus_outbox_published_events",
            "Events the outbox relay published to Kafka, by event type",
            ["service", "event_type"],
            registry=r,
        )
        self.relay_active = Gauge(
            "certibus_outbox_relay_active",
            "1 when this process holds the schema's relay lock (one replica per service does)",
            ["service"],
            registry=r,
        )
        self.http_requests = Counter(
            "certibus_http_requests",
            "HTTP requests answered, by route template, method and status",
            ["service", "method", "route", "status"],
            registry=r,
        )
        self.http_seconds = Histogram(
            "certibus_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template and method",
            ["service", "method", "route"],
            buckets=HTTP_BUCKETS,
            registry=r,
        )
        self.job_last_success = Gauge(
            "certibus_job_last_success_timestamp_seconds",
            "Unix time of a periodic job's last successful run",
            ["service", "job"],
            registry=r,
        )

    def _child(self, metric: Any, *labels: str) -> Any:
        """The labelled child, cached: ``labels()`` takes a lock, a dict lookup does not."""
        key = (id(metric), *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(self.service, *labels)
        return child

    # ---- consumers ----------------------------------------------------------------------------

    def count_events(self, consumer: str, event_type: str, outcome: str, count: int = 1) -> None:
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}: one of {', '.join(OUTCOMES)}")
        if count:
            self._child(self.events, consumer, event_type, outcome).inc(count)

    def observe_handler(self, consumer: str, event_type: str, seconds: float) -> None:
        self._child(self.handler_seconds, consumer, event_type).observe(seconds)

    def observe_batch(self, consumer: str, seconds: float) -> None:
        self._child(self.batch_seconds, consumer).observe(seconds)

    def set_lag(self, consumer: str, topic: str, partition: int, lag: int) -> None:
        self._child(self.consumer_lag, consumer, topic, str(partition)).set(max(lag, 0))

    def replace_lag(self, consumer: str, lags: dict[tuple[str, int], int]) -> None:
        """A group's lag is exactly ``lags``: partitions it no longer owns lose their series."""
        owned = {(topic, str(partition)) for topic, partition in lags}
        for sample in self.consumer_lag.collect()[0].samples:
            labels = sample.labels
            if labels["consumer"] == consumer and (labels["topic"], labels["partition"]) not in owned:
                self.consumer_lag.remove(self.service, consumer, labels["topic"], labels["partition"])
                self._children.pop(
                    (id(self.consumer_lag), consumer, labels["topic"], labels["partition"]), None
                )
        for (topic, partition), lag in lags.items():
            self.set_lag(consumer, topic, partition, lag)

    # ---- outbox -------------------------------------------------------------------------------

    def set_outbox_backlog(self, unpublished: int, oldest_age_seconds: float | None) -> None:
        self._child(self.outbox_unpublished).set(unpublished)
        self._child(self.outbox_oldest_age).set(oldest_age_seconds or 0.0)

    def count_published(self, event_types: Iterable[str]) -> None:
        """One relay batch: one increment per event type, not per row."""
        counts: dict[str, int] = {}
        for event_type in event_types:
            counts[event_type] = counts.get(event_type, 0) + 1
        for event_type, count in counts.items():
            self._child(self.outbox_published, event_type).inc(count)

    def set_relay_active(self, active: bool) -> None:
        self._child(self.relay_active).set(1 if active else 0)

    # ---- HTTP and jobs ------------------------------------------------------------------------

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self._child(self.http_requests, method, route, str(status)).inc()
        self._child(self.http_seconds, method, route).observe(seconds)

    def job_succeeded(self, job: str, at: float | None = None) -> None:
        self._child(self.job_last_success, job).set(time.time() if at is None else at)

    # ---- exposition ---------------------------------------------------------------------------

    def add_sampler(self, sampler: Sampler) -> None:
        """Run ``sampler()`` before each scrape (a failing one is logged; the others still run)."""
        self._samplers.append(sampler)

    async def scrape(self) -> bytes:
        """Refresh the sampled gauges, then the text exposition format of the whole registry."""
        for sampler in self._samplers:
            try:
                await sampler()
            except Exception as exc:  # a scrape answers with what it has; the gauge keeps its value
                log.warning(
                    "metrics sampler failed", sampler=getattr(sampler, "__name__", "?"), error=str(exc)
                )
        return generate_latest(self.registry)


def exposed_names(registry: CollectorRegistry) -> set[str]:
    """Every series name the registry can expose, children or not (``_total``, ``_bucket``, …)."""
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}
    names: set[str] = set()
    for family in registry.collect():
        names.update(family.name + suffix for suffix in suffixes.get(family.type, ("",)))
    return names
