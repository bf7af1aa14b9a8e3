"""The enrolment use cases in memory: a class or chosen learners, per-learner refusals, unenrolment."""

from __future__ import annotations

import uuid

from services.scheduler.schemas import EnrolmentIn
from services.scheduler.usecases import enrolment
from shared.contracts.events import CandidatesEnrolled, CandidateUnenrolled
from tests.unit.scheduler.fakes import InMemoryScheduler
from tests.unit.scheduler.usecase_support import CLOCK, UAI, new_session, refused, school


async def _enrol(scheduler: InMemoryScheduler, session_id: uuid.UUID, **body) -> enrolment.EnrolmentOutcome:
    return await enrolment.enrol(
        scheduler.begin, session_id=session_id, body=EnrolmentIn(**body), clock=CLOCK
    )


async def test_a_class_is_enrolled_once_and_a_learner_enrolled_elsewhere_is_refused_alone() -> None:
    scheduler = InMemoryScheduler()
    await school(scheduler)
    morning, afternoon = await new_session(scheduler), await new_session(scheduler, time="14:00")
    tg1 = scheduler.add_class(UAI, "TG1", 4)

    outcome = await _enrol(scheduler, morning, learner_ids=[tg1[0]], extra_time={tg1[0]: 33})
    assert [c.candidate.extra_time_percentage for c in outcome.enrolled] == [33]
    outcome = await _enrol(scheduler, afternoon, division="TG1")
    assert sorted(c.candidate.learner_id for c in outcome.enrolled) == sorted(tg1[1:])
    assert outcome.refused == [
        {
            "learner_id": tg1[0],
            "code": "candidate.enrolled_elsewhere",
            "message": "déjà inscrit(e) à la session 1",
        }
    ]
    again = await _enrol(scheduler, afternoon, division="TG1")
    assert again.enrolled == [] and sorted(again.already_enrolled) == sorted(tg1[1:])
    assert [len(e.candidates) for e in scheduler.emitted(CandidatesEnrolled)] == [1, 3]


async def test_a_selection_naming_another_schools_or_unknown_learners_is_refused_whole() -> None:
    scheduler = InMemoryScheduler()
    await school(scheduler)
    session_id = await new_session(scheduler)
    mine = scheduler.add_class(UAI, "TG1", 2)
    theirs = scheduler.add_learner("0190011X", "TG1", "elsewhere")
    gone = scheduler.add_learner(UAI, "TG1", "gone", active=False)

    error = await refused(
        "enrolment.foreign_learner", _enrol(scheduler, session_id, learner_ids=[mine[0], theirs])
    )
    assert error.details == {"learner_ids": [theirs]}
    error = await refused(  # the same refusal for a learner named only in the extra time
        "enrolment.foreign_learner", _enrol(scheduler, session_id, division="TG1", extra_time={theirs: 33})
    )
    assert error.details == {"learner_ids": [theirs]}
    await refused("learner.unknown", _enrol(scheduler, session_id, learner_ids=["nobody"]))
    await refused("learner.inactive", _enrol(scheduler, session_id, learner_ids=[gone]))
    await refused(
        "enrolment.learner_not_selected",
        _enrol(scheduler, session_id, learner_ids=[mine[0]], extra_time={mine[1]: 33}),
    )
    await refused("class.unknown", _enrol(scheduler, session_id, division="TG9"))
    await refused("enrolment.nothing_selected", _enrol(scheduler, session_id))
    assert scheduler.state.candidates[session_id] == {} and scheduler.emitted(CandidatesEnrolled) == []


async def test_a_candidate_is_unenrolled_once() -> None:
    scheduler = InMemoryScheduler()
    await school(scheduler)
    session_id = await new_session(scheduler)
    [learner_id] = scheduler.add_class(UAI, "TG1", 1)
    [candidate] = (await _enrol(scheduler, session_id, division="TG1")).enrolled

    await enrolment.unenrol(
        scheduler.begin, session_id=session_id, candidate_id=candidate.candidate_id, clock=CLOCK
    )
    [event] = scheduler.emitted(CandidateUnenrolled)
    assert (event.learner_id, event.candidate_id) == (learner_id, str(candidate.candidate_id))
    await refused(
        "candidate.unknown",
        enrolment.unenrol(
            scheduler.begin, session_id=session_id, candidate_id=candidate.candidate_id, clock=CLOCK
        ),
    )
