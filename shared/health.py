"""What a service tells its probes and callers about itself: liveness, readiness, a database outage.

Readiness means "can serve its API". The HTTP API writes to PostgreSQL and leaves its events in
the outbox, so a broker outage does not stop it: ``/ready`` stays 200, reports the broker as
degraded and shows the outbox backlog (rows waiting, age of the oldest) that the relay publishes
once Kafka is back. Without PostgreSQL nothing can be served: ``/ready`` is 503 with the reason,
and a command that meets the outage answers 503 ``database.unavailable`` with ``Retry-After``
(never a 500; its transaction never committed, so nothing changed). Consumers use
``is_database_unavailable`` to wait for the database instead of spending their retries and
dead-lettering records that did nothing wrong.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from shared.http import error_body

if TYPE_CHECKING:
    from shared.service import Runtime

DATABASE_UNAVAILABLE = "database.unavailable"
#: what ``Retry-After`` tells a caller refused during a database outage (seconds)
RETRY_AFTER_SECONDS = 5
#: how long a probe waits for the database or the broker before calling it down
PROBE_TIMEOUT_SECONDS = 2.0

#: asyncpg errors that mean "the server is gone or not accepting connections", whatever the query
_OUTAGE_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.PostgresConnectionError,  # connection lost, connection refused by the server
    asyncpg.exceptions.AdminShutdownError,  # the server is shutting down
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.CannotConnectNowError,  # starting up, shutting down, in recovery
)
#: lower-level errors that an outage raises, but other causes can too: answered 503 only when a
#: probe confirms the database is down
_MAYBE_OUTAGE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
)


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception and its causes/contexts (an outage often arrives wrapped)."""
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def is_database_unavailable(exc: BaseException) -> bool:
    """True when ``exc`` says PostgreSQL is unreachable (as opposed to a query or a rule failing)."""
    for link in _chain(exc):
        if isinstance(link, _OUTAGE_ERRORS):
            return True
        if isinstance(link, ConnectionError):  # refused, reset: the server's socket is gone
            return True
        if isinstance(link, asyncpg.InterfaceError) and "connection is closed" in str(link).lower():
            return True
        # a pooled connection the server dropped mid-operation (a restart): asyncpg's protocol is left
        # in that operation ("cannot switch to state 15; another operation (2) is in progress"), and
        # the database may be back already, so a probe would not tell (tests/e2e/test_chaos.py met it)
        if isinstance(link, asyncpg.InternalClientError) and "another operation" in str(link):
            return True
    return False


async def database_answers(pool: asyncpg.Pool) -> bool:
    """``SELECT true`` within ``PROBE_TIMEOUT_SECONDS``."""
    try:
        async with asyncio.timeout(PROBE_TIMEOUT_SECONDS):
            return await pool.fetchval("SELECT true") is True
    except Exception:
        return False


async def outbox_backlog(pool: asyncpg.Pool) -> dict[str, Any]:
    """Outbox rows not yet published and the age in seconds of the oldest (None when empty)."""
    async with asyncio.timeout(PROBE_TIMEOUT_SECONDS):
        row = await pool.fetchrow(
            "SELECT count(*) AS unpublished,"
            " extract(epoch FROM now() - min(created_at))::float8 AS oldest_age"
            " FROM outbox WHERE published_at IS NULL"
        )
    age = row["oldest_age"]
    return {
        "unpublished": row["unpublished"],
        "oldest_unpublished_age_seconds": None if age is None else round(age, 3),
    }


async def readiness(runtime: Runtime) -> tuple[int, dict[str, Any]]:
    """The status code and body of ``/ready``: 200 ready or degraded (broker down), 503 without the database.

    ``checks`` keeps its two booleans; ``status``, ``reasons``, ``broker`` and ``outbox`` say why.
    """
    database = await database_answers(runtime.pool)
    try:
        broker = bool(await runtime.broker.ping(timeout=PROBE_TIMEOUT_SECONDS))
    except Exception:
        broker = False
    reasons: list[str] = []
    outbox: dict[str, Any] | None = None
    if database:
        try:
            outbox = await outbox_backlog(runtime.pool)
        except Exception:
            outbox = None
    else:
        reasons.append("database unreachable: commands are refused (503 database.unavailable)")
    if not broker:
        reasons.append("broker unreachable: commands are accepted, their events wait in the outbox")
    status = "not ready" if not database else "degraded" if not broker else "ready"
    body = {
        "status": status,
        "checks": {"database": database, "broker": broker},
        "broker": "ok" if broker else "degraded",
        "outbox": outbox,
        "relay_active": runtime.relay.active,
        "reasons": reasons,
    }
    return (200 if database else 503), body


def database_unavailable_response() -> JSONResponse:
    """503 ``database.unavailable`` with ``Retry-After``."""
    return JSONResponse(
        error_body(
            DATABASE_UNAVAILABLE,
            "the database is unreachable; nothing was changed, retry later",
            {"retry_after_seconds": RETRY_AFTER_SECONDS},
        ),
        status_code=503,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def install_database_unavailable_handler(app: FastAPI) -> None:
    """Answer 503 ``database.unavailable`` to a request that meets a PostgreSQL outage.

    asyncpg's outage errors are answered straight away; an ``OSError`` or ``InterfaceError`` (which
    other causes raise too) only when a probe of the service's pool confirms the database is down.
    Anything else is re-raised, to the 500 it deserves.
    """

    async def outage(request: Request, exc: Exception) -> JSONResponse:
        if is_database_unavailable(exc):
            return database_unavailable_response()
        runtime = getattr(request.app.state, "runtime", None)
        if runtime is not None and not await database_answers(runtime.pool):
            return database_unavailable_response()
        raise exc

    for error in (*_OUTAGE_ERRORS, *_MAYBE_OUTAGE_ERRORS):
        app.add_exception_handler(error, outage)
