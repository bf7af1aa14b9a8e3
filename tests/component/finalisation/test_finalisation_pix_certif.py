"""Pix Certif's values in finalisation, on real Postgres: once the scheduler announced them
(SessionUpdated v2), the invigilator signs in with Pix's number and password, SessionFinalised
carries Pix's number, and a class CSV whose "Session" column holds it is matched."""

from __future__ import annotations

from datetime import UTC, datetime

from services.finalisation import handlers
from shared.contracts.events import ResultsProcessed, SessionFinalised, SessionUpdated
from shared.outbox import unit_of_work
from tests.component.finalisation.finalisation_support import (
    Invigilator,
    class_csv,
    csv_line,
    fake_envelope,
    finalisation_body,
    password_hash,
    session_events,
)

PIX_NUMBER, PIX_PASSWORD = 61234, "b7K?2x"


async def announce_pix(finalisation, session, number: int = PIX_NUMBER, password: str = PIX_PASSWORD) -> None:
    """What the scheduler raises once the school recorded the session's Pix Certif values."""
    updated = SessionUpdated(
        **session.created.model_dump(
            exclude={"created_at", "invigilator_password_verifier", "pix_session_number", "pix_access_code"}
        ),
        invigilator_password_verifier=password_hash(password),
        pix_session_number=number,
        pix_access_code="FMKP39",
        changed_fields=["pix_session_number", "pix_access_code", "invigilator_password"],
        updated_at=datetime.now(UTC),
    )
    async with unit_of_work(finalisation.pool, "finalisation") as uow:
        await handlers.on_session_updated(uow, updated, fake_envelope(updated))


async def test_the_invigilator_signs_in_with_pix_values_and_results_match_by_pix_number(finalisation):
    session = await finalisation.seed(session_events(3))
    await announce_pix(finalisation, session)
    invigilator = Invigilator(finalisation.http, session)

    # certibus's own password no longer opens the room; Pix's does, with Pix's number
    assert (await invigilator.log_in()).status_code == 401
    response = await finalisation.http.post(
        "/invigilator/login", json={"session_number": PIX_NUMBER, "password": "C-" + PIX_PASSWORD}
    )
    assert response.status_code == 200, response.text
    assert response.json()["session_id"] == session.session_id
    invigilator.token = response.json()["token"]
    room = (await invigilator.room()).json()
    assert (room["session_number"], room["pix_session_number"]) == (PIX_NUMBER, PIX_NUMBER)
    assert room["certibus_session_number"] == session.session_number

    await invigilator.take_test(0)
    await invigilator.take_test(1)
    finalised = await finalisation.http.put(
        f"/sessions/{session.session_id}/finalisation", json=finalisation_body(session, {0: None, 1: None})
    )
    assert finalised.status_code == 200, finalised.text
    [event] = [e for e in await finalisation.raised(SessionFinalised) if e.session_id == session.session_id]
    assert (event.session_number, event.pix_session_number) == (session.session_number, PIX_NUMBER)

    # candidate 0's namesake (same names and birth date) in another finalised session of the school:
    # the CSV has no INE, so only Pix's session number tells them apart
    first = session.candidate(0)
    other = session_events(1)
    twin = first.model_copy(update={"candidate_id": "twin-" + first.candidate_id, "learner_id": "twin"})
    other.enrolled = other.enrolled.model_copy(update={"candidates": [twin]})
    other.candidates = [twin]
    await finalisation.seed(other)
    twin_invigilator = Invigilator(finalisation.http, other)
    assert (await twin_invigilator.log_in()).status_code == 200
    await twin_invigilator.take_test(0)
    response = await finalisation.http.put(
        f"/sessions/{other.session_id}/finalisation", json=finalisation_body(other, {0: None})
    )
    assert response.status_code == 200, response.text

    data = class_csv(csv_line(9101, first, PIX_NUMBER), csv_line(9102, session.candidate(1), PIX_NUMBER))
    response = await finalisation.http.post(
        f"/results?uai={session.uai}", content=data, headers={"Content-Type": "text/csv"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["matched"] == 2 and response.json()["unmatched"] == []
    [processed] = [
        e for e in await finalisation.raised(ResultsProcessed) if e.session_id == session.session_id
    ]
    assert (processed.session_number, processed.pix_session_number) == (session.session_number, PIX_NUMBER)
    assert sorted(r.candidate_id for r in processed.results) == [
        first.candidate_id,
        session.candidate(1).candidate_id,
    ]

    # certibus's own number no longer names the session in Pix's files
    stale = class_csv(csv_line(9103, first, session.session_number, score=500))
    response = await finalisation.http.post(
        f"/sessions/{session.session_id}/results", content=stale, headers={"Content-Type": "text/csv"}
    )
    assert response.status_code == 422 and response.json()["error"]["code"] == "results.unknown_candidates"


async def test_a_session_without_pix_values_still_opens_with_certibus_codes(finalisation):
    session = await finalisation.seed(session_events(1))
    invigilator = Invigilator(finalisation.http, session)
    assert (await invigilator.log_in()).status_code == 200
    room = (await invigilator.room()).json()
    assert (room["session_number"], room["pix_session_number"]) == (session.session_number, None)
