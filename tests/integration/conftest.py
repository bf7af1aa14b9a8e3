from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import asyncpg
import pytest

from shared.contracts.events import SessionUpdated
from shared.contracts.topics import TopicSpec, all_topics, dead_letter_topic
from shared.db import create_pool, migrate, provision_service
from shared.kafka_admin import ensure_topics
from shared.outbox import unit_of_work
from tests.integration.harness.processes import EFFECTS_DDL

REPO = Path(__file__).resolve().parents[2]


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
        invigilator_password_hash="pbkdf2_sha256$1$x$y",
        changed_fields=[marker],
        updated_at=datetime.now(UTC),
    )


async def emit(pool: asyncpg.Pool, *events) -> list[str]:
    """Raise events from a 'scheduler' transaction; return their event ids."""
    async with unit_of_work(pool, "scheduler") as uow:
        return [(await uow.emit(e)).id for e in events]


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
