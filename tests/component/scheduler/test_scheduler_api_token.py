"""API_TOKEN: schools, plans, sessions (invigilator password), enrolment and documents closed without it."""

from __future__ import annotations

import pytest

from services.scheduler.app import definition
from shared.clock import ManualClock
from tests.component.scheduler.builders import (
    IN_WINDOW,
    NOW,
    add_class,
    error_code,
    new_uai,
    school_body,
    session_body,
    snapshot,
)

pytestmark = pytest.mark.integration

TOKEN = "academie-gateway-token-0123456789"


async def test_school_routes_need_the_api_token_when_it_is_set(start_service):
    svc = await start_service(definition, api_token=TOKEN)
    svc.runtime.clock = ManualClock(NOW)
    token = {"Authorization": f"Bearer {TOKEN}"}
    uai = new_uai()
    assert (await svc.http.put(f"/schools/{uai}", json=school_body(), headers=token)).status_code == 201
    await add_class(svc, uai, "T1", 3)
    created = await svc.http.post(f"/schools/{uai}/sessions", json=session_body(), headers=token)
    assert created.status_code == 201, created.text
    sid = created.json()["session_id"]
    before = await snapshot(svc)

    calls = [
        ("PUT", f"/schools/{uai}", {"json": school_body(name="Autre nom")}),
        ("GET", f"/schools/{uai}", {}),
        ("POST", f"/schools/{uai}/plans", {"json": {"school_year": "2025-2026"}}),
        ("POST", f"/schools/{uai}/sessions", {"json": session_body(time="13:30")}),
        ("GET", f"/schools/{uai}/sessions", {}),
        ("GET", f"/sessions/{sid}", {}),  # carries the invigilator password
        ("PATCH", f"/sessions/{sid}", {"json": {"time": "10:30"}}),
        ("POST", f"/sessions/{sid}/enrolments", {"json": {"division": "T1"}}),
        ("POST", f"/sessions/{sid}/convocations", {}),
        ("GET", f"/sessions/{sid}/documents/attendance-sheet.pdf", {}),
        ("GET", f"/sessions/{sid}/bundle.zip", {}),
        ("GET", f"/schools/{uai}/days/{IN_WINDOW.isoformat()}/bundle.zip", {}),
        ("DELETE", f"/sessions/{sid}", {}),
    ]
    for headers, code in (
        ({}, "auth.missing_token"),
        ({"Authorization": "Bearer not-the-api-token-at-all"}, "auth.invalid_token"),
    ):
        for method, path, kwargs in calls:
            response = await svc.http.request(method, path, headers=headers, **kwargs)
            assert (response.status_code, error_code(response)) == (401, code), (method, path)
    assert await snapshot(svc) == before  # nothing changed, no event

    enrolled = await svc.http.post(f"/sessions/{sid}/enrolments", json={"division": "T1"}, headers=token)
    assert enrolled.status_code == 201, enrolled.text
    session = await svc.http.get(f"/sessions/{sid}", headers=token)
    assert len(session.json()["candidates"]) == 3
