"""The amendment of a finalisation: the first finalisation's rules, a bounded delay, no result yet,
presence unchanged (domain/amendment.py)."""

from datetime import timedelta

import pytest

from services.finalisation.domain.amendment import amend_finalisation, require_amendable
from services.finalisation.domain.finalisation import (
    AbortReason,
    CandidateReport,
    FinalisationRequest,
    finalise_session,
)
from services.finalisation.domain.invigilation import SessionRoom
from services.finalisation.domain.issue_reports import issue_report_from_code
from shared.errors import DomainError
from tests.unit.finalisation.finalisation_builders import T0

FINALISED = T0 + timedelta(hours=3)
WINDOW = timedelta(hours=48)
GOOD = (
    CandidateReport("c1", present=True),
    CandidateReport("c2", present=True, abort_reason=AbortReason.TECHNICAL),
    CandidateReport("c3", present=False),
)


def code_of(call) -> str:
    with pytest.raises(DomainError) as caught:
        call()
    return caught.value.code


def form(*reports: CandidateReport, comment: str | None = None) -> FinalisationRequest:
    return FinalisationRequest(
        list(reports), has_incident=False, has_joining_issue=False, examiner_global_comment=comment
    )


@pytest.fixture
def finalised(logged_in_room: SessionRoom) -> tuple[SessionRoom, list[dict]]:
    """c1 completed, c2 ended by the invigilator, c3 absent; finalised at FINALISED."""
    for candidate_id in ("c1", "c2"):
        logged_in_room.confirm_presence(candidate_id, T0)
        logged_in_room.start_test(candidate_id, T0)
    logged_in_room.complete_test("c1", T0 + timedelta(minutes=90))
    logged_in_room.end_test("c2", T0 + timedelta(minutes=60))
    first = finalise_session(logged_in_room, form(*GOOD), FINALISED)
    return logged_in_room, [c.to_payload() for c in first.candidates]


def test_an_amendment_replaces_the_form_and_keeps_the_first_finalisation_time(finalised):
    room, previous = finalised
    e4 = issue_report_from_code("E4", question_number=12)
    reports = (GOOD[0], CandidateReport("c2", True, "candidate", (e4,)), GOOD[2])
    now = FINALISED + timedelta(hours=20)
    amended = amend_finalisation(
        room, previous, form(*reports, comment="Alarme"), now, WINDOW, results_received=False
    )
    assert amended.finalised_at == FINALISED
    assert amended.examiner_global_comment == "Alarme" and not amended.is_publishable
    c2 = next(c for c in amended.candidates if c.candidate_id == "c2")
    assert c2.abort_reason is AbortReason.CANDIDATE and [r.code for r in c2.issue_reports] == ["E4"]
    assert room.finalised_at == FINALISED  # the room is left as it was


def test_presence_cannot_be_amended(finalised):
    room, previous = finalised
    absent_made_present = (GOOD[0], GOOD[1], CandidateReport("c3", True, "technical"))
    with pytest.raises(DomainError) as caught:
        amend_finalisation(
            room, previous, form(*absent_made_present), FINALISED, WINDOW, results_received=False
        )
    assert caught.value.code == "finalisation.amendment_changes_presence"
    assert caught.value.details["candidate_ids"] == ["c3"]


def test_an_amendment_runs_the_finalisation_rules_too(finalised):
    room, previous = finalised
    missing_abort_reason = (GOOD[0], CandidateReport("c2", True), GOOD[2])
    assert (
        code_of(lambda: amend_finalisation(room, previous, form(*missing_abort_reason), FINALISED, WINDOW, results_received=False))
        == "finalisation.abort_reason_missing"
    )  # fmt: skip
    assert (
        code_of(lambda: amend_finalisation(room, previous, form(*GOOD[:2]), FINALISED, WINDOW, results_received=False))
        == "finalisation.candidates_unaccounted"
    )  # fmt: skip


def test_the_delay_and_the_results_close_the_amendment(finalised):
    room, previous = finalised
    last_moment = FINALISED + WINDOW
    require_amendable(FINALISED, last_moment, WINDOW, results_received=False)  # still open
    too_late = code_of(
        lambda: amend_finalisation(
            room, previous, form(*GOOD), last_moment + timedelta(seconds=1), WINDOW, results_received=False
        )
    )
    assert too_late == "finalisation.amendment_too_late"
    received = code_of(
        lambda: amend_finalisation(room, previous, form(*GOOD), FINALISED, WINDOW, results_received=True)
    )
    assert received == "finalisation.results_received"
    never = code_of(
        lambda: require_amendable(
            FINALISED, FINALISED + timedelta(seconds=1), timedelta(0), results_received=False
        )
    )
    assert never == "finalisation.amendment_too_late"


def test_a_room_not_finalised_has_nothing_to_amend(logged_in_room):
    logged_in_room.confirm_presence("c1", T0)
    logged_in_room.start_test("c1", T0)
    code = code_of(
        lambda: amend_finalisation(logged_in_room, [], form(*GOOD), T0, WINDOW, results_received=False)
    )
    assert code == "finalisation.unknown"
