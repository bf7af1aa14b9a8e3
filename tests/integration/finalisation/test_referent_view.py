"""The referent's view on real Kafka and PostgreSQL: the room readable after the day, the
finalisation read back and amended (and the amendment's refusals), the results rows left without a
candidate kept, listed and assigned by hand, the assigned result travelling in ResultsProcessed."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from services.finalisation.app import definition
from shared.contracts.events import (
    ResultAssigned,
    ResultsProcessed,
    SessionFinalisationAmended,
)
from shared.contracts.topics import FINALISATION
from tests.component.finalisation.conftest import Finalisation
from tests.component.finalisation.finalisation_support import (
    SESSION_START,
    Invigilator,
    SeededSession,
    class_csv,
    csv_line,
    finalisation_body,
    session_events,
)
from tests.integration.authz.support import error_code
from tests.support import wait_for

pytestmark = pytest.mark.integration

TOKEN = "referent-view-gateway-token-0123"
GATEWAY = {"Authorization": f"Bearer {TOKEN}"}


async def started(start_service) -> Finalisation:
    return Finalisation(await start_service(definition, api_token=TOKEN))


async def seated(service: Finalisation, publish, session: SeededSession) -> None:
    """The scheduler's events over Kafka, until the room has its candidates."""
    await publish(session.created, session.enrolled)

    async def enrolled() -> bool:
        count = await service.pool.fetchval(
            "SELECT count(*) FROM candidates WHERE session_id = $1", session.session_id
        )
        return count == len(session.candidates)

    await wait_for(enrolled, what="the enrolled candidates in the read model")


async def played_and_finalised(service: Finalisation, session: SeededSession) -> Invigilator:
    """Candidate 0 completes, 1 starts then is aborted (with an incident), 2 never comes."""
    invigilator = Invigilator(service.http, session)
    assert (await invigilator.log_in()).status_code == 200
    await invigilator.take_test(0)
    await invigilator.start(1)
    recorded = await invigilator.incident(
        candidate_id=session.candidate(1).candidate_id, code="E4", question_number=7
    )
    assert recorded.status_code == 201, recorded.text
    finalised = await service.http.put(
        f"/sessions/{session.session_id}/finalisation",
        json=finalisation_body(session, {0: None, 1: "technical"}, has_incident=True),
        headers=GATEWAY,
    )
    assert finalised.status_code == 200, finalised.text
    return invigilator


async def test_the_room_stays_readable_and_the_finalisation_reads_back(start_service, publish):
    service = await started(start_service)
    session = session_events(3)
    await seated(service, publish, session)
    invigilator = await played_and_finalised(service, session)
    closed = await invigilator.room()  # finalised: the invigilator space is closed…
    assert closed.status_code == 409 and error_code(closed) == "session.finalised"
    service.clock.set(SESSION_START + timedelta(days=2))  # …the school's view is not, days later
    room = await service.http.get(f"/sessions/{session.session_id}/room", headers=GATEWAY)
    assert room.status_code == 200, room.text
    body = room.json()
    assert body["finalised_at"] is not None and body["expired"] is True
    seats = {c["candidate_id"]: c for c in body["candidates"]}
    first, second, third = (session.candidate(i).candidate_id for i in range(3))
    assert (seats[first]["test_state"], seats[first]["presence_confirmed"]) == ("completed", True)
    assert seats[first]["started_at"] and seats[first]["ended_at"]
    assert seats[second]["test_state"] == "ended_due_to_finalisation"
    assert (seats[third]["test_state"], seats[third]["presence_confirmed"]) == ("not_started", False)
    assert [(i["candidate_id"], i["code"], i["question_number"]) for i in body["incidents"]] == [
        (second, "E4", 7)
    ]

    read_back = await service.http.get(f"/sessions/{session.session_id}/finalisation", headers=GATEWAY)
    assert read_back.status_code == 200, read_back.text
    recorded = read_back.json()
    assert recorded["finalised_by"] == "gateway" and recorded["amendments"] == 0
    assert (recorded["results_received"], recorded["amendable"]) == (False, True)
    form = recorded["finalisation"]
    assert (form["has_incident"], form["has_joining_issue"], form["is_publishable"]) == (True, False, False)
    outcome = {
        c["candidate_id"]: (c["present"], c["abort_reason"], [r["code"] for r in c["issue_reports"]])
        for c in form["candidates"]
    }
    assert outcome == {first: (True, None, []), second: (True, "technical", ["E4"]), third: (False, None, [])}

    unknown = session_events(1)
    await service.seed(unknown)
    not_yet = await service.http.get(f"/sessions/{unknown.session_id}/finalisation", headers=GATEWAY)
    assert not_yet.status_code == 404 and error_code(not_yet) == "finalisation.unknown"


async def test_an_amendment_within_the_delay_and_before_results_then_its_refusals(
    start_service, publish, record_events
):
    service = await started(start_service)
    session = session_events(3)
    await seated(service, publish, session)
    await played_and_finalised(service, session)
    url = f"/sessions/{session.session_id}/finalisation/amendment"
    service.clock.set(SESSION_START + timedelta(hours=30))
    async with record_events([FINALISATION]) as recorder:
        corrected = finalisation_body(
            session, {0: None, 1: "candidate"}, has_incident=True, comment="Alarme à 10 h"
        )
        amended = await service.http.post(url, json=corrected, headers=GATEWAY)
        assert amended.status_code == 200, amended.text
        [event] = await recorder.wait_for(SessionFinalisationAmended, session_id=session.session_id)
    assert (event.amendment, event.amended_by, event.examiner_global_comment) == (
        1,
        "gateway",
        "Alarme à 10 h",
    )
    assert event.finalised_at < event.amended_at
    aborted = next(c for c in event.candidates if c.candidate_id == session.candidate(1).candidate_id)
    assert aborted.abort_reason == "candidate" and [r.code for r in aborted.issue_reports] == ["E4"]
    read_back = (
        await service.http.get(f"/sessions/{session.session_id}/finalisation", headers=GATEWAY)
    ).json()
    assert (read_back["amendments"], read_back["amended_by"]) == (1, "gateway")
    assert read_back["finalisation"]["examiner_global_comment"] == "Alarme à 10 h"
    assert await service.pool.fetchval(
        "SELECT replaced->>'examiner_global_comment' IS NULL FROM finalisation_amendments WHERE session_id = $1",
        session.session_id,
    )

    absentee_present = finalisation_body(
        session, {0: None, 1: "candidate", 2: "technical"}, has_incident=True
    )
    refused = await service.http.post(url, json=absentee_present, headers=GATEWAY)
    assert refused.status_code == 422 and error_code(refused) == "finalisation.amendment_changes_presence"
    assert refused.json()["error"]["details"]["candidate_ids"] == [session.candidate(2).candidate_id]

    results = class_csv(csv_line(7001, session.candidate(0), session.session_number))
    imported = await service.http.post(
        f"/sessions/{session.session_id}/results",
        content=results,
        headers={**GATEWAY, "Content-Type": "text/csv"},
    )
    assert imported.status_code == 200, imported.text
    after_results = await service.http.post(url, json=corrected, headers=GATEWAY)
    assert after_results.status_code == 409 and error_code(after_results) == "finalisation.results_received"

    late = session_events(3)
    await seated(service, publish, late)
    service.clock.set(SESSION_START)
    await played_and_finalised(service, late)
    service.clock.set(SESSION_START + timedelta(hours=49))
    too_late = await service.http.post(
        f"/sessions/{late.session_id}/finalisation/amendment",
        json=finalisation_body(late, {0: None, 1: "candidate"}, has_incident=True),
        headers=GATEWAY,
    )
    assert too_late.status_code == 409 and error_code(too_late) == "finalisation.amendment_too_late"
    # nothing changed by the refusals: one amendment in all, the first session's
    assert await service.pool.fetchval("SELECT count(*) FROM finalisation_amendments") == 1


async def test_rows_without_a_candidate_are_kept_listed_and_assigned_once(
    start_service, publish, record_events
):
    service = await started(start_service)
    session = session_events(3)
    await seated(service, publish, session)
    await played_and_finalised(service, session)
    first, second = session.candidate(0), session.candidate(1)
    misspelt = second.model_copy(update={"last_name": second.last_name + "-Typo"})
    data = class_csv(
        csv_line(8001, first, session.session_number, score=300),
        csv_line(8002, misspelt, session.session_number, score=120),
    )
    headers = {**GATEWAY, "Content-Type": "text/csv"}
    imported = await service.http.post(
        f"/sessions/{session.session_id}/results", content=data, headers=headers
    )
    assert imported.status_code == 200 and imported.json()["matched"] == 1, imported.text

    listed = (
        await service.http.get(f"/sessions/{session.session_id}/results/unmatched", headers=GATEWAY)
    ).json()
    assert (listed["waiting"], listed["assigned"]) == (1, 0)
    [row] = listed["rows"]
    assert (row["certification_id"], row["kind"], row["session_id"], row["assigned"]) == (
        8002,
        "unmatched",
        session.session_id,
        None,
    )
    assert row["row"]["last_name"] == misspelt.last_name
    of_school = (await service.http.get(f"/schools/{session.uai}/results/unmatched", headers=GATEWAY)).json()
    assert 8002 in {r["certification_id"] for r in of_school["rows"]}

    assignment = {"certification_id": 8002, "candidate_id": second.candidate_id}
    url = f"/sessions/{session.session_id}/results/assignments"
    async with record_events([FINALISATION]) as recorder:
        done = await service.http.post(url, json=assignment, headers=GATEWAY)
        assert done.status_code == 200, done.text
        assert (
            done.json()["unchanged"] is False
            and done.json()["assigned"]["candidate_id"] == second.candidate_id
        )
        [assigned] = await recorder.wait_for(ResultAssigned, session_id=session.session_id)
        assert (assigned.certification_id, assigned.learner_id, assigned.kind) == (
            8002,
            second.learner_id,
            "unmatched",
        )
        snapshots = await recorder.wait_for(ResultsProcessed, session_id=session.session_id)
        latest = snapshots[-1]
        assert {r.candidate_id: r.certification_id for r in latest.results} == {
            first.candidate_id: 8001,
            second.candidate_id: 8002,
        }
        assert latest.unmatched_rows == 0

        again = await service.http.post(url, json=assignment, headers=GATEWAY)
        assert again.status_code == 200 and again.json()["unchanged"] is True
        elsewhere = await service.http.post(
            url, json={**assignment, "candidate_id": session.candidate(2).candidate_id}, headers=GATEWAY
        )
        assert elsewhere.status_code == 409 and error_code(elsewhere) == "results.row_already_assigned"
        reimported = await service.http.post(
            f"/sessions/{session.session_id}/results", content=data, headers=headers
        )
        assert reimported.json()["unchanged"] is True
        await asyncio.sleep(3)  # several relay polls: anything raised again would be on the topic
        assert len(recorder.of(ResultAssigned, session_id=session.session_id)) == 1
        assert len(recorder.of(ResultsProcessed, session_id=session.session_id)) == len(snapshots)
    listed = (
        await service.http.get(f"/sessions/{session.session_id}/results/unmatched", headers=GATEWAY)
    ).json()
    assert (listed["waiting"], listed["assigned"]) == (0, 1)

    # another school's finalised session cannot take this school's row
    other_school = session_events(3, uai="0750002B")
    await seated(service, publish, other_school)
    await played_and_finalised(service, other_school)
    foreign = await service.http.post(
        f"/sessions/{other_school.session_id}/results/assignments",
        json={"certification_id": 8002, "candidate_id": other_school.candidate(0).candidate_id},
        headers=GATEWAY,
    )
    assert foreign.status_code == 404 and error_code(foreign) == "results.row_unknown"
