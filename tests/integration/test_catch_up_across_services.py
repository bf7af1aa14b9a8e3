"""Scheduler, finalisation and export together on real Kafka and PostgreSQL (issue 16 items 2, 3).

A lycée class sits its session: one student is absent, a forgotten student is added after the
first start (finalisation's room learns them) and has their extra time corrected on the day. At
finalisation the scheduler frees the absentee; the catch-up plan puts them in the calendar's
catch-up week, where they are certified; Pix's results (the sandbox's livret JSON) for both
sessions end in the class CSV and the livret, and each session's lifecycle reaches "exported".
"""

from __future__ import annotations

import json
import random
import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest

from deploy.pix_sandbox.generator import certification_id_for, generate_livret_results
from services.export.app import definition as export_definition
from services.finalisation.app import definition as finalisation_definition
from services.scheduler.app import definition as scheduler_definition
from shared.clock import ManualClock
from shared.contracts.events import SessionFinalised
from shared.contracts.topics import FINALISATION
from tests.events import certifiable_class
from tests.support import wait_for

pytestmark = pytest.mark.integration

PLANNING_DAY = datetime(2025, 10, 8, 7, 0, tzinfo=UTC)  # Pix Certif (lycée) open
CATCH_UP_WEEK = (date(2026, 3, 9), date(2026, 3, 13))  # 2025-2026 lycée catch-up (DANE Lille)
SCHOOL = {
    "name": "Lycée Marie Curie",
    "level": "lycee",
    "rooms": [{"name": "Info 1", "workstations": 20}],
    "staff": [{"name": "M. Jaurès"}, {"name": "Mme Sand"}],
    "site": "Site principal",
}


class Room:
    """The invigilator space of one session, logged in."""

    def __init__(self, finalisation, session: dict[str, Any]) -> None:
        self.http = finalisation.http
        self.session = session
        self.headers: dict[str, str] = {}

    async def log_in(self) -> None:
        login = await self.http.post(
            "/invigilator/login",
            json={
                "session_number": self.session["session_number"],
                "password": self.session["invigilator_password"],
            },
        )
        assert login.status_code == 200, login.text
        self.headers = {"Authorization": f"Bearer {login.json()['token']}"}

    async def seats(self) -> dict[str, dict[str, Any]]:
        room = await self.http.get(
            f"/invigilator/sessions/{self.session['session_id']}", headers=self.headers
        )
        assert room.status_code == 200, room.text
        return {seat["candidate_id"]: seat for seat in room.json()["candidates"]}

    async def take_test(self, candidate_id: str) -> None:
        for action in ("presence", "start", "complete"):
            url = f"/invigilator/sessions/{self.session['session_id']}/candidates/{candidate_id}/{action}"
            response = await self.http.post(url, headers=self.headers)
            assert response.status_code == 200, f"{action}: {response.text}"

    async def finalise(self, absent: set[str]) -> None:
        reports = [{"candidate_id": cid, "present": cid not in absent} for cid in (await self.seats())]
        response = await self.http.put(
            f"/sessions/{self.session['session_id']}/finalisation",
            json={
                "examiner_global_comment": None,
                "has_incident": False,
                "has_joining_issue": False,
                "candidate_reports": reports,
            },
        )
        assert response.status_code == 200, response.text


async def test_an_absentee_certified_in_the_catch_up_week_ends_in_the_class_csv_and_the_livret(
    start_service, publish, record_events, tmp_path
):
    scheduler = await start_service(scheduler_definition)
    scheduler.runtime.clock = ManualClock(PLANNING_DAY)
    finalisation = await start_service(finalisation_definition)
    export = await start_service(
        export_definition, export_output_dir=tmp_path, export_rebuild_interval_seconds=0.3
    )
    # other tests' schedulers number sessions from 1 on the shared topics: start far from them
    await scheduler.pool.execute("SELECT setval('session_number_seq', $1)", random.randint(10**5, 2 * 10**9))
    uai = f"{uuid.uuid4().int % 10_000_000:07d}C"
    roster = certifiable_class(uai, "TG1", 3, PLANNING_DAY) + certifiable_class(uai, "TG1", 1, PLANNING_DAY)
    forgotten = roster[-2].learner_id  # the last learner: left out of the first enrolment
    await publish(*roster)

    async def learners_known() -> bool:
        return await scheduler.pool.fetchval("SELECT count(*) FROM learners WHERE uai = $1", uai) == 4

    await wait_for(learners_known, what="the scheduler's learners read model")
    assert (await scheduler.http.put(f"/schools/{uai}", json=SCHOOL)).status_code == 201
    created = await scheduler.http.post(
        f"/schools/{uai}/sessions",
        json={"room": "Info 1", "invigilators": ["M. Jaurès"], "date": "2025-11-14", "time": "08:00"},
    )
    assert created.status_code == 201, created.text
    sid = created.json()["session_id"]
    first_three = [e.learner_id for e in roster[:-2:2]]
    enrolled = await scheduler.http.post(f"/sessions/{sid}/enrolments", json={"learner_ids": first_three})
    assert enrolled.status_code == 201, enrolled.text
    assert (await scheduler.http.post(f"/sessions/{sid}/convocations")).status_code == 201
    session = (await scheduler.http.get(f"/sessions/{sid}")).json()
    assert session["lifecycle"] == "convoked"
    absentee, *present = session["candidates"]

    room = Room(finalisation, session)
    await wait_for(
        lambda: _seated(finalisation, sid, 3), what="finalisation to learn the session's candidates"
    )
    await room.log_in()
    await room.take_test(present[0]["candidate_id"])
    await wait_for(
        lambda: _lifecycle(scheduler, sid, "started"), what="the scheduler to learn the first start"
    )

    # on the day, after the first start: a forgotten student is added, their extra time corrected
    added = await scheduler.http.post(f"/sessions/{sid}/enrolments", json={"learner_ids": [forgotten]})
    assert added.status_code == 201, added.text
    [late] = added.json()["enrolled"]
    corrected = await scheduler.http.patch(
        f"/sessions/{sid}/candidates/{late['candidate_id']}",
        json={"extra_time_percentage": 33, "adapted_conditions": "poste adapté"},
    )
    assert corrected.status_code == 200, corrected.text

    async def late_seated() -> bool:
        seat = (await room.seats()).get(late["candidate_id"])
        return seat is not None and seat["extra_time_percentage"] == 33

    await wait_for(late_seated, what="finalisation's room to seat the late candidate with their extra time")
    await room.take_test(present[1]["candidate_id"])
    await room.take_test(late["candidate_id"])

    async with record_events([FINALISATION]) as recorder:
        await room.finalise(absent={absentee["candidate_id"]})
        [first_finalised] = await recorder.wait_for(SessionFinalised, session_id=sid)
        await wait_for(
            lambda: _lifecycle(scheduler, sid, "finalised"), what="the scheduler to learn the finalisation"
        )
        refused = await scheduler.http.post(f"/sessions/{sid}/enrolments", json={"learner_ids": [forgotten]})
        assert refused.json()["error"]["code"] == "session.finalised"

        plan = await scheduler.http.post(
            f"/schools/{uai}/plans", json={"school_year": "2025-2026", "catch_up": True}
        )
        assert plan.status_code == 201 and plan.json()["status"] == "proposed", plan.text
        assert [lid for s in plan.json()["sessions"] for lid in s["learner_ids"]] == [absentee["learner_id"]]
        confirmed = await scheduler.http.post(f"/plans/{plan.json()['plan_id']}/confirm")
        assert confirmed.status_code == 200, confirmed.text
        [catch_up_id] = confirmed.json()["session_ids"]
        catch_up = (await scheduler.http.get(f"/sessions/{catch_up_id}")).json()
        assert CATCH_UP_WEEK[0] <= date.fromisoformat(catch_up["date"]) <= CATCH_UP_WEEK[1]
        [again] = catch_up["candidates"]
        assert again["learner_id"] == absentee["learner_id"]

        second = Room(finalisation, catch_up)
        await wait_for(
            lambda: _seated(finalisation, catch_up_id, 1), what="finalisation to learn the catch-up"
        )
        await second.log_in()
        await second.take_test(again["candidate_id"])
        await second.finalise(absent=set())
        [catch_up_finalised] = await recorder.wait_for(SessionFinalised, session_id=catch_up_id)

    # Pix processes both sessions (the sandbox's results, as the main job's Pix stand-in sends them)
    for event in (first_finalised, catch_up_finalised):
        body = generate_livret_results(json.loads(event.model_dump_json()), seed=7)
        posted = await finalisation.http.post(
            f"/sessions/{event.session_id}/results",
            content=body,
            headers={"Content-Type": "application/json"},
        )
        assert posted.status_code == 200, posted.text

    payload = json.loads(catch_up_finalised.model_dump_json())
    certification_id = certification_id_for(payload, payload["candidates"][0], seed=7)
    found: dict[str, Any] = {}

    async def livret_with_everyone() -> bool:
        reply = await export.http.get(f"/schools/{uai}/livret.json")
        if reply.status_code == 200:
            found["livret"] = reply.json()["data"]["attributes"]["certifications"]
        return len(found.get("livret", ())) == 4

    await wait_for(livret_with_everyone, what="the livret to hold the four students")
    # the absentee's certification is the catch-up session's (absent, they had none before)
    ids = {c["id"]: c for c in found["livret"]}
    assert certification_id in ids, (certification_id, found["livret"])
    certification = ids[certification_id]
    assert (certification["lastName"], certification["firstName"]) == (
        absentee["last_name"],
        absentee["first_name"],
    )

    async def class_csv_with_everyone() -> bool:
        reply = await export.http.get(f"/schools/{uai}/classes/TG1/results.csv")
        found["csv"] = reply.content.decode("utf-8-sig").splitlines() if reply.status_code == 200 else []
        return len(found["csv"]) == 5  # the header and four students

    await wait_for(class_csv_with_everyone, what="the class CSV to hold the four students")
    rows = [line.split(";") for line in found["csv"][1:]]
    matching = [r for r in rows if r[0].strip('"') == str(certification_id)]
    assert len(matching) == 1, found["csv"]
    [row] = matching
    assert row[25].strip('"') == str(catch_up["session_number"]), row  # the "Session" column
    for session_id in (sid, catch_up_id):
        await wait_for(
            lambda s=session_id: _lifecycle(scheduler, s, "exported"), what="the session to be exported"
        )


async def _seated(finalisation, session_id: str, count: int) -> bool:
    seated = await finalisation.pool.fetchval(
        "SELECT count(*) FROM candidates WHERE session_id = $1 AND unenrolled_at IS NULL", session_id
    )
    return seated == count


async def _lifecycle(scheduler, session_id: str, step: str) -> bool:
    return (await scheduler.http.get(f"/sessions/{session_id}")).json()["lifecycle"] == step
