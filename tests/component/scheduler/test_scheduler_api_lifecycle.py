"""A session's lifecycle, the absentees freed at finalisation and their catch-up plan, and the
candidate changes allowed until finalisation (issue 16 items 2 and 3), on real PostgreSQL.

The later steps come from other services' events, applied here through the scheduler's own
handlers (tests/integration/scheduler covers their delivery over Kafka).
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import pytest

from services.scheduler import handlers
from shared.contracts.envelope import Envelope
from shared.contracts.events import (
    FinalisedCandidate,
    LivretExportProduced,
    ResultsProcessed,
    SessionFinalised,
    SessionStarted,
)
from tests.component.scheduler.builders import (
    NOW,
    add_class,
    error_code,
    new_uai,
    outbox_events,
    put_school,
    session_body,
    snapshot,
)
from tests.component.scheduler.test_scheduler_api_documents import pages

pytestmark = pytest.mark.integration

STARTED = NOW + timedelta(days=36)
CATCH_UP = (date(2026, 3, 9), date(2026, 3, 13))  # the 2025-2026 lycée catch-up week


def _envelope(event) -> Envelope:
    return Envelope.new(
        source=f"/certibus/{event.source_service}", type=event.event_type, subject=event.subject()
    )


async def apply(svc, handler, event) -> None:
    async with svc.runtime.unit_of_work() as uow:
        await handler(uow, event, _envelope(event))


async def enrolled_session(svc, uai: str, division: str) -> dict[str, Any]:
    session = (await svc.http.post(f"/schools/{uai}/sessions", json=session_body())).json()
    enrolled = await svc.http.post(
        f"/sessions/{session['session_id']}/enrolments", json={"division": division}
    )
    assert enrolled.status_code == 201, enrolled.text
    return (await svc.http.get(f"/sessions/{session['session_id']}")).json()


def started(session: dict[str, Any]) -> SessionStarted:
    return SessionStarted(
        session_id=session["session_id"],
        uai=session["uai"],
        session_number=session["session_number"],
        started_at=STARTED,
    )


def finalised(session: dict[str, Any], days: dict[str, tuple[bool, str | None]]) -> SessionFinalised:
    """``days``: candidate id → (present, abort reason); the others completed their test."""
    return SessionFinalised(
        session_id=session["session_id"],
        session_number=session["session_number"],
        uai=session["uai"],
        certification_center=session["certification_center"],
        session_date=date.fromisoformat(session["date"]),
        session_time=session["time"],
        finalised_at=STARTED + timedelta(hours=3),
        has_incident=False,
        has_joining_issue=False,
        is_publishable=True,
        candidates=[
            FinalisedCandidate(
                **{
                    k: c[k]
                    for k in ("candidate_id", "learner_id", "ine", "first_name", "last_name", "division")
                },
                birthdate=date.fromisoformat(c["birthdate"]),
                present=days.get(c["candidate_id"], (True, None))[0],
                completed=days.get(c["candidate_id"], (True, None)) == (True, None),
                abort_reason=days.get(c["candidate_id"], (True, None))[1],
                started_at=STARTED if days.get(c["candidate_id"], (True, None))[0] else None,
            )
            for c in session["candidates"]
        ],
    )


async def lifecycle(svc, session: dict[str, Any]) -> str:
    shown = (await svc.http.get(f"/sessions/{session['session_id']}")).json()
    listed = (await svc.http.get(f"/schools/{session['uai']}/sessions")).json()
    [same] = [s for s in listed if s["session_id"] == session["session_id"]]
    assert same["lifecycle"] == shown["lifecycle"]
    return shown["lifecycle"]


async def test_a_session_goes_through_its_lifecycle_whatever_the_order_of_events(svc):
    uai = new_uai()
    await put_school(svc, uai)
    await add_class(svc, uai, "T1", 3)
    session = await enrolled_session(svc, uai, "T1")
    sid = session["session_id"]
    assert await lifecycle(svc, session) == "planned"
    assert (await svc.http.post(f"/sessions/{sid}/convocations")).status_code == 201
    assert await lifecycle(svc, session) == "convoked"
    await apply(svc, handlers.on_session_started, started(session))
    assert await lifecycle(svc, session) == "started"
    await apply(svc, handlers.on_session_finalised, finalised(session, {}))
    assert await lifecycle(svc, session) == "finalised"
    export_at = STARTED + timedelta(days=5)
    livret = LivretExportProduced(
        uai=uai,
        level="LSL",
        file_name="livret.json",
        sha256="0" * 64,
        certifications=3,
        validated=3,
        rejected=0,
        pending=0,
        produced_at=export_at,
    )
    await apply(svc, handlers.on_livret_export_produced, livret)  # a livret before the results: not this one
    assert await lifecycle(svc, session) == "finalised"
    results = ResultsProcessed(
        session_id=sid,
        session_number=session["session_number"],
        uai=uai,
        certification_center=session["certification_center"],
        source="livret_json",
        results_sha256="1" * 64,
        results=[],
        processed_at=export_at - timedelta(days=1),
    )
    await apply(svc, handlers.on_results_processed, results)
    assert await lifecycle(svc, session) == "results_received"
    await apply(svc, handlers.on_livret_export_produced, livret.model_copy(update={"produced_at": export_at}))
    shown = (await svc.http.get(f"/sessions/{sid}")).json()
    assert shown["lifecycle"] == "exported"
    assert shown["results_received_at"] and shown["exported_at"] and shown["convoked_at"]
    # a late duplicate of an earlier step moves nothing back
    await apply(svc, handlers.on_session_started, started(session))
    assert await lifecycle(svc, session) == "exported"


async def test_absent_and_aborted_candidates_are_freed_at_finalisation_and_planned_in_the_catch_up_week(svc):
    uai = new_uai()
    await put_school(svc, uai)
    await add_class(svc, uai, "T1", 4)
    session = await enrolled_session(svc, uai, "T1")
    absent, aborted, *completed = session["candidates"]
    other = (await svc.http.post(f"/schools/{uai}/sessions", json=session_body(time="13:30"))).json()
    held = await svc.http.post(
        f"/sessions/{other['session_id']}/enrolments", json={"learner_ids": [absent["learner_id"]]}
    )
    assert [r["code"] for r in held.json()["refused"]] == ["candidate.enrolled_elsewhere"]

    await apply(svc, handlers.on_session_started, started(session))
    days = {absent["candidate_id"]: (False, None), aborted["candidate_id"]: (True, "technical")}
    await apply(svc, handlers.on_session_finalised, finalised(session, days))

    plan = await svc.http.post(f"/schools/{uai}/plans", json={"school_year": "2025-2026", "catch_up": True})
    assert plan.status_code == 201, plan.text
    proposal = plan.json()
    assert proposal["status"] == "proposed", proposal
    assert proposal["catch_up"] is True and proposal["notes"][0].startswith("semaine de rattrapage")
    assert proposal["window"] == {"start": CATCH_UP[0].isoformat(), "end": CATCH_UP[1].isoformat()}
    assert sorted(lid for s in proposal["sessions"] for lid in s["learner_ids"]) == sorted(
        [absent["learner_id"], aborted["learner_id"]]
    )
    assert all(CATCH_UP[0] <= date.fromisoformat(s["date"]) <= CATCH_UP[1] for s in proposal["sessions"])
    confirmed = await svc.http.post(f"/plans/{proposal['plan_id']}/confirm")
    assert confirmed.status_code == 200, confirmed.text
    [catch_up] = confirmed.json()["session_ids"]
    shown = (await svc.http.get(f"/sessions/{catch_up}")).json()
    assert sorted(c["learner_id"] for c in shown["candidates"]) == sorted(
        [absent["learner_id"], aborted["learner_id"]]
    )
    # who completed their test is still held by the finalised session
    refused = await svc.http.post(
        f"/sessions/{other['session_id']}/enrolments", json={"learner_ids": [completed[0]["learner_id"]]}
    )
    assert [r["code"] for r in refused.json()["refused"]] == ["candidate.enrolled_elsewhere"]


async def test_a_year_without_a_catch_up_week_is_a_named_refusal(svc):
    uai = new_uai()
    await put_school(svc, uai)
    await add_class(svc, uai, "T1", 2)
    before = await snapshot(svc)
    refused = await svc.http.post(
        f"/schools/{uai}/plans", json={"school_year": "2024-2025", "catch_up": True}
    )
    assert (refused.status_code, error_code(refused)) == (422, "plan.no_catch_up_week")
    assert await snapshot(svc) == before


async def test_candidates_are_added_removed_and_corrected_after_the_first_start_until_finalisation(svc):
    uai = new_uai()
    await put_school(svc, uai)
    await add_class(svc, uai, "T1", 2)
    [forgotten] = await add_class(svc, uai, "T2", 1)
    session = await enrolled_session(svc, uai, "T1")
    sid = session["session_id"]
    await apply(svc, handlers.on_session_started, started(session))

    added = await svc.http.post(
        f"/sessions/{sid}/enrolments",
        json={
            "learner_ids": [forgotten],
            "extra_time": {forgotten: 33},
            "adapted_conditions": {forgotten: "  poste près de la porte,   fauteuil roulant "},
        },
    )
    assert added.status_code == 201, added.text
    [candidate] = added.json()["enrolled"]
    assert candidate["adapted_conditions"] == "poste près de la porte, fauteuil roulant"
    [late] = [
        e
        for e in await outbox_events(svc, "candidates_enrolled")
        if e["candidates"][0]["learner_id"] == forgotten
    ]
    assert late["candidates"][0]["adapted_conditions"] == "poste près de la porte, fauteuil roulant"

    cid = candidate["candidate_id"]
    corrected = await svc.http.patch(f"/sessions/{sid}/candidates/{cid}", json={"extra_time_percentage": 50})
    assert corrected.status_code == 200, corrected.text
    assert corrected.json()["extra_time_percentage"] == 50
    assert corrected.json()["adapted_conditions"] == "poste près de la porte, fauteuil roulant"
    same = await svc.http.patch(f"/sessions/{sid}/candidates/{cid}", json={"extra_time_percentage": 50})
    assert same.status_code == 200
    [updated] = await outbox_events(svc, "candidate_updated")
    assert updated["changed_fields"] == ["extra_time_percentage"]
    assert updated["candidate"]["extra_time_percentage"] == 50 and updated["candidate"]["candidate_id"] == cid

    kit = "\n".join(pages((await svc.http.get(f"/sessions/{sid}/documents/invigilator-kit.pdf")).content))
    assert "conditions adaptées" in kit and "fauteuil roulant" in kit and "50 %" in kit
    sheet = "\n".join(pages((await svc.http.get(f"/sessions/{sid}/documents/attendance-sheet.pdf")).content))
    assert "(*)" in sheet

    before = await snapshot(svc)
    for change, code in (
        ({"extra_time_percentage": 1000}, "candidate.invalid_extra_time"),
        ({"adapted_conditions": "x" * 501}, "candidate.invalid_adapted_conditions"),
    ):
        refused = await svc.http.patch(f"/sessions/{sid}/candidates/{cid}", json=change)
        assert (refused.status_code, error_code(refused)) == (422, code)
    unknown = await svc.http.patch(
        f"/sessions/{sid}/candidates/{uuid.uuid4()}", json={"extra_time_percentage": 0}
    )
    assert (unknown.status_code, error_code(unknown)) == (404, "candidate.unknown")
    assert await snapshot(svc) == before

    cleared = await svc.http.patch(f"/sessions/{sid}/candidates/{cid}", json={"adapted_conditions": None})
    assert cleared.json()["adapted_conditions"] is None
    removed = await svc.http.delete(f"/sessions/{sid}/candidates/{session['candidates'][0]['candidate_id']}")
    assert removed.status_code == 204, removed.text
    assert len(await outbox_events(svc, "candidate_unenrolled")) == 1

    await apply(
        svc, handlers.on_session_finalised, finalised((await svc.http.get(f"/sessions/{sid}")).json(), {})
    )
    after = await svc.http.patch(f"/sessions/{sid}/candidates/{cid}", json={"extra_time_percentage": 0})
    assert (after.status_code, error_code(after)) == (409, "session.finalised")
