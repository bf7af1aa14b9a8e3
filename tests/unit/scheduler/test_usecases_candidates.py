"""Candidates after the first start, in memory (issue 16 item 3): enrolment stays open until
finalisation, corrections are CandidateUpdated, a released absentee may be enrolled again."""

from __future__ import annotations

import uuid
from dataclasses import replace

from services.scheduler.schemas import CandidatePatch, EnrolmentIn
from services.scheduler.usecases import candidates, enrolment
from shared.contracts.events import CandidatesEnrolled, CandidateUpdated
from tests.unit.scheduler.fakes import InMemoryScheduler
from tests.unit.scheduler.usecase_support import CLOCK, NOW, UAI, new_session, refused, school


def _start(scheduler: InMemoryScheduler, session_id: uuid.UUID, *, finalised: bool = False) -> None:
    row = scheduler.state.sessions[session_id]
    session = replace(row.session, first_test_started_at=NOW)
    scheduler.state.sessions[session_id] = replace(
        row, session=session, finalised_at=NOW if finalised else None
    )


async def _correct(scheduler: InMemoryScheduler, session_id: uuid.UUID, candidate_id: uuid.UUID, **body):
    return await candidates.correct_candidate(
        scheduler.begin,
        session_id=session_id,
        candidate_id=candidate_id,
        body=CandidatePatch(**body),
        clock=CLOCK,
    )


async def test_a_forgotten_student_is_added_after_the_first_start_and_corrected() -> None:
    scheduler = InMemoryScheduler()
    await school(scheduler)
    session_id = await new_session(scheduler)
    [first, forgotten] = scheduler.add_class(UAI, "TG1", 2)
    await enrolment.enrol(
        scheduler.begin, session_id=session_id, body=EnrolmentIn(learner_ids=[first]), clock=CLOCK
    )
    _start(scheduler, session_id)

    added = await enrolment.enrol(
        scheduler.begin,
        session_id=session_id,
        body=EnrolmentIn(learner_ids=[forgotten], adapted_conditions={forgotten: "loupe"}),
        clock=CLOCK,
    )
    [row] = added.enrolled
    assert row.candidate.adapted_conditions == "loupe"
    assert scheduler.emitted(CandidatesEnrolled)[-1].candidates[0].adapted_conditions == "loupe"

    corrected = await _correct(scheduler, session_id, row.candidate_id, extra_time_percentage=33)
    assert corrected.candidate.extra_time_percentage == 33
    [event] = scheduler.emitted(CandidateUpdated)
    assert event.changed_fields == ["extra_time_percentage"] and event.candidate.adapted_conditions == "loupe"
    await _correct(scheduler, session_id, row.candidate_id, extra_time_percentage=33)
    assert len(scheduler.emitted(CandidateUpdated)) == 1  # nothing changed: nothing told

    await refused("candidate.unknown", _correct(scheduler, session_id, uuid.uuid4(), extra_time_percentage=0))
    _start(scheduler, session_id, finalised=True)
    await refused(
        "session.finalised", _correct(scheduler, session_id, row.candidate_id, extra_time_percentage=0)
    )
    await refused(
        "session.finalised",
        enrolment.enrol(
            scheduler.begin, session_id=session_id, body=EnrolmentIn(division="TG1"), clock=CLOCK
        ),
    )
    await refused(
        "session.finalised",
        enrolment.unenrol(scheduler.begin, session_id=session_id, candidate_id=row.candidate_id, clock=CLOCK),
    )


async def test_a_released_absentee_may_be_enrolled_again_and_a_completed_one_may_not() -> None:
    scheduler = InMemoryScheduler()
    await school(scheduler)
    first_day, catch_up = await new_session(scheduler), await new_session(scheduler, time="14:00")
    tg1 = scheduler.add_class(UAI, "TG1", 2)
    enrolled = await enrolment.enrol(
        scheduler.begin, session_id=first_day, body=EnrolmentIn(division="TG1"), clock=CLOCK
    )
    absent = next(c for c in enrolled.enrolled if c.candidate.learner_id == tg1[0])
    _start(scheduler, first_day, finalised=True)
    scheduler.state.released.add(absent.candidate_id)  # what SessionFinalised records (store_lifecycle)

    again = await enrolment.enrol(
        scheduler.begin, session_id=catch_up, body=EnrolmentIn(division="TG1"), clock=CLOCK
    )
    assert [c.candidate.learner_id for c in again.enrolled] == [tg1[0]]
    assert [r["learner_id"] for r in again.refused] == [tg1[1]]
