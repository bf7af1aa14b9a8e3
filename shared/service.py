"""The runtime every service shares: settings, logs, database, topics, consumers, relay, HTTP.

A service describes itself with a ``ServiceDefinition`` (its name, migrations, consumers, routes,
background jobs, read-model tables) and ``run`` does the rest; ``python -m services.<name>`` calls
it. ``/health`` says the process is alive; ``/ready`` says whether it can serve its API (a broker
outage only degrades it, a database outage makes it unready: shared/health.py); ``/metrics`` is
its Prometheus registry (shared/metrics.py, docs/metrics.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import structlog
import uvicorn
from fastapi import APIRouter, FastAPI, Request, Response
from faststream.kafka import KafkaBroker

from shared.auth import token_verifier
from shared.clock import ManualClock, SystemClock
from shared.consumer import EventConsumer
from shared.contracts.topics import all_topics
from shared.db import create_pool, migrate, schema_for
from shared.health import install_database_unavailable_handler, outbox_backlog, readiness
from shared.http import RequestMetrics, install_error_handlers
from shared.kafka_admin import ensure_topics, reset_group_offsets
from shared.kafka_security import service_broker
from shared.logging import configure_logging
from shared.metrics import CONTENT_TYPE_LATEST, ServiceMetrics
from shared.outbox import OutboxRelay, UnitOfWork, prune_published, unit_of_work
from shared.settings import ServiceSettings

log = structlog.get_logger(__name__)

#: ``ServiceDefinition.digest_ignores`` value that leaves a whole table out of the digest
WHOLE_TABLE = ("*",)


@dataclass
class Runtime:
    """What handlers, routes and jobs of a running service get to work with."""

    definition: ServiceDefinition
    settings: Any
    pool: asyncpg.Pool
    broker: KafkaBroker
    relay: OutboxRelay
    consumers: list[EventConsumer] = field(default_factory=list)
    clock: SystemClock | ManualClock = field(default_factory=SystemClock)
    state: dict[str, Any] = field(default_factory=dict)
    #: this service's Prometheus series (served on /metrics)
    metrics: ServiceMetrics | None = None

    def __post_init__(self) -> None:
        if self.metrics is None:
            self.metrics = ServiceMetrics(self.definition.name)

    @property
    def service(self) -> str:
        return self.definition.name

    def unit_of_work(self) -> AbstractAsyncContextManager[UnitOfWork]:
        """A transaction of this service whose events go to its outbox."""
        return unit_of_work(self.pool, self.service)

    def consumer(self, name: str, *topics: str, parallel_partitions: bool = False) -> EventConsumer:
        """A consumer group ``certibus.<service>.<name>`` reading ``topics``; register handlers on it.

        ``parallel_partitions=True`` declares that its handlers never touch the same rows from two
        partitions (no shared counters, no check across aggregates of different keys): the
        partitions of a batch are then applied CONSUMER_PARTITION_CONCURRENCY at a time, each in its
        own transaction on its own connection. Otherwise they are applied one after the other.
        """
        s = self.settings
        consumer = EventConsumer(
            service=self.service,
            name=name,
            pool=self.pool,
            broker=self.broker,
            retry_max_attempts=s.retry_max_attempts,
            retry_backoff_ms=s.retry_backoff_ms,
            retry_backoff_max_ms=s.retry_backoff_max_ms,
            group_prefix=s.consumer_group_prefix,
            commit_every=s.consumer_commit_every,
            commit_interval_ms=s.consumer_commit_interval_ms,
            batch_max_records=s.consumer_batch_max_records,
            batch_timeout_ms=s.consumer_batch_timeout_ms,
            partition_concurrency=s.consumer_partition_concurrency if parallel_partitions else 1,
            topics=topics,
            metrics=self.metrics,
        )
        self.consumers.append(consumer)
        return consumer


@dataclass
class ServiceDefinition:
    name: str
    settings_class: type[ServiceSettings] = ServiceSettings
    migrations: Path | None = None
    #: registers consumers and handlers: ``wire(runtime)``
    wire: Callable[[Runtime], None] | None = None
    #: HTTP routes; handlers get the runtime with ``Depends(get_runtime)``
    router: APIRouter | None = None
    #: long-running jobs started with the service (clocks, schedulers)
    jobs: list[Callable[[Runtime], Awaitable[None]]] = field(default_factory=list)
    #: tables built only from consumed events, cleared by a rebuild (replay)
    read_model_tables: list[str] = field(default_factory=list)
    #: what ``certibus digest`` leaves out of a read-model table because it legitimately differs
    #: between a live run and a replay (when a row was received, ids a sequence handed out), per
    #: table; ``WHOLE_TABLE`` leaves the table out (state a job keeps on its own clock)
    digest_ignores: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: HTTP status of each refusal code its use cases raise (``shared.errors.statuses``); others 422
    error_statuses: Mapping[str, int] = field(default_factory=dict)
    title: str = ""


async def rebuild_read_models(runtime: Runtime) -> None:
    """Replay mode: clear derived tables and this service's inbox, rewind its groups to the start
    (or to REBUILD_SINCE)."""
    tables = runtime.definition.read_model_tables
    since = runtime.settings.rebuild_since
    since_ms = None if since is None else int(since.timestamp() * 1000)
    async with runtime.pool.acquire() as conn, conn.transaction():
        if tables:
            await conn.execute(f"TRUNCATE {', '.join(tables)}")
        await conn.execute("DELETE FROM inbox")
    for consumer in runtime.consumers:
        await reset_group_offsets(
            runtime.settings.kafka_bootstrap_servers, consumer.group_id, list(consumer.topics), since_ms
        )
    log.warning(
        "read models cleared for replay",
        tables=tables,
        consumers=[c.group_id for c in runtime.consumers],
        since=None if since is None else since.isoformat(),
    )


async def _prune_outbox_hourly(runtime: Runtime) -> None:
    """Keep the outbox small: published rows older than OUTBOX_RETENTION_HOURS go, every hour."""
    retention = timedelta(hours=runtime.settings.outbox_retention_hours)
    while True:
        try:
            deleted = await prune_published(runtime.pool, retention)
            if deleted:
                log.info("published outbox rows pruned", rows=deleted)
            if runtime.metrics is not None:
                runtime.metrics.job_succeeded("outbox_pruning")
        except Exception:
            log.exception("outbox pruning failed; will retry")
        await asyncio.sleep(3600)


async def _sample(runtime: Runtime) -> None:
    """Before a scrape: outbox backlog (one query), relay lock, each consumer group's lag."""
    metrics = runtime.metrics
    assert metrics is not None
    metrics.set_relay_active(runtime.relay.active)
    for consumer in runtime.consumers:
        metrics.replace_lag(consumer.group_id, await consumer.lag())
    backlog = await outbox_backlog(runtime.pool)
    metrics.set_outbox_backlog(backlog["unpublished"], backlog["oldest_unpublished_age_seconds"])


def create_app(definition: ServiceDefinition, settings: ServiceSettings | None = None) -> FastAPI:
    settings = settings or definition.settings_class()
    metrics = ServiceMetrics(definition.name)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(definition.name, settings.log_level, settings.log_format)
        if not settings.api_tokens() and not settings.oidc_issuer:
            log.warning(
                "school API open: neither OIDC_ISSUER nor API_TOKEN is set, anyone who reaches the"
                " port can call it; set OIDC_ISSUER in every real deployment"
            )
        schema = settings.database_schema or schema_for(definition.name)
        pool = await create_pool(settings.database_url, schema, settings.database_pool_max)
        async with pool.acquire() as conn:
            await migrate(conn, schema, definition.migrations)
        await ensure_topics(
            settings.kafka_bootstrap_servers,
            all_topics(
                settings.topic_partitions, settings.topic_retention_days, settings.topic_replication_factor
            ),
        )
        broker = service_broker(
            settings,
            f"certibus-{definition.name}",
            log_level=logging.DEBUG,  # "Received"/"Processed" per message: our handler logs one line
        )
        relay = OutboxRelay(
            dsn=settings.database_url,
            schema=schema,
            bootstrap_servers=settings.kafka_bootstrap_servers,
            batch_size=settings.outbox_batch_size,
            poll_seconds=settings.outbox_poll_seconds,
            metrics=metrics,
        )
        runtime = Runtime(definition, settings, pool, broker, relay, metrics=metrics)
        app.state.runtime = runtime
        metrics.add_sampler(lambda: _sample(runtime))
        if definition.wire:
            definition.wire(runtime)
        for consumer in runtime.consumers:
            consumer.subscribe(*consumer.topics)
        if settings.rebuild_read_models:
            await rebuild_read_models(runtime)
        await broker.start()
        tasks = [
            asyncio.create_task(relay.run(), name="outbox-relay"),
            asyncio.create_task(_prune_outbox_hourly(runtime), name="outbox-pruning"),
        ]
        tasks += [asyncio.create_task(job(runtime), name=job.__name__) for job in definition.jobs]
        log.info("service started", port=settings.http_port)
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            # in-flight records finish (bounded) and handled offsets are committed, then the broker
            # leaves the groups; anything still running after the grace period is cancelled (rolled back)
            await asyncio.gather(*(consumer.close() for consumer in runtime.consumers))
            await broker.stop()
            await pool.close()
            log.info("service stopped")

    app = FastAPI(title=definition.title or f"certibus {definition.name}", lifespan=lifespan)
    app.state.api_tokens = tuple(settings.api_tokens())
    app.state.token_verifier = token_verifier(settings)
    install_error_handlers(app, definition.error_statuses)
    install_database_unavailable_handler(app)
    app.add_middleware(RequestMetrics, metrics=metrics)
    app.state.metrics = metrics

    @app.get("/health", tags=["operations"])
    async def health() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok", "service": definition.name}

    @app.get("/ready", tags=["operations"])
    async def ready(response: Response) -> dict[str, Any]:
        """Readiness: can serve its API. 200 ``ready``, 200 ``degraded`` (broker down, events wait in
        the outbox, backlog shown), 503 ``not ready`` (database down); see shared/health.py."""
        response.status_code, body = await readiness(app.state.runtime)
        return body

    @app.get("/metrics", tags=["operations"], response_class=Response)
    async def prometheus_metrics() -> Response:
        """Prometheus text format of this service's series (docs/metrics.md); unauthenticated like
        /health: counts and latencies, no personal data."""
        return Response(await metrics.scrape(), media_type=CONTENT_TYPE_LATEST)

    if definition.router is not None:
        app.include_router(definition.router)
    return app


def runtime_of(request: Request) -> Runtime:
    """The running service's runtime, for code that holds the request."""
    return request.app.state.runtime


async def get_runtime(request: Request) -> Runtime:
    """FastAPI dependency: the running service's runtime (``runtime: Runtime = Depends(get_runtime)``).

    ``async`` on purpose, as every dependency here: FastAPI runs a plain ``def`` dependency in a
    worker thread, a thread hand-off per request for a lookup."""
    return runtime_of(request)


def run(definition: ServiceDefinition) -> None:
    """Entry point of ``python -m services.<name>``."""
    settings = definition.settings_class()
    app = create_app(definition, settings)
    uvicorn.run(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,
        timeout_keep_alive=settings.http_keepalive_seconds,
    )
