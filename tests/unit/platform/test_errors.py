"""One error path: a DomainError raised anywhere answers with the status its service's table names."""

from __future__ import annotations

from datetime import date

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from shared.errors import DomainError, status_for, statuses
from shared.http import error_responses, install_error_handlers

TABLE = statuses(not_found={"session.unknown"}, conflict={"session.started"}, other={"auth.": 401})


def test_status_of_a_code_listed_by_prefix_or_not_at_all() -> None:
    assert status_for("session.unknown", TABLE) == 404
    assert status_for("session.started", TABLE) == 409
    assert status_for("auth.expired", TABLE) == 401
    assert status_for("session.outside_window", TABLE) == 422


def test_a_code_cannot_be_both_missing_and_in_conflict() -> None:
    with pytest.raises(ValueError, match=r"session\.unknown"):
        statuses(not_found={"session.unknown"}, conflict={"session.unknown"})


def test_the_handler_writes_the_documented_body_with_the_table_status() -> None:
    app = FastAPI()
    install_error_handlers(app, TABLE)

    @app.get("/s/{code}")
    async def refuse(code: str) -> None:
        raise DomainError(code, "refusé", when=date(2027, 3, 1))

    client = TestClient(app)
    answer = client.get("/s/session.started")
    assert answer.status_code == 409
    assert answer.json() == {
        "error": {"code": "session.started", "message": "refusé", "details": {"when": "2027-03-01"}}
    }
    assert client.get("/s/plan.impossible").status_code == 422


def test_openapi_responses_group_codes_by_status() -> None:
    responses = error_responses(TABLE, "session.unknown", "session.started", "session.outside_window")
    assert sorted(responses) == [404, 409, 422]
    assert "session.outside_window" in responses[422]["description"]
