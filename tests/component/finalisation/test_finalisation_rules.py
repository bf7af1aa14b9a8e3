"""Session finalisation through HTTP on real Postgres: every rule, and nothing written when refused."""

from __future__ import annotations

from datetime import timedelta

from shared.contracts.events import SessionFinalised
from tests.component.finalisation.finalisation_support import (
    SESSION_START,
    Invigilator,
    finalisation_body,
    session_events,
)


def error(response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


async def a_session_in_progress(finalisation, candidates: int = 3):
    """Candidate 0 completed, candidate 1 started and still running, the others never came."""
    session = await finalisation.seed(session_events(candidates))
    invigilator = Invigilator(finalisation.http, session)
    assert (await invigilator.log_in()).status_code == 200
    await invigilator.take_test(0)
    await invigilator.start(1)
    finalisation.clock.advance(minutes=110)
    return session, invigilator


async def finalise(finalisation, session, body):
    return await finalisation.http.put(f"/sessions/{session.session_id}/finalisation", json=body)


async def assert_nothing_finalised(finalisation) -> None:
    assert await finalisation.count("finalisations") == 0
    assert await finalisation.raised(SessionFinalised) == []


async def test_finalisation_raises_session_finalised_with_what_processing_needs(finalisation):
    session, _ = await a_session_in_progress(finalisation)
    body = finalisation_body(
        session,
        {0: None, 1: "technical"},
        has_incident=True,
        issue_reports={1: [{"code": "C7", "description": "Le poste a redémarré"}]},
    )
    response = await finalise(finalisation, session, body)
    assert response.status_code == 200, response.text

    (event,) = await finalisation.raised(SessionFinalised)
    assert response.json() == event.model_dump(mode="json")
    assert event.session_id == session.session_id
    assert event.session_number == session.session_number
    assert (event.uai, event.session_date, event.session_time) == (session.uai, session.created.date, "09:00")
    assert event.finalised_at == SESSION_START + timedelta(minutes=110)
    assert event.has_incident is True and event.has_joining_issue is False
    assert event.had_invigilator_access is True
    by_id = {c.candidate_id: c for c in event.candidates}
    done, running, absent = (by_id[c.candidate_id] for c in session.candidates)
    assert (done.present, done.completed, done.abort_reason, done.test_state) == (
        True,
        True,
        None,
        "completed",
    )
    assert done.started_at == SESSION_START and done.learner_id == session.candidate(0).learner_id
    assert (running.completed, running.abort_reason, running.test_state) == (
        False,
        "technical",
        "ended_due_to_finalisation",
    )
    assert [(r.category, r.code) for r in running.issue_reports] == [("NON_BLOCKING_TECHNICAL_ISSUE", "C7")]
    assert (absent.present, absent.started_at) == (False, None)
    # an unfinished test blocks automatic publication (pix-domain §5.4)
    assert event.is_publishable is False


async def test_finalisation_is_refused_twice(finalisation):
    session, _ = await a_session_in_progress(finalisation)
    body = finalisation_body(session, {0: None, 1: "candidate"})
    assert (await finalise(finalisation, session, body)).status_code == 200
    assert error(await finalise(finalisation, session, body)) == (409, "session.finalised")
    assert len(await finalisation.raised(SessionFinalised)) == 1


async def test_the_invigilator_space_closes_with_the_finalisation(finalisation):
    session, invigilator = await a_session_in_progress(finalisation)
    await finalise(finalisation, session, finalisation_body(session, {0: None, 1: "candidate"}))
    assert error(await invigilator.room()) == (409, "session.finalised")
    assert error(await invigilator.act(2, "presence")) == (409, "session.finalised")
    assert error(await Invigilator(finalisation.http, session).log_in()) == (409, "session.finalised")


async def test_a_session_where_no_test_started_cannot_be_finalised(finalisation):
    session = await finalisation.seed(session_events(2))
    response = await finalise(finalisation, session, finalisation_body(session))
    assert error(response) == (409, "finalisation.no_started_test")
    await assert_nothing_finalised(finalisation)


async def test_every_enrolled_candidate_must_be_accounted_for(finalisation):
    session, _ = await a_session_in_progress(finalisation)
    body = finalisation_body(session, {0: None, 1: "candidate"})
    body["candidate_reports"] = body["candidate_reports"][:1]
    response = await finalise(finalisation, session, body)
    assert error(response) == (422, "finalisation.candidates_unaccounted")
    assert set(response.json()["error"]["details"]["candidate_ids"]) == {
        session.candidate(1).candidate_id,
        session.candidate(2).candidate_id,
    }
    await assert_nothing_finalised(finalisation)


async def test_a_present_candidate_without_a_completed_test_needs_an_abort_reason(finalisation):
    session, invigilator = await a_session_in_progress(finalisation)
    response = await finalise(finalisation, session, finalisation_body(session, {0: None, 1: None}))
    assert error(response) == (422, "finalisation.abort_reason_missing")
    await assert_nothing_finalised(finalisation)
    # nothing changed: the running test still runs
    seats = {c["candidate_id"]: c for c in (await invigilator.room()).json()["candidates"]}
    assert seats[session.candidate(1).candidate_id]["test_state"] == "started"


async def test_abort_reason_rules(finalisation):
    session, _ = await a_session_in_progress(finalisation)
    cases = [
        ({0: "candidate", 1: "candidate"}, "finalisation.abort_reason_on_completed_test"),
        ({0: None, 1: "bored"}, "finalisation.abort_reason_unknown"),
        ({0: None}, "finalisation.started_candidate_absent"),
    ]
    for present, code in cases:
        response = await finalise(finalisation, session, finalisation_body(session, present))
        assert error(response) == (422, code), present
    body = finalisation_body(session, {0: None, 1: "candidate"})
    body["candidate_reports"][2]["abort_reason"] = "technical"
    assert error(await finalise(finalisation, session, body)) == (422, "finalisation.abort_reason_on_absent")
    await assert_nothing_finalised(finalisation)


async def test_a_present_candidate_who_could_not_join_is_accounted_for_with_an_abort_reason(finalisation):
    session, _ = await a_session_in_progress(finalisation)
    body = finalisation_body(session, {0: None, 1: "candidate", 2: "technical"}, has_joining_issue=True)
    response = await finalise(finalisation, session, body)
    assert response.status_code == 200, response.text
    joined = {c["candidate_id"]: c for c in response.json()["candidates"]}[session.candidate(2).candidate_id]
    assert (joined["present"], joined["test_state"], joined["abort_reason"]) == (
        True,
        "not_started",
        "technical",
    )
    assert response.json()["has_joining_issue"] is True


async def test_the_global_comment_is_at_most_500_characters(finalisation):
    session, _ = await a_session_in_progress(finalisation)
    too_long = finalisation_body(session, {0: None, 1: "candidate"}, comment="x" * 501)
    response = await finalise(finalisation, session, too_long)
    assert error(response) == (422, "finalisation.comment_too_long")
    assert response.json()["error"]["details"]["length"] == 501
    await assert_nothing_finalised(finalisation)

    exactly = finalisation_body(session, {0: None, 1: "candidate"}, comment="y" * 500)
    accepted = await finalise(finalisation, session, exactly)
    assert accepted.status_code == 200
    assert accepted.json()["examiner_global_comment"] == "y" * 500
    assert accepted.json()["is_publishable"] is False


async def test_both_checkboxes_are_required(finalisation):
    session, _ = await a_session_in_progress(finalisation)
    body = finalisation_body(session, {0: None, 1: "candidate"})
    del body["has_joining_issue"]
    assert error(await finalise(finalisation, session, body)) == (422, "finalisation.flags_required")
    body["has_joining_issue"] = "yes"
    assert error(await finalise(finalisation, session, body)) == (422, "request.invalid")
    await assert_nothing_finalised(finalisation)


async def test_issue_reports_take_the_pix_categories_only(finalisation):
    session, _ = await a_session_in_progress(finalisation)
    cases = [
        ({"category": "OTHER", "description": "?"}, "issue_report.deprecated_category"),
        ({"category": "NOT_A_CATEGORY"}, "issue_report.unknown_category"),
        ({"code": "E6", "question_number": 3}, "issue_report.unknown_category"),
        (
            {"category": "IN_CHALLENGE", "subcategory": "LINK_NOT_WORKING"},
            "issue_report.deprecated_subcategory",
        ),
        (
            {"category": "CANDIDATE_INFORMATIONS_CHANGES", "description": "x"},
            "issue_report.subcategory_required",
        ),
        ({"category": "FRAUD", "code": "C7"}, "issue_report.code_mismatch"),
        ({"code": "E1", "question_number": 501}, "issue_report.question_number_invalid"),
    ]
    for report, code in cases:
        body = finalisation_body(session, {0: None, 1: "candidate"}, issue_reports={0: [report]})
        assert error(await finalise(finalisation, session, body)) == (422, code), report
    await assert_nothing_finalised(finalisation)


async def test_every_pix_code_is_accepted_and_impactful_ones_block_publication(finalisation):
    session, _ = await a_session_in_progress(finalisation)
    reports = [
        {"code": "C1", "description": "Nom mal orthographié"},
        {"code": "C2", "description": "Tiers temps"},
        {"code": "C4", "description": "Oubli de signature"},
        {"code": "C6"},
        {"code": "C7", "description": "Réseau"},
        {"code": "C8", "description": "Malaise"},
        *({"code": f"E{n}", "question_number": n} for n in (1, 2, 3, 4, 5, 8, 9, 10, 11, 12)),
    ]
    body = finalisation_body(session, {0: None, 1: "candidate"}, issue_reports={0: reports})
    response = await finalise(finalisation, session, body)
    assert response.status_code == 200, response.text
    done = {c["candidate_id"]: c for c in response.json()["candidates"]}[session.candidate(0).candidate_id]
    assert [r["code"] for r in done["issue_reports"]] == [r["code"] for r in reports]
    assert response.json()["is_publishable"] is False


async def test_a_clean_session_is_publishable(finalisation):
    session = await finalisation.seed(session_events(2))
    invigilator = Invigilator(finalisation.http, session)
    await invigilator.log_in()
    await invigilator.take_test(0)
    await invigilator.take_test(1)
    body = finalisation_body(
        session, {0: None, 1: None}, issue_reports={0: [{"code": "C8", "description": "x"}]}
    )
    response = await finalise(finalisation, session, body)
    assert response.status_code == 200 and response.json()["is_publishable"] is True


async def test_incidents_recorded_live_become_the_candidates_issue_reports(finalisation):
    session, invigilator = await a_session_in_progress(finalisation)
    await invigilator.incident(candidate_id=session.candidate(1).candidate_id, code="E10", question_number=7)
    response = await finalise(finalisation, session, finalisation_body(session, {0: None, 1: "technical"}))
    running = {c["candidate_id"]: c for c in response.json()["candidates"]}[session.candidate(1).candidate_id]
    assert [(r["code"], r["question_number"]) for r in running["issue_reports"]] == [("E10", 7)]


async def test_room_incidents_recorded_live_reach_session_finalised(finalisation):
    session, invigilator = await a_session_in_progress(finalisation)
    power_cut = await invigilator.incident(code="C7", description="Coupure de courant, 10 minutes")
    assert power_cut.status_code == 201, power_cut.text
    recorded_at = SESSION_START + timedelta(minutes=110)
    finalisation.clock.advance(minutes=30)
    body = finalisation_body(session, {0: None, 1: "technical"}, has_incident=True)
    # written on the paper PV only: site down for the whole room on question 12
    body["session_incidents"] = [{"code": "E4", "question_number": 12}]
    response = await finalise(finalisation, session, body)
    assert response.status_code == 200, response.text

    (event,) = await finalisation.raised(SessionFinalised)
    assert response.json() == event.model_dump(mode="json")
    assert [
        (i.code, i.description, i.question_number, i.recorded_at, i.source) for i in event.session_incidents
    ] == [
        ("C7", "Coupure de courant, 10 minutes", None, recorded_at, "invigilator_space"),
        ("E4", None, 12, event.finalised_at, "finalisation"),
    ]
    # a room incident is no candidate's issue report
    assert all(c.issue_reports == [] for c in event.candidates)


async def test_a_room_incident_needs_the_incident_box_nothing_finalised_when_refused(finalisation):
    session, invigilator = await a_session_in_progress(finalisation)
    await invigilator.incident(code="C8", description="Alarme incendie, évacuation")
    response = await finalise(finalisation, session, finalisation_body(session, {0: None, 1: "technical"}))
    assert error(response) == (422, "finalisation.incident_not_declared")
    assert [i["code"] for i in response.json()["error"]["details"]["incidents"]] == ["C8"]
    await assert_nothing_finalised(finalisation)
    assert (await invigilator.room()).status_code == 200  # the space is still open


async def test_an_impactful_room_incident_blocks_publication(finalisation):
    session = await finalisation.seed(session_events(2))
    invigilator = Invigilator(finalisation.http, session)
    await invigilator.log_in()
    await invigilator.take_test(0)
    await invigilator.take_test(1)
    await invigilator.incident(code="C6")  # suspected fraud in the room
    body = finalisation_body(session, {0: None, 1: None}, has_incident=True)
    response = await finalise(finalisation, session, body)
    assert response.status_code == 200 and response.json()["is_publishable"] is False


async def test_a_transcribed_room_incident_is_checked_like_any_issue_report(finalisation):
    session, _ = await a_session_in_progress(finalisation)
    body = finalisation_body(session, {0: None, 1: "technical"}, has_incident=True)
    body["session_incidents"] = [{"category": "TECHNICAL_PROBLEM"}]
    response = await finalise(finalisation, session, body)
    assert error(response) == (422, "issue_report.deprecated_category")
    await assert_nothing_finalised(finalisation)


async def test_unknown_session_and_unknown_candidate(finalisation):
    session, _ = await a_session_in_progress(finalisation)
    missing = await finalisation.http.put(
        "/sessions/nope/finalisation", json=finalisation_body(session, {0: None, 1: "candidate"})
    )
    assert error(missing) == (404, "session.unknown")
    body = finalisation_body(session, {0: None, 1: "candidate"})
    body["candidate_reports"].append({"candidate_id": "stranger", "present": False})
    assert error(await finalise(finalisation, session, body)) == (404, "candidate.unknown")
    await assert_nothing_finalised(finalisation)
