from datetime import date, timedelta

import pytest

from services.finalisation.domain.finalisation import (
    AbortReason,
    CandidateReport,
    FinalisationRequest,
    IncidentSource,
    SessionIncident,
    finalise_session,
    is_publishable,
)
from services.finalisation.domain.invigilation import SessionRoom, TestState
from services.finalisation.domain.issue_reports import issue_report_from_code
from shared.errors import DomainError
from tests.unit.finalisation.finalisation_builders import T0

NOW = T0 + timedelta(hours=3)


def code_of(call) -> str:
    with pytest.raises(DomainError) as caught:
        call()
    return caught.value.code


@pytest.fixture
def played(logged_in_room: SessionRoom) -> SessionRoom:
    """c1 completed, c2 ended by the invigilator, c3 never came."""
    for candidate_id in ("c1", "c2"):
        logged_in_room.confirm_presence(candidate_id, T0)
        logged_in_room.start_test(candidate_id, T0)
    logged_in_room.complete_test("c1", T0 + timedelta(minutes=90))
    logged_in_room.end_test("c2", T0 + timedelta(minutes=60))
    return logged_in_room


def request(*reports: CandidateReport, comment: str | None = None, incident=False, joining=False):
    return FinalisationRequest(
        list(reports), has_incident=incident, has_joining_issue=joining, examiner_global_comment=comment
    )


GOOD = (
    CandidateReport("c1", present=True),
    CandidateReport("c2", present=True, abort_reason=AbortReason.TECHNICAL),
    CandidateReport("c3", present=False),
)


def test_finalise_produces_everything_processing_needs(played):
    e4 = issue_report_from_code("E4", question_number=12)
    reports = (GOOD[0], CandidateReport("c2", True, "technical", (e4,)), GOOD[2])
    done = finalise_session(played, request(*reports, comment="  Coupure réseau  ", incident=True), NOW)
    assert played.finalised_at == NOW and played.is_finalised
    assert (done.session_id, done.session_number, done.finalised_at) == ("sess-1", 4242, NOW)
    assert done.examiner_global_comment == "Coupure réseau"
    assert (done.has_incident, done.has_joining_issue, done.had_invigilator_access) == (True, False, True)
    by_id = {c.candidate_id: c for c in done.candidates}
    assert by_id["c1"].completed and by_id["c1"].abort_reason is None
    assert by_id["c1"].ended_at == T0 + timedelta(minutes=90)
    assert by_id["c2"].test_state is TestState.ENDED_BY_INVIGILATOR
    assert by_id["c2"].abort_reason is AbortReason.TECHNICAL and by_id["c2"].issue_reports == (e4,)
    assert not by_id["c3"].present and by_id["c3"].started_at is None
    payload = done.to_payload()
    assert payload["is_publishable"] is False and payload["has_examiner_global_comment"] is True
    c2 = next(c for c in payload["candidates"] if c["candidate_id"] == "c2")
    assert c2 == {
        "candidate_id": "c2",
        "learner_id": "l2",
        "division": "3A",
        "ine": "123456782AB",
        "first_name": "Prénom2",
        "last_name": "Nom2",
        "birthdate": "2010-01-02",
        "present": True,
        "test_state": "ended_by_invigilator",
        "completed": False,
        "abort_reason": "technical",
        "issue_reports": [e4.to_payload()],
        "extra_time_percentage": 0,
        "started_at": T0.isoformat(),
        "ended_at": (T0 + timedelta(minutes=60)).isoformat(),
    }


def test_refused_twice(played):
    finalise_session(played, request(*GOOD), NOW)
    assert code_of(lambda: finalise_session(played, request(*GOOD), NOW)) == "session.finalised"


def test_refused_when_no_test_started(logged_in_room):
    reports = [CandidateReport(c, present=False) for c in ("c1", "c2", "c3")]
    assert code_of(lambda: finalise_session(logged_in_room, request(*reports), NOW)) == (
        "finalisation.no_started_test"
    )
    assert not logged_in_room.is_finalised


def test_refused_until_every_enrolled_candidate_is_accounted_for(played):
    with pytest.raises(DomainError) as caught:
        finalise_session(played, request(GOOD[0]), NOW)
    assert caught.value.code == "finalisation.candidates_unaccounted"
    assert caught.value.details["candidate_ids"] == ["c2", "c3"]
    assert not played.is_finalised


def test_unknown_candidate_refused(played):
    reports = (*GOOD, CandidateReport("c99", present=False))
    assert code_of(lambda: finalise_session(played, request(*reports), NOW)) == "candidate.unknown"


def test_candidate_reported_twice_refused(played):
    reports = (*GOOD, GOOD[2])
    assert code_of(lambda: finalise_session(played, request(*reports), NOW)) == (
        "finalisation.duplicate_candidate_report"
    )


def test_unfinished_test_needs_an_abort_reason(played):
    reports = (GOOD[0], CandidateReport("c2", present=True), GOOD[2])
    assert (
        code_of(lambda: finalise_session(played, request(*reports), NOW))
        == "finalisation.abort_reason_missing"
    )
    assert not played.is_finalised


def test_present_but_never_started_needs_an_abort_reason(played):
    reports = (GOOD[0], GOOD[1], CandidateReport("c3", present=True))
    assert (
        code_of(lambda: finalise_session(played, request(*reports), NOW))
        == "finalisation.abort_reason_missing"
    )
    reports = (GOOD[0], GOOD[1], CandidateReport("c3", present=True, abort_reason="technical"))
    done = finalise_session(played, request(*reports, joining=True), NOW)
    assert done.has_joining_issue


def test_abort_reason_on_a_completed_test_refused(played):
    reports = (CandidateReport("c1", present=True, abort_reason="candidate"), GOOD[1], GOOD[2])
    assert code_of(lambda: finalise_session(played, request(*reports), NOW)) == (
        "finalisation.abort_reason_on_completed_test"
    )


def test_unknown_abort_reason_refused(played):
    reports = (GOOD[0], CandidateReport("c2", present=True, abort_reason="late"), GOOD[2])
    assert (
        code_of(lambda: finalise_session(played, request(*reports), NOW))
        == "finalisation.abort_reason_unknown"
    )


def test_absent_rules(played):
    absent_c1 = (CandidateReport("c1", present=False), GOOD[1], GOOD[2])
    assert code_of(lambda: finalise_session(played, request(*absent_c1), NOW)) == (
        "finalisation.started_candidate_absent"
    )
    with_reason = (GOOD[0], GOOD[1], CandidateReport("c3", present=False, abort_reason="candidate"))
    assert code_of(lambda: finalise_session(played, request(*with_reason), NOW)) == (
        "finalisation.abort_reason_on_absent"
    )
    fraud = issue_report_from_code("C6")
    with_report = (GOOD[0], GOOD[1], CandidateReport("c3", present=False, issue_reports=(fraud,)))
    assert code_of(lambda: finalise_session(played, request(*with_report), NOW)) == (
        "finalisation.issue_report_on_absent"
    )


def test_global_comment_at_most_500_characters(played):
    assert code_of(lambda: finalise_session(played, request(*GOOD, comment="x" * 501), NOW)) == (
        "finalisation.comment_too_long"
    )
    done = finalise_session(played, request(*GOOD, comment="x" * 500), NOW)
    assert len(done.examiner_global_comment) == 500


def test_blank_comment_is_no_comment(played):
    done = finalise_session(played, request(*GOOD, comment="   \n"), NOW)
    assert done.examiner_global_comment is None and not done.has_examiner_global_comment


def test_flags_must_be_booleans(played):
    bad = FinalisationRequest(list(GOOD), has_incident=None, has_joining_issue=False)  # type: ignore[arg-type]
    assert code_of(lambda: finalise_session(played, bad, NOW)) == "finalisation.flags_required"


def test_a_test_still_running_ends_with_the_session(logged_in_room):
    logged_in_room.confirm_presence("c1", T0)
    logged_in_room.start_test("c1", T0)
    reports = (
        CandidateReport("c1", present=True, abort_reason="technical"),
        CandidateReport("c2", present=False),
        CandidateReport("c3", present=False),
    )
    done = finalise_session(logged_in_room, request(*reports), NOW)
    assert done.candidates[0].test_state is TestState.ENDED_DUE_TO_FINALISATION
    assert logged_in_room.seats["c1"].test_state is TestState.ENDED_DUE_TO_FINALISATION
    assert not done.is_publishable
    assert code_of(lambda: logged_in_room.complete_test("c1", NOW)) == "session.finalised"


# -- publishability (pix-domain §5.4) --


@pytest.fixture
def all_completed() -> SessionRoom:
    from tests.unit.finalisation.finalisation_builders import candidate

    room = SessionRoom.open("s2", 7, date(2025, 3, 12), "fake$x", [candidate(1), candidate(2)])
    for cid in ("c1", "c2"):
        room.confirm_presence(cid, T0)
        room.start_test(cid, T0)
        room.complete_test(cid, T0 + timedelta(minutes=70))
    return room


def completed_reports(*reports_for_c1):
    return (CandidateReport("c1", True, None, tuple(reports_for_c1)), CandidateReport("c2", True))


def test_publishable_without_comment_impactful_report_or_unfinished_test(all_completed):
    assert finalise_session(all_completed, request(*completed_reports()), NOW).is_publishable


@pytest.mark.parametrize("code", ["C2", "C4", "C7", "C8"])
def test_non_impactful_reports_keep_the_session_publishable(all_completed, code):
    report = issue_report_from_code(code, description="noté")
    assert finalise_session(all_completed, request(*completed_reports(report)), NOW).is_publishable


@pytest.mark.parametrize("code", ["C1", "C6", "E1", "E12"])
def test_impactful_report_blocks_publication(all_completed, code):
    report = issue_report_from_code(code, description="noté", question_number=5 if code[0] == "E" else None)
    assert not finalise_session(all_completed, request(*completed_reports(report)), NOW).is_publishable


def test_global_comment_blocks_publication(all_completed):
    done = finalise_session(all_completed, request(*completed_reports(), comment="RAS mais…"), NOW)
    assert not done.is_publishable


def test_is_publishable_with_no_candidates():
    assert is_publishable(None, [])
    assert not is_publishable("comment", [])


# -- incidents of the whole room (the PV d'incident's entries without a candidate) --

POWER_CUT = issue_report_from_code("C7", description="Coupure de courant 10 min")
FIRE_ALARM = issue_report_from_code("C8", description="Alarme incendie, évacuation 15 min")


def with_room_incidents(*incidents, incident=True, comment=None):
    return FinalisationRequest(
        list(completed_reports()),
        has_incident=incident,
        has_joining_issue=False,
        examiner_global_comment=comment,
        session_incidents=incidents,
    )


def test_room_incidents_recorded_live_and_transcribed_from_paper_go_with_the_finalisation(all_completed):
    live_at = T0 + timedelta(minutes=10)
    all_completed.record_incident(POWER_CUT, live_at)
    all_completed.record_incident(issue_report_from_code("C8", description="en retard"), live_at, "c1")
    # the paper PV also lists the power cut (the same incident, once) and the fire alarm
    done = finalise_session(all_completed, with_room_incidents(POWER_CUT, FIRE_ALARM), NOW)
    assert done.session_incidents == (
        SessionIncident(POWER_CUT, live_at, IncidentSource.INVIGILATOR_SPACE),
        SessionIncident(FIRE_ALARM, NOW, IncidentSource.FINALISATION),
    )
    assert done.is_publishable  # neither is impactful
    assert done.to_payload()["session_incidents"][0] == {
        "category": "NON_BLOCKING_TECHNICAL_ISSUE",
        "subcategory": None,
        "code": "C7",
        "description": "Coupure de courant 10 min",
        "question_number": None,
        "is_impactful": False,
        "recorded_at": live_at.isoformat(),
        "source": "invigilator_space",
    }


def test_two_identical_room_incidents_stay_two(all_completed):
    all_completed.record_incident(POWER_CUT, T0)
    all_completed.record_incident(POWER_CUT, T0 + timedelta(minutes=40))
    done = finalise_session(all_completed, with_room_incidents(POWER_CUT, POWER_CUT, POWER_CUT), NOW)
    assert [i.source for i in done.session_incidents] == [
        IncidentSource.INVIGILATOR_SPACE,
        IncidentSource.INVIGILATOR_SPACE,
        IncidentSource.FINALISATION,
    ]


def test_room_incidents_need_has_incident_nothing_changed_when_refused(all_completed):
    all_completed.record_incident(POWER_CUT, T0)
    refused = lambda: finalise_session(all_completed, with_room_incidents(incident=False), NOW)  # noqa: E731
    assert code_of(refused) == "finalisation.incident_not_declared"
    assert not all_completed.is_finalised
    assert all_completed.seats["c1"].test_state is TestState.COMPLETED


def test_a_transcribed_room_incident_needs_has_incident_too(all_completed):
    refused = lambda: finalise_session(  # noqa: E731
        all_completed, with_room_incidents(FIRE_ALARM, incident=False), NOW
    )
    assert code_of(refused) == "finalisation.incident_not_declared"
    # an incident of one candidate alone does not (Pix leaves that box to the referent)
    report = issue_report_from_code("C8", description="en retard")
    assert finalise_session(all_completed, request(*completed_reports(report)), NOW).session_incidents == ()


@pytest.mark.parametrize("code", ["C6", "E4"])
def test_an_impactful_room_incident_blocks_publication(all_completed, code):
    report = issue_report_from_code(code, question_number=12 if code == "E4" else None)
    all_completed.record_incident(report, T0)
    assert not finalise_session(all_completed, with_room_incidents(), NOW).is_publishable


def test_an_impactful_transcribed_room_incident_blocks_publication(all_completed):
    fraud = issue_report_from_code("C6")
    assert not finalise_session(all_completed, with_room_incidents(fraud), NOW).is_publishable
    incident = SessionIncident(fraud, NOW, IncidentSource.FINALISATION)
    assert not is_publishable(None, [], [incident])


def test_a_transcribed_room_incident_cannot_be_about_one_candidate(all_completed):
    signature = issue_report_from_code("C4", description="pas signé")
    refused = lambda: finalise_session(all_completed, with_room_incidents(signature), NOW)  # noqa: E731
    assert code_of(refused) == "issue_report.candidate_required"
    assert not all_completed.is_finalised
