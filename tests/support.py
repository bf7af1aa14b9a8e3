from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer

from shared.contracts.envelope import Envelope
from shared.contracts.events import EVENT_TYPES, SessionUpdated
from shared.contracts.topics import TopicSpec, all_topics, dead_letter_topic
from shared.db import create_pool, migrate, provision_service
from shared.kafka_admin import ensure_topics, topic_partitions
from shared.outbox import OutboxRelay, unit_of_work
from shared.service import Runtime, ServiceDefinition, create_app
from tests.integration.harness.processes import EFFECTS_DDL

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
async def kafka(infrastructure) -> str:
    await ensure_topics(
        infrastructure.kafka_bootstrap_servers,
        [*all_topics(), TopicSpec(dead_letter_topic("harness"), 1, 86_400_000)],
    )
    return infrastructure.kafka_bootstrap_servers


@pytest.fixture(scope="session")
def admin_dsn(infrastructure) -> str:
    return infrastructure.admin_database_url


@dataclass
class Scratch:
    """A throw-away service schema with its own role, platform tables and an effects table."""

    name: str
    dsn: str
    pool: asyncpg.Pool

    async def effects(self, subject: str) -> list[asyncpg.Record]:
        """Effects of one aggregate (a new group also reads earlier tests' events on the topic)."""
        return await self.pool.fetch(
            "SELECT event_id, subject, marker FROM effects WHERE subject = $1 ORDER BY seq", subject
        )


@pytest.fixture
async def scratch(admin_dsn) -> AsyncIterator[Scratch]:
    name = f"it_{uuid.uuid4().hex[:10]}"
    dsn = await provision_service(admin_dsn, name, "scratch-pw")
    pool = await create_pool(dsn, name, 5)
    async with pool.acquire() as conn:
        await migrate(conn, name, None)
        await conn.execute(EFFECTS_DDL)
    yield Scratch(name, dsn, pool)
    await pool.close()


def session_update(subject: str, marker: str) -> SessionUpdated:
    return SessionUpdated(
        session_id=subject,
        session_number=1,
        uai="0750001A",
        certification_center="Collège test",
        school_level="college",
        address="Bâtiment A",
        room="B12",
        examiners=["M. Martin"],
        date=date(2027, 3, 10),
        time="09:00",
        access_code="BCDF23",
        invigilator_password_verifier="hmac_sha256$k$x$y",
        changed_fields=[marker],
        updated_at=datetime.now(UTC),
    )


async def emit(pool: asyncpg.Pool, *events) -> list[str]:
    """Raise events from a 'scheduler' transaction; return their event ids."""
    async with unit_of_work(pool, "scheduler") as uow:
        return [(await uow.emit(e)).id for e in events]


async def outbox_events(svc, event_cls: type | None = None) -> list:
    """The events a service raised (its outbox, oldest first, in the transaction of the state change),
    decoded; only those of ``event_cls`` when given."""
    rows = await svc.pool.fetch("SELECT event_type, payload FROM outbox ORDER BY id")
    events = [EVENT_TYPES[r["event_type"]].model_validate_json(r["payload"]) for r in rows]
    return [e for e in events if event_cls is None or isinstance(e, event_cls)]


async def wait_for(
    check: Callable[[], Awaitable[bool]], seconds: float = 45, what: str = "condition"
) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out after {seconds}s waiting for {what}")


class Proc:
    """A harness process whose output goes to a file the test can read."""

    def __init__(self, tmp: Path, *args: str) -> None:
        self.log = tmp / f"proc-{uuid.uuid4().hex[:6]}.log"
        self.handle = open(self.log, "wb")  # noqa: SIM115
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "tests.integration.harness.processes", *args],
            cwd=REPO,
            stdout=self.handle,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL: no cleanup, no offset commit, no graceful anything."""
        self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(10)
        self.handle.close()

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
        self.handle.close()


@pytest.fixture
def processes(tmp_path):
    started: list[Proc] = []

    def start(*args: str) -> Proc:
        proc = Proc(tmp_path, *args)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if not proc.handle.closed:
            proc.stop()


# --------------------------------------------------------------------------------------------
# running a whole service in-process, on a scratch schema and scratch consumer groups


@dataclass
class ServiceUnderTest:
    app: object
    http: httpx.AsyncClient
    runtime: Runtime
    schema: str
    _lifetime: AsyncExitStack

    @property
    def pool(self) -> asyncpg.Pool:
        return self.runtime.pool

    async def stop(self) -> None:
        """Stop the service now (a restart test then starts it again with ``schema=svc.schema``)."""
        await self._lifetime.aclose()


@asynccontextmanager
async def _service_starter(
    admin_dsn: str, kafka: str
) -> AsyncIterator[Callable[..., Awaitable[ServiceUnderTest]]]:
    """What ``start_service`` yields, for a scope of the caller's choosing."""
    stack = AsyncExitStack()
    dsns: dict[str, str] = {}

    async def start(
        definition: ServiceDefinition, schema: str | None = None, **overrides
    ) -> ServiceUnderTest:
        if schema is None:
            schema = f"it_{definition.name[:6]}_{uuid.uuid4().hex[:8]}"
        if schema not in dsns:
            dsns[schema] = await provision_service(admin_dsn, schema, "scratch-pw")
        settings = definition.settings_class(
            **{
                "database_url": dsns[schema],
                "database_schema": schema,
                "kafka_bootstrap_servers": kafka,
                "consumer_group_prefix": schema,
                "log_format": "console",
                "outbox_poll_seconds": 0.5,
                "retry_max_attempts": 3,
                "retry_backoff_ms": 20,
                **overrides,
            }
        )
        app = create_app(definition, settings)
        lifetime = AsyncExitStack()
        await lifetime.enter_async_context(app.router.lifespan_context(app))
        http = await lifetime.enter_async_context(
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://service")
        )
        stack.push_async_callback(lifetime.aclose)
        return ServiceUnderTest(app, http, app.state.runtime, schema, lifetime)

    async with stack:
        yield start


@pytest.fixture
async def start_service(admin_dsn, kafka) -> AsyncIterator[Callable[..., Awaitable[ServiceUnderTest]]]:
    """``svc = await start_service(definition, some_setting=…)``: the real service (migrations, consumers,
    outbox relay, HTTP routes) on its own scratch schema/role and consumer groups, stopped at teardown.
    ``start_service(definition, schema=svc.schema, …)`` starts it again on the same schema and groups;
    a ``schema`` not started yet is provisioned (a test that must know it before the service starts)."""
    async with _service_starter(admin_dsn, kafka) as start:
        yield start


@pytest.fixture(scope="module")
async def start_service_module(admin_dsn, kafka) -> AsyncIterator[Callable[..., Awaitable[ServiceUnderTest]]]:
    """``start_service`` whose services live as long as the test module (many cases, one start)."""
    async with _service_starter(admin_dsn, kafka) as start:
        yield start


class EventRecorder:
    """Records what is published on topics from the moment it starts (an event-recorder, hexkit style):
    ``events`` decoded, and ``raw`` (key, value) bytes of every record, to prove what never travels."""

    def __init__(self, kafka: str, topics: list[str]) -> None:
        self.kafka, self.topics = kafka, topics
        self.events: list[tuple[Envelope, object]] = []
        self.raw: list[tuple[bytes | None, bytes]] = []
        self._task: asyncio.Task | None = None

    async def __aenter__(self) -> EventRecorder:
        partitions = await topic_partitions(self.kafka, self.topics)
        self._consumer = AIOKafkaConsumer(bootstrap_servers=self.kafka, enable_auto_commit=False)
        await self._consumer.start()
        self._consumer.assign(partitions)
        ends = await self._consumer.end_offsets(partitions)
        for tp, offset in ends.items():
            self._consumer.seek(tp, offset)
        self._task = asyncio.create_task(self._collect())
        return self

    async def _collect(self) -> None:
        while True:
            batch = await self._consumer.getmany(timeout_ms=200)
            for records in batch.values():
                for record in records:
                    self.raw.append((record.key, record.value))
                    envelope = Envelope.from_headers(record.headers)
                    event_cls = EVENT_TYPES.get(envelope.type)
                    if event_cls is not None:
                        self.events.append((envelope, event_cls.model_validate_json(record.value)))

    def of(self, event_cls: type, **fields) -> list:
        """Recorded events of a class whose fields equal ``fields``."""
        return [
            event
            for _, event in self.events
            if isinstance(event, event_cls) and all(getattr(event, k) == v for k, v in fields.items())
        ]

    async def wait_for(self, event_cls: type, count: int = 1, seconds: float = 30, **fields) -> list:
        async def enough() -> bool:
            return len(self.of(event_cls, **fields)) >= count

        await wait_for(enough, seconds, what=f"{count} × {event_cls.__name__} {fields}")
        return self.of(event_cls, **fields)

    async def __aexit__(self, *exc) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self._consumer.stop()


@pytest.fixture
def record_events(kafka):
    """``async with record_events([topic, …]) as recorder:`` then ``await recorder.wait_for(Event, …)``."""

    def make(topics: list[str]) -> EventRecorder:
        return EventRecorder(kafka, topics)

    return make


@pytest.fixture
async def publish(scratch, kafka) -> AsyncIterator[Callable[..., Awaitable[list[str]]]]:
    """``await publish(event, …)``: each event raised from a scratch transaction of its owning service
    (as eligibility, scheduler or finalisation would) and published by a real outbox relay."""
    relay = OutboxRelay(dsn=scratch.dsn, schema=scratch.name, bootstrap_servers=kafka, poll_seconds=0.2)
    task = asyncio.create_task(relay.run())

    async def emit_as_owner(*events) -> list[str]:
        ids = []
        for event in events:
            async with unit_of_work(scratch.pool, event.source_service) as uow:
                ids.append((await uow.emit(event)).id)
        return ids

    yield emit_as_owner
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
