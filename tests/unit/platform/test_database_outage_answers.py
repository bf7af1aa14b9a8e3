"""A request that meets PostgreSQL restarting under it answers 503 ``database.unavailable``, never a
500 (issue 11 item 3), even when the database is back by the time the error is answered: the chaos
harness (tests/e2e/test_chaos.py, seed 585151) met asyncpg's InternalClientError from a pooled
connection the restart had dropped mid-operation, and the API answered 500."""

from __future__ import annotations

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from shared.health import DATABASE_UNAVAILABLE, install_database_unavailable_handler


def _app(error: BaseException) -> FastAPI:
    app = FastAPI()
    install_database_unavailable_handler(app)

    @app.get("/sessions/x")
    async def read() -> dict:
        raise error

    return app


async def _get(app: FastAPI) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://scheduler") as client:
        return await client.get("/sessions/x")


async def test_a_connection_dropped_mid_operation_answers_503():
    error = asyncpg.InternalClientError("cannot switch to state 15; another operation (2) is in progress")
    reply = await _get(_app(error))
    assert reply.status_code == 503
    assert reply.json()["error"]["code"] == DATABASE_UNAVAILABLE
    assert reply.headers["Retry-After"]


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.InternalClientError("unexpected codec state"),
        asyncpg.InterfaceError("cannot use a closed pool"),
    ],
)
async def test_other_client_errors_stay_500(error):
    """Not an outage (no runtime to probe here): a bug keeps its 500."""
    assert (await _get(_app(error))).status_code == 500
