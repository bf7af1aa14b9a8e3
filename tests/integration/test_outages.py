"""Real outages (issue 11 item 3): the broker, then PostgreSQL, stopped ≈ 30 s under running services.

The shared infrastructure serves everyone else, so the module starts a Kafka broker and a PostgreSQL
server of its own (deploy/local's localinfra, tests/private_infra.py) and the four services on them as
real processes (deploy/local/stack.py: their consumers, outbox relays and HTTP APIs, logging JSON to
files). Then it stops the broker: the school API keeps accepting commands, /ready stays 200 and says
the broker is degraded with the outbox backlog, aiokafka's errors stay a bounded handful of lines;
once the broker is back the backlog drains and every event reaches every consumer once. Then it stops
PostgreSQL: /ready is 503 with the reason, a command answers 503 ``database.unavailable`` and changes
nothing, a record consumed meanwhile waits instead of being dead-lettered; once the database is back
everything resumes, and no process was restarted.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer

from deploy.local.schools import local_run_calendar
from deploy.local.stack import Stack, StackConfig, start_stack
from shared.contracts.envelope import Envelope
from shared.contracts.events import SessionCreated
from shared.contracts.topics import SCHEDULER, SERVICES, dead_letter_topic
from shared.kafka_admin import read_topic
from tests.private_infra import PrivateInfra
from tests.support import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

#: this test's HTTP ports (8800–8809 are the outage tests' range)
PORTS = {"scheduler": 8800, "eligibility": 8801, "finalisation": 8802, "export": 8803, "academie": 8804}
OUTAGE_SECONDS = 30
UAI = "0210042K"
#: weekdays in the 2026-2027 lycée window of the local (provisional) calendar, one session a day
SESSION_DAYS = [
    f"2027-01-{d:02d}" for d in (4, 5, 6, 7, 8, 11, 12, 13, 14, 15, 18, 19, 20, 21, 22, 25, 26, 27, 28, 29)
]
#: the consumers that apply SessionCreated, one per service that reads the scheduler's topic
SESSION_CONSUMERS = ("eligibility.sessions", "finalisation.sessions", "export.sessions")
#: aiokafka WARNING/ERROR lines a second per service, at most, from the broker's stop until the
#: backlog is applied: one line per cause every 5 s (shared/logging.py) for a handful of causes
#: (measured ≈ 1 a second); without the rate limit ≈ 140 a second (the lines it held back)
MAX_AIOKAFKA_LINES_PER_SECOND = 2.0
#: WARNING/ERROR lines a second per service, any logger, while PostgreSQL is down
MAX_PROBLEM_LINES_PER_SECOND = 3.0


@dataclass
class Running:
    infra: PrivateInfra
    stack: Stack
    config: StackConfig
    namespace: str
    pids: dict[str, int]

    def log(self, service: str) -> Path:
        return self.config.log_dir / f"{service}.log"


@pytest.fixture(scope="module")
def running(tmp_path_factory) -> Iterator[Running]:
    root = tmp_path_factory.mktemp("outages")
    with PrivateInfra(root / "infra") as infra:
        namespace = f"out{uuid.uuid4().hex[:6]}"
        config = StackConfig(
            kafka_bootstrap_servers=infra.kafka_bootstrap_servers,
            admin_database_url=infra.admin_database_url,
            log_dir=root / "logs",
            output_dir=root / "exports",
            ports=dict(PORTS),
            namespace=namespace,
            extra_env={
                "SCHEDULER_CALENDAR_FILE": str(local_run_calendar(root / "calendar.json")),
                "OUTBOX_POLL_SECONDS": "1",
                "RETRY_BACKOFF_MAX_MS": "2000",
            },
        )
        stack = start_stack(config, with_sandbox=False)
        try:
            pids = {name: p.pid for name, p in stack.processes.items()}
            yield Running(infra, stack, config, namespace, pids)
        finally:
            stack.stop()


@pytest.fixture
async def api(running) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {running.config.api_token}"}
    async with httpx.AsyncClient(headers=headers, timeout=15) as client:
        yield client


def url(running: Running, service: str, path: str) -> str:
    return running.config.url(service) + path


async def create_session(api: httpx.AsyncClient, running: Running, day: int) -> httpx.Response:
    """A session at 08:00 on the ``day``-th of ``SESSION_DAYS`` (one room, one session a day)."""
    return await api.post(
        url(running, "scheduler", f"/schools/{UAI}/sessions"),
        json={"room": "Salle 101", "invigilators": ["Mme Dupré"], "date": SESSION_DAYS[day], "time": "08:00"},
    )


async def ensure_school(api: httpx.AsyncClient, running: Running) -> None:
    body = {
        "name": "Lycée Carnot",
        "level": "lycee",
        "city": "Dijon",
        "site": "Bâtiment principal",
        "rooms": [{"name": "Salle 101", "workstations": 30}],
        "staff": [{"name": "Mme Dupré"}],
    }
    reply = await api.put(url(running, "scheduler", f"/schools/{UAI}"), json=body)
    assert reply.status_code in (200, 201), reply.text


async def ready(api: httpx.AsyncClient, running: Running, service: str) -> tuple[int, dict]:
    reply = await api.get(url(running, service, "/ready"))
    return reply.status_code, reply.json()


class Database:
    """The private server as the admin sees it: each service's outbox and inbox."""

    def __init__(self, running: Running) -> None:
        self.running = running

    async def fetch(self, sql: str, *args) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(self.running.infra.admin_database_url)
        try:
            return await conn.fetch(sql, *args)
        finally:
            await conn.close()

    def schema(self, service: str) -> str:
        return f"{self.running.namespace}_{service}"

    async def session_events(self) -> list[uuid.UUID]:
        """The SessionCreated events the scheduler raised (its outbox), oldest first."""
        rows = await self.fetch(
            f"SELECT event_id FROM {self.schema('scheduler')}.outbox WHERE event_type = $1 ORDER BY id",
            SessionCreated.event_type,
        )
        return [r["event_id"] for r in rows]

    async def unpublished(self) -> int:
        rows = await self.fetch(
            f"SELECT count(*) AS n FROM {self.schema('scheduler')}.outbox WHERE published_at IS NULL"
        )
        return rows[0]["n"]

    async def inbox_counts(self, consumer: str, event_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
        """How many times each event was applied by ``consumer`` (``<service>.<name>``): its inbox rows."""
        service, _ = consumer.split(".", 1)
        rows = await self.fetch(
            f"SELECT event_id, count(*) AS n FROM {self.schema(service)}.inbox"
            " WHERE consumer = $1 AND event_id = ANY($2::uuid[]) GROUP BY event_id",
            f"{self.running.namespace}.{consumer}",
            event_ids,
        )
        counts = {r["event_id"]: r["n"] for r in rows}
        return {event_id: counts.get(event_id, 0) for event_id in event_ids}

    async def applied_once_everywhere(self, event_ids: list[uuid.UUID]) -> bool:
        for consumer in SESSION_CONSUMERS:
            if set((await self.inbox_counts(consumer, event_ids)).values()) != {1}:
                return False
        return True

    async def sessions_of_school(self) -> int:
        rows = await self.fetch(
            f"SELECT count(*) AS n FROM {self.schema('scheduler')}.sessions WHERE uai = $1", UAI
        )
        return rows[0]["n"]


def log_size(running: Running) -> dict[str, int]:
    return {s: running.log(s).stat().st_size for s in SERVICES}


def log_lines_since(running: Running, service: str, offset: int) -> list[dict]:
    with running.log(service).open("rb") as log:
        log.seek(offset)
        lines = log.read().decode(errors="replace").splitlines()
    parsed = []
    for line in lines:
        try:
            parsed.append(json.loads(line))
        except ValueError:
            parsed.append({"event": line, "level": "unparsed"})
    return parsed


def warnings_and_errors(lines: list[dict], logger: str = "") -> int:
    """Lines at WARNING or above (of ``logger`` and its children when given)."""
    return sum(
        1
        for line in lines
        if str(line.get("logger", "")).startswith(logger)
        and line.get("level") in ("warning", "error", "critical")
    )


async def dead_letters(running: Running) -> dict[str, int]:
    return {
        s: len(await read_topic(running.infra.kafka_bootstrap_servers, dead_letter_topic(s)))
        for s in SERVICES
    }


def assert_no_restart(running: Running) -> None:
    assert running.stack.restarts == [], running.stack.restarts
    assert {name: p.pid for name, p in running.stack.processes.items()} == running.pids


async def test_a_broker_outage_degrades_readiness_keeps_the_api_and_loses_nothing(running, api):
    db = Database(running)
    await ensure_school(api, running)
    first = await create_session(api, running, 0)
    assert first.status_code == 201, first.text
    await wait_for(lambda: _applied(db), 60, "the first session everywhere")
    sizes = log_size(running)

    stopped_at = time.monotonic()
    running.infra.stop_kafka()
    accepted = []
    degraded: list[dict] = []
    days = iter(range(1, 12))
    while time.monotonic() - stopped_at < OUTAGE_SECONDS:
        reply = await create_session(api, running, next(days))
        assert reply.status_code == 201, reply.text  # the outbox holds its event
        accepted.append(reply.json()["session_id"])
        for service in SERVICES:
            status, body = await ready(api, running, service)
            assert status == 200, (service, body)
            if body["status"] == "degraded":
                degraded.append({"service": service, **body})
        await asyncio.sleep(4)
    scheduler_views = [d for d in degraded if d["service"] == "scheduler"]
    assert scheduler_views, "the scheduler never reported the broker as degraded"
    last = scheduler_views[-1]
    assert last["broker"] == "degraded" and last["checks"] == {"database": True, "broker": False}
    assert last["outbox"]["unpublished"] >= len(accepted) - 1 > 0
    assert last["outbox"]["oldest_unpublished_age_seconds"] > 0
    assert any("broker unreachable" in r for r in last["reasons"])
    assert await db.unpublished() >= len(accepted) - 1

    restart_seconds = running.infra.start_kafka()
    await wait_for(lambda: _zero(db.unpublished()), 60, "the outbox backlog to drain")
    events = await db.session_events()
    assert len(events) == len(accepted) + 1
    await wait_for(lambda: _applied(db), 90, "every session event in every consumer")
    window = time.monotonic() - stopped_at
    outage_logs = {s: log_lines_since(running, s, sizes[s]) for s in SERVICES}
    for consumer in SESSION_CONSUMERS:  # once each, although the relay may have sent some twice
        assert set((await db.inbox_counts(consumer, events)).values()) == {1}, consumer
    after = await create_session(api, running, 12)  # and the chain still flows afterwards
    assert after.status_code == 201, after.text
    await wait_for(lambda: _applied(db), 60, "a session created after the outage")
    for service in SERVICES:
        assert (await ready(api, running, service))[1]["status"] == "ready"

    aiokafka_lines = {s: warnings_and_errors(lines, "aiokafka") for s, lines in outage_logs.items()}
    print(
        f"broker outage {OUTAGE_SECONDS}s (restart {restart_seconds:.1f}s, recovered {window:.0f}s after"
        f" the stop): aiokafka WARNING/ERROR lines {aiokafka_lines}"
    )
    assert all(n / window <= MAX_AIOKAFKA_LINES_PER_SECOND for n in aiokafka_lines.values()), aiokafka_lines
    assert all("suppressed" in " ".join(map(str, lines)) for lines in outage_logs.values())
    assert await dead_letters(running) == dict.fromkeys(SERVICES, 0)
    assert_no_restart(running)


async def test_a_database_outage_refuses_commands_parks_nothing_and_resumes_by_itself(running, api):
    db = Database(running)
    await ensure_school(api, running)
    before = await create_session(api, running, 13)
    assert before.status_code == 201, before.text
    await wait_for(lambda: _applied(db), 60, "the sessions so far, everywhere")
    sessions_before = await db.sessions_of_school()
    injected = await _session_created_event(db)

    sizes = log_size(running)
    stopped_at = time.monotonic()
    running.infra.stop_postgres()
    try:
        await wait_for(lambda: _ready_status(api, running, "scheduler", 503), 20, "/ready to say 503")
        status, body = await ready(api, running, "scheduler")
        assert status == 503 and body["status"] == "not ready"
        assert body["checks"]["database"] is False
        assert any("database unreachable" in r for r in body["reasons"])
        refused = await create_session(api, running, 14)
        assert refused.status_code == 503, refused.text
        assert refused.json()["error"]["code"] == "database.unavailable"
        assert refused.headers["Retry-After"] == "5"
        # a record the consumers read while the database is down: they wait, they do not park it
        await _produce(running, *injected)
        await asyncio.sleep(OUTAGE_SECONDS)
        for service in SERVICES:
            assert (await ready(api, running, service))[0] == 503
    finally:
        running.infra.start_postgres()

    await wait_for(lambda: _ready_status(api, running, "scheduler", 200), 30, "/ready to say 200")
    window = time.monotonic() - stopped_at
    problems = {s: warnings_and_errors(log_lines_since(running, s, sizes[s])) for s in SERVICES}
    print(
        f"database outage {OUTAGE_SECONDS}s, ready {window:.0f}s after the stop: WARNING/ERROR lines {problems}"
    )
    assert all(n / window <= MAX_PROBLEM_LINES_PER_SECOND for n in problems.values()), problems
    assert await db.sessions_of_school() == sessions_before  # the refused command changed nothing
    event_id = uuid.UUID(injected[0].id)
    await wait_for(lambda: _applied(db, [event_id]), 90, "the record consumed during the outage")
    accepted = await create_session(api, running, 14)
    assert accepted.status_code == 201, accepted.text
    await wait_for(lambda: _applied(db), 90, "a session created after the outage, everywhere")
    assert await dead_letters(running) == dict.fromkeys(SERVICES, 0)
    for service in SERVICES:
        assert (await ready(api, running, service))[1]["status"] == "ready"
    assert_no_restart(running)


# ---------------------------------------------------------------------------------------------


async def _applied(db: Database, event_ids: list[uuid.UUID] | None = None) -> bool:
    return await db.applied_once_everywhere(event_ids or await db.session_events())


async def _zero(awaitable) -> bool:
    return await awaitable == 0


async def _ready_status(api, running, service: str, expected: int) -> bool:
    try:
        return (await ready(api, running, service))[0] == expected
    except httpx.HTTPError:
        return False


async def _session_created_event(db: Database) -> tuple[Envelope, bytes, str]:
    """A new session's SessionCreated, as the scheduler would publish it: a copy of the last one
    with another session id (the consumers apply it as a new session)."""
    rows = await db.fetch(
        f"SELECT payload FROM {db.schema('scheduler')}.outbox WHERE event_type = $1 ORDER BY id DESC LIMIT 1",
        SessionCreated.event_type,
    )
    event = SessionCreated.model_validate_json(bytes(rows[0]["payload"]))
    session_id = str(uuid.uuid4())
    event = event.model_copy(update={"session_id": session_id, "created_at": datetime.now(UTC)})
    envelope = Envelope.new(source="/certibus/scheduler", type=SessionCreated.event_type, subject=session_id)
    return envelope, event.model_dump_json().encode(), session_id


async def _produce(running: Running, envelope: Envelope, value: bytes, key: str) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=running.infra.kafka_bootstrap_servers, enable_idempotence=True
    )
    await producer.start()
    try:
        await producer.send_and_wait(
            SCHEDULER,
            value=value,
            key=key.encode(),
            headers=[(k, v.encode()) for k, v in envelope.to_headers().items()],
        )
    finally:
        await producer.stop()
