"""The finalisation use case on the in-memory store: the form closes the room, once."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.finalisation.domain.finalisation import CandidateReport
from services.finalisation.domain.invigilation import TestState
from services.finalisation.domain.issue_reports import issue_report_from_code
from services.finalisation.usecases import finalisation, invigilation
from services.finalisation.usecases.finalisation import FinalisationForm
from shared.contracts.events import SessionFinalised
from shared.errors import DomainError
from tests.unit.finalisation.fakes import InMemoryFinalisation
from tests.unit.finalisation.finalisation_builders import T0, candidate

LATER = T0 + timedelta(hours=3)


@pytest.fixture
async def service() -> InMemoryFinalisation:
    """Two candidates: c1 finished, c2 still running; c3 never came."""
    service = InMemoryFinalisation()
    service.seed([candidate(1), candidate(2), candidate(3)])
    for cid in ("c1", "c2"):
        await invigilation.confirm_presence(service.begin, "sess-1", cid, now=T0)
        await invigilation.start_test(service.begin, "sess-1", cid, now=T0)
    await invigilation.complete_test(service.begin, "sess-1", "c1", now=T0 + timedelta(minutes=100))
    return service


def finalise(service: InMemoryFinalisation, reports=None, *, without_issues=(), **overrides):
    values = {
        "reports": reports
        if reports is not None
        else [
            CandidateReport("c1", True),
            CandidateReport("c2", True, "technical"),
            CandidateReport("c3", False),
        ],
        "reports_without_issues": frozenset(without_issues),
        "has_incident": False,
        "has_joining_issue": False,
        "examiner_global_comment": None,
    } | overrides
    return finalisation.finalise(service.begin, "sess-1", FinalisationForm(**values), now=LATER)


async def test_finalisation_raises_session_finalised_and_ends_what_still_runs(service):
    event = await finalise(service, examiner_global_comment="  RAS  ")
    assert service.published_of(SessionFinalised) == [event]
    assert (event.session_id, event.uai, event.session_time, event.finalised_at) == (
        "sess-1",
        "0750001A",
        "09:00",
        LATER,
    )
    assert {c.candidate_id: (c.present, c.completed) for c in event.candidates} == {
        "c1": (True, True),
        "c2": (True, False),
        "c3": (False, False),
    }
    assert event.examiner_global_comment == "RAS"
    assert service.store.tables.finalisations["sess-1"].payload == event.model_dump(mode="json")
    assert service.seat_state("sess-1", "c2") is TestState.ENDED_DUE_TO_FINALISATION


async def test_a_session_is_finalised_once_and_its_room_closes(service):
    await finalise(service)
    await _refused("session.finalised", finalise(service))
    await _refused("session.finalised", invigilation.complete_test(service.begin, "sess-1", "c2", now=LATER))
    assert len(service.published_of(SessionFinalised)) == 1


async def test_a_refused_finalisation_writes_nothing(service):
    await _refused("finalisation.candidates_unaccounted", finalise(service, [CandidateReport("c1", True)]))
    assert service.published_of(SessionFinalised) == []
    assert "sess-1" not in service.store.tables.finalisations
    assert service.seat_state("sess-1", "c2") is TestState.STARTED


async def test_nothing_to_finalise_before_any_test_started():
    service = InMemoryFinalisation()
    service.seed([candidate(1)])
    await _refused(
        "finalisation.no_started_test",
        finalisation.finalise(
            service.begin,
            "sess-1",
            FinalisationForm([CandidateReport("c1", False)], has_incident=False, has_joining_issue=False),
            now=LATER,
        ),
    )


async def test_the_incidents_recorded_live_fill_a_report_given_without_issues(service):
    live = issue_report_from_code("C1", description="prénom mal orthographié")
    await invigilation.record_incident(service.begin, "sess-1", "c2", live, now=T0 + timedelta(minutes=5))
    event = await finalise(service, without_issues={"c2"})
    (c2,) = [c for c in event.candidates if c.candidate_id == "c2"]
    assert [(r.code, r.description) for r in c2.issue_reports] == [("C1", "prénom mal orthographié")]


async def test_a_cancelled_or_unknown_session_is_not_finalised(service):
    await _refused(
        "session.unknown",
        finalisation.finalise(
            service.begin,
            "nope",
            FinalisationForm([], has_incident=False, has_joining_issue=False),
            now=LATER,
        ),
    )
    service.cancel("sess-1")
    await _refused("session.cancelled", finalise(service))


async def _refused(code: str, call) -> None:
    with pytest.raises(DomainError) as caught:
        await call
    assert caught.value.code == code
