"""The plans use cases in memory: propose, confirm all or nothing, and the refusals of a stale plan."""

from __future__ import annotations

from datetime import date

from services.scheduler.schemas import PlanIn
from services.scheduler.usecases import plans
from shared.contracts.events import CandidatesEnrolled, SessionCreated
from tests.unit.scheduler.fakes import InMemoryScheduler
from tests.unit.scheduler.usecase_support import CALENDAR, CLOCK, UAI, fast_hash, refused, school


async def _propose(scheduler: InMemoryScheduler, **body) -> plans.PlanRow:
    return await plans.propose_plan(
        scheduler.begin, uai=UAI, body=PlanIn(school_year="2025-2026", **body), clock=CLOCK, calendar=CALENDAR
    )


async def _confirm(scheduler: InMemoryScheduler, plan_id):
    return await plans.confirm_plan(
        scheduler.begin, plan_id=plan_id, clock=CLOCK, calendar=CALENDAR, hash_password=fast_hash
    )


async def test_a_confirmed_plan_creates_its_sessions_and_enrols_every_planned_learner() -> None:
    scheduler = InMemoryScheduler()
    await school(scheduler)
    learners = scheduler.add_class(UAI, "TG1", 25) + scheduler.add_class(UAI, "TG2", 20)
    scheduler.add_learner(UAI, "TG2", "not-certifiable", certifiable=False)

    plan = await _propose(scheduler)
    assert plan.status == "proposed" and plan.proposal.students == 45
    assert sorted(plan.proposal.learner_ids) == sorted(learners)
    assert plan.proposal.window.start == date(2025, 11, 3)
    assert scheduler.events == []  # a proposal raises nothing

    confirmed, session_ids = await _confirm(scheduler, plan.plan_id)
    assert confirmed.status == "confirmed" and len(session_ids) == len(plan.proposal.sessions)
    created = scheduler.emitted(SessionCreated)
    assert [e.session_id for e in created] == [str(s) for s in session_ids]
    assert all(e.invigilator_password_verifier.startswith("test$") for e in created)
    enrolled = [c.learner_id for e in scheduler.emitted(CandidatesEnrolled) for c in e.candidates]
    assert sorted(enrolled) == sorted(learners)

    await refused("plan.already_confirmed", _confirm(scheduler, plan.plan_id))
    again = await _propose(scheduler)  # everyone is enrolled now
    assert again.proposal.students == 0 and again.proposal.sessions == ()
    assert "aucun élève certifiable à planifier" in again.proposal.notes


async def test_a_plan_whose_learners_changed_is_refused_whole() -> None:
    scheduler = InMemoryScheduler()
    await school(scheduler)
    learners = scheduler.add_class(UAI, "TG1", 25)
    plan = await _propose(scheduler)
    scheduler.state.learners[learners[3]].active = False  # left the school since
    scheduler.state.certifiability[learners[7]] = "not_certifiable"

    error = await refused("plan.stale", _confirm(scheduler, plan.plan_id))
    assert error.details == {"learner_ids": sorted([learners[3], learners[7]])}
    assert scheduler.state.sessions == {} and scheduler.events == []
    assert scheduler.state.plans[plan.plan_id].status == "proposed"


async def test_an_unknown_class_is_refused_before_anything_is_stored_and_no_plan_is_impossible() -> None:
    scheduler = InMemoryScheduler()
    await school(scheduler)
    scheduler.add_class(UAI, "TG1", 5)
    error = await refused("class.unknown", _propose(scheduler, divisions=["TG1", "TG9"]))
    assert error.details["divisions"] == ["TG9"]
    assert scheduler.state.plans == {}
    await refused("plan.unknown", plans.get_plan(scheduler.begin, plan_id=plan_id_unknown()))

    await school(scheduler, rooms=[])  # no room: nowhere to plan
    impossible = await _propose(scheduler)
    assert impossible.status == "impossible" and impossible.proposal.error is not None
    assert impossible.proposal.error.reasons
    await refused("plan.impossible", _confirm(scheduler, impossible.plan_id))


def plan_id_unknown():
    import uuid

    return uuid.UUID(int=0)
