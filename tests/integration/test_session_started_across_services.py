"""Scheduler and finalisation running together: once the invigilator starts a candidate's test in the
finalisation service, the scheduler refuses to edit or delete the session (SessionStarted over Kafka)."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime

import pytest

from services.finalisation.app import definition as finalisation_definition
from services.scheduler.app import definition as scheduler_definition
from shared.clock import ManualClock
from shared.contracts.events import SessionStarted
from shared.contracts.topics import FINALISATION
from tests.events import certifiable_class
from tests.support import wait_for

pytestmark = pytest.mark.integration

PLANNING_DAY = datetime(2025, 10, 8, 7, 0, tzinfo=UTC)  # Pix Certif (lycée) open


async def test_a_test_started_in_finalisation_stops_the_scheduler_editing_the_session(
    start_service, publish, record_events
):
    scheduler = await start_service(scheduler_definition)
    scheduler.runtime.clock = ManualClock(PLANNING_DAY)
    finalisation = await start_service(finalisation_definition)
    # the scratch scheduler numbers sessions from 1, like every earlier test's scheduler on the shared
    # topic: start far away so the invigilator's session number designates this session only
    await scheduler.pool.execute(
        "SELECT setval('session_number_seq', $1)", random.randint(100_000, 2_000_000_000)
    )
    uai = f"{uuid.uuid4().int % 10_000_000:07d}S"

    await publish(*certifiable_class(uai, "TG3", 2, PLANNING_DAY))

    async def learners_known() -> bool:
        return await scheduler.pool.fetchval("SELECT count(*) FROM learners WHERE uai = $1", uai) == 2

    await wait_for(learners_known, what="the scheduler's learners read model")
    school = {
        "name": "Lycée Marie Curie",
        "level": "lycee",
        "rooms": [{"name": "Info 1", "workstations": 20}],
        "staff": [{"name": "M. Jaurès"}],
        "site": "Site principal",
    }
    assert (await scheduler.http.put(f"/schools/{uai}", json=school)).status_code == 201
    created = await scheduler.http.post(
        f"/schools/{uai}/sessions",
        json={"room": "Info 1", "invigilators": ["M. Jaurès"], "date": "2025-11-14", "time": "08:00"},
    )
    assert created.status_code == 201, created.text
    sid = created.json()["session_id"]
    enrolled = await scheduler.http.post(f"/sessions/{sid}/enrolments", json={"division": "TG3"})
    assert enrolled.status_code == 201, enrolled.text
    session = (await scheduler.http.get(f"/sessions/{sid}")).json()
    first, second = (c["candidate_id"] for c in session["candidates"])

    async def room_ready() -> bool:
        return (
            await finalisation.pool.fetchval(
                "SELECT count(*) FROM candidates WHERE session_id = $1 AND unenrolled_at IS NULL", sid
            )
            == 2
        )

    await wait_for(room_ready, what="finalisation to learn the session and its candidates")
    # before any test: the school may still move the session
    moved = await scheduler.http.patch(f"/sessions/{sid}", json={"time": "09:00"})
    assert moved.status_code == 200 and moved.json()["time"] == "09:00", moved.text

    async with record_events([FINALISATION]) as recorder:
        login = await finalisation.http.post(
            "/invigilator/login",
            json={"session_number": session["session_number"], "password": session["invigilator_password"]},
        )
        assert login.status_code == 200, login.text
        headers = {"Authorization": f"Bearer {login.json()['token']}"}
        seat = f"/invigilator/sessions/{sid}/candidates"
        for candidate in (first, second):
            for action in ("presence", "start"):
                response = await finalisation.http.post(f"{seat}/{candidate}/{action}", headers=headers)
                assert response.status_code == 200, response.text

        [announced] = await recorder.wait_for(SessionStarted, session_id=sid)
        assert (announced.uai, announced.session_number) == (uai, session["session_number"])
        assert announced.first_candidate_id == first

        async def locked() -> bool:
            return (await scheduler.http.get(f"/sessions/{sid}")).json()["started"]

        await wait_for(locked, what="the scheduler to learn that a test started")
        assert len(recorder.of(SessionStarted, session_id=sid)) == 1  # the second start raised nothing

    refused = await scheduler.http.patch(f"/sessions/{sid}", json={"time": "10:00"})
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "session.started"
    not_deleted = await scheduler.http.delete(f"/sessions/{sid}")
    assert not_deleted.status_code == 409 and not_deleted.json()["error"]["code"] == "session.started"
    after = (await scheduler.http.get(f"/sessions/{sid}")).json()
    assert (after["time"], after["status"], len(after["candidates"])) == ("09:00", "scheduled", 2)
