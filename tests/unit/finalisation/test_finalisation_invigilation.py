from datetime import timedelta

import pytest

from services.finalisation.domain.invigilation import (
    IncidentRecorded,
    InvigilatorLoggedIn,
    PresenceCancelled,
    PresenceConfirmed,
    ResumeAuthorised,
    SessionRoom,
    TestCompleted,
    TestEndedByInvigilator,
    TestStarted,
    TestState,
)
from services.finalisation.domain.issue_reports import issue_report_from_code
from shared.errors import DomainError
from tests.unit.finalisation.finalisation_builders import PASSWORD, T0, candidate, fake_verify


def code_of(call) -> str:
    with pytest.raises(DomainError) as caught:
        call()
    return caught.value.code


def start(room: SessionRoom, candidate_id: str, at=T0):
    room.confirm_presence(candidate_id, at)
    return room.start_test(candidate_id, at)


# -- login --


@pytest.mark.parametrize("typed", [PASSWORD, f"C-{PASSWORD}", f"c-{PASSWORD}", f"  C-{PASSWORD} "])
def test_login_with_or_without_the_c_prefix(room, typed):
    assert room.log_in(4242, typed, T0, fake_verify) == [InvigilatorLoggedIn("sess-1", T0)]
    assert room.has_invigilator_access


@pytest.mark.parametrize("typed", ["B3X7K8", "C-", "", "C-C-B3X7K9"])
def test_login_wrong_password(room, typed):
    assert code_of(lambda: room.log_in(4242, typed, T0, fake_verify)) == "auth.bad_password"
    assert not room.has_invigilator_access


def test_login_wrong_session_number_looks_like_a_wrong_password(room):
    assert code_of(lambda: room.log_in(4243, PASSWORD, T0, fake_verify)) == "auth.bad_password"


def test_login_checks_the_password_before_the_session_state(logged_in_room):
    start(logged_in_room, "c1")
    later = T0 + timedelta(hours=25)
    assert code_of(lambda: logged_in_room.log_in(4242, "wrong1", later, fake_verify)) == "auth.bad_password"


def test_login_refused_24_hours_after_the_first_test_started(logged_in_room):
    start(logged_in_room, "c1", T0 + timedelta(minutes=5))
    just_before = T0 + timedelta(minutes=5, hours=24) - timedelta(seconds=1)
    assert logged_in_room.log_in(4242, PASSWORD, just_before, fake_verify)
    expired_at = T0 + timedelta(minutes=5, hours=24)
    assert logged_in_room.expires_at() == expired_at
    assert (
        code_of(lambda: logged_in_room.log_in(4242, PASSWORD, expired_at, fake_verify)) == "session.expired"
    )


def test_no_expiry_while_no_test_started(room):
    assert room.expires_at() is None
    assert room.log_in(4242, PASSWORD, T0 + timedelta(days=30), fake_verify)


def test_login_refused_once_finalised(logged_in_room):
    logged_in_room.finalised_at = T0
    assert code_of(lambda: logged_in_room.log_in(4242, PASSWORD, T0, fake_verify)) == "session.finalised"


def test_login_with_the_real_password_hash(room):
    password_hash = pytest.importorskip("shared.password_hash")
    room.password_hash = password_hash.hash_password(PASSWORD)
    assert room.log_in(4242, f"C-{PASSWORD}", T0)  # default verifier, imported lazily
    assert code_of(lambda: room.log_in(4242, "C-XXXXXX", T0)) == "auth.bad_password"


# -- presence and tests --


def test_confirm_and_cancel_presence(logged_in_room):
    assert logged_in_room.confirm_presence("c1", T0) == [PresenceConfirmed("sess-1", "c1", T0)]
    assert logged_in_room.confirm_presence("c1", T0) == []  # idempotent
    assert logged_in_room.cancel_presence("c1", T0) == [PresenceCancelled("sess-1", "c1", T0)]
    assert logged_in_room.cancel_presence("c1", T0) == []
    assert code_of(lambda: logged_in_room.start_test("c1", T0)) == "candidate.not_authorised"


def test_start_records_started_at_and_theoretical_end(logged_in_room):
    logged_in_room.confirm_presence("c1", T0)
    at = T0 + timedelta(minutes=3)
    events = logged_in_room.start_test("c1", at)
    assert events == [TestStarted("sess-1", "c1", at, at + timedelta(minutes=105))]
    seat = logged_in_room.seats["c1"]
    assert (seat.test_state, seat.started_at) == (TestState.STARTED, at)
    assert logged_in_room.first_test_started_at == at
    assert code_of(lambda: logged_in_room.start_test("c1", at)) == "candidate.already_started"
    assert code_of(lambda: logged_in_room.cancel_presence("c1", at)) == "candidate.already_started"
    assert code_of(lambda: logged_in_room.confirm_presence("c1", at)) == "candidate.already_started"


def test_extra_time_lengthens_the_test(room):
    room.enrol(candidate(7, extra_time_percentage=33))
    room.confirm_presence("c7", T0)
    (event,) = room.start_test("c7", T0)
    assert event.theoretical_end_at == T0 + timedelta(minutes=105 * 1.33)
    seat = room.seats["c7"]
    assert not seat.is_overtime(T0 + timedelta(minutes=139))
    assert seat.is_overtime(T0 + timedelta(minutes=140))


def test_extra_time_cannot_be_negative():
    assert code_of(lambda: candidate(8, extra_time_percentage=-1)) == "candidate.extra_time_invalid"


def test_first_test_start_is_kept(logged_in_room):
    start(logged_in_room, "c1", T0)
    start(logged_in_room, "c2", T0 + timedelta(minutes=10))
    assert logged_in_room.first_test_started_at == T0


def test_no_new_start_after_expiry(logged_in_room):
    start(logged_in_room, "c1", T0)
    logged_in_room.confirm_presence("c2", T0)
    assert code_of(lambda: logged_in_room.start_test("c2", T0 + timedelta(hours=24))) == "session.expired"
    assert (
        code_of(lambda: logged_in_room.confirm_presence("c3", T0 + timedelta(hours=24))) == "session.expired"
    )


def test_authorise_resume_only_for_a_running_test(logged_in_room):
    assert code_of(lambda: logged_in_room.authorise_resume("c1", T0)) == "candidate.test_not_in_progress"
    start(logged_in_room, "c1")
    assert logged_in_room.authorise_resume("c1", T0) == [ResumeAuthorised("sess-1", "c1", T0)]
    assert logged_in_room.seats["c1"].authorised_to_start


def test_complete_test(logged_in_room):
    assert code_of(lambda: logged_in_room.complete_test("c1", T0)) == "candidate.test_not_in_progress"
    start(logged_in_room, "c1")
    end = T0 + timedelta(minutes=80)
    assert logged_in_room.complete_test("c1", end) == [TestCompleted("sess-1", "c1", end)]
    seat = logged_in_room.seats["c1"]
    assert (seat.test_state, seat.ended_at) == (TestState.COMPLETED, end)
    assert code_of(lambda: logged_in_room.complete_test("c1", end)) == "candidate.test_not_in_progress"
    assert code_of(lambda: logged_in_room.authorise_resume("c1", end)) == "candidate.test_not_in_progress"


def test_end_test_by_invigilator(logged_in_room):
    assert code_of(lambda: logged_in_room.end_test("c1", T0)) == "candidate.test_not_in_progress"
    start(logged_in_room, "c1")
    start(logged_in_room, "c2")
    end = T0 + timedelta(minutes=50)
    assert logged_in_room.end_test("c1", end) == [TestEndedByInvigilator("sess-1", "c1", end)]
    assert logged_in_room.seats["c1"].test_state is TestState.ENDED_BY_INVIGILATOR
    assert logged_in_room.end_test("c1", end) == []  # already over
    logged_in_room.complete_test("c2", end)
    assert logged_in_room.end_test("c2", end) == []  # a completed test stays completed
    assert logged_in_room.seats["c2"].test_state is TestState.COMPLETED


def test_a_running_test_may_complete_after_session_expiry(logged_in_room):
    start(logged_in_room, "c1")
    assert logged_in_room.complete_test("c1", T0 + timedelta(hours=25))


def test_the_space_closes_at_expiry_for_the_invigilator(logged_in_room):
    start(logged_in_room, "c1")
    expired = T0 + timedelta(hours=24)
    assert code_of(lambda: logged_in_room.end_test("c1", expired)) == "session.expired"
    assert (
        code_of(lambda: logged_in_room.record_incident(issue_report_from_code("C6"), expired))
        == "session.expired"
    )
    assert code_of(lambda: logged_in_room.require_open(expired)) == "session.expired"
    logged_in_room.require_open(expired - timedelta(seconds=1))


@pytest.mark.parametrize(
    "action",
    ["confirm_presence", "cancel_presence", "start_test", "authorise_resume", "complete_test", "end_test"],
)
def test_unknown_candidate(logged_in_room, action):
    assert code_of(lambda: getattr(logged_in_room, action)("nobody", T0)) == "candidate.unknown"


@pytest.mark.parametrize(
    "action",
    ["confirm_presence", "cancel_presence", "start_test", "authorise_resume", "complete_test", "end_test"],
)
def test_every_action_refused_once_finalised(logged_in_room, action):
    logged_in_room.finalised_at = T0
    assert code_of(lambda: getattr(logged_in_room, action)("c1", T0)) == "session.finalised"


def test_record_incidents_as_they_happen(logged_in_room):
    report = issue_report_from_code("E4", question_number=7)
    assert logged_in_room.record_incident(report, T0, "c1") == [IncidentRecorded("sess-1", "c1", report, T0)]
    room_wide = issue_report_from_code("C7", description="coupure réseau 10 min")
    logged_in_room.record_incident(room_wide, T0)
    assert logged_in_room.incidents_for("c1") == [report]
    assert len(logged_in_room.incidents) == 2
    assert code_of(lambda: logged_in_room.record_incident(report, T0, "nobody")) == "candidate.unknown"
    logged_in_room.finalised_at = T0
    assert code_of(lambda: logged_in_room.record_incident(report, T0, "c1")) == "session.finalised"


@pytest.mark.parametrize("code", ["C1", "C2", "C4"])
def test_a_report_about_one_candidate_cannot_be_for_the_whole_room(logged_in_room, code):
    report = issue_report_from_code(code, description="noté")
    assert code_of(lambda: logged_in_room.record_incident(report, T0)) == "issue_report.candidate_required"
    assert logged_in_room.incidents == []
    logged_in_room.record_incident(report, T0, "c1")


def test_enrolment_changes(room):
    room.enrol(candidate(5))
    room.unenrol("c5")
    assert "c5" not in room.seats
    assert code_of(lambda: room.unenrol("c5")) == "candidate.unknown"
    room.confirm_presence("c1", T0)
    room.start_test("c1", T0)
    assert code_of(lambda: room.unenrol("c1")) == "candidate.already_started"
    assert code_of(lambda: room.enrol(candidate(1))) == "candidate.already_started"
