"""The one-month check on a manual clock: who is asked for remediation, when, and only once."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from eligibility_component_support import UAI, outbox_events, upload, upload_roster

from deploy.local.generator import (
    Participation,
    campaign_csv_bytes,
    generate_learners,
    learner_csv_bytes,
)
from services.eligibility.app import remediation_tick
from services.eligibility.handlers import (
    on_candidate_unenrolled,
    on_candidates_enrolled,
    on_session_cancelled,
    on_session_created,
    on_session_updated,
)
from shared.clock import ManualClock
from shared.contracts.events import (
    CandidateUnenrolled,
    RemediationRequested,
    SessionCancelled,
    SessionCreated,
    SessionUpdated,
)
from tests.events import enrolled_from_roster, session

pytestmark = pytest.mark.integration

SESSION_DATE = date(2026, 3, 10)
SIX = (8, 16, 9, 40, 8, 8, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0)
TWO = (8, 16, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
NOW = datetime(2026, 1, 5, 9, tzinfo=UTC)


def session_created(session_id: str, when: date = SESSION_DATE) -> SessionCreated:
    return session(UAI, 1234, session_id=session_id, date=when, created_at=NOW)


async def apply(svc, handler, event) -> None:
    async with svc.runtime.unit_of_work() as uow:
        await handler(uow, event, None)


async def setup_school(svc):
    """Three 3A learners: certifiable, 2 competences, never shared. Returns (ids by INE, learners)."""
    learners = generate_learners(31, 3)
    assert (await upload_roster(svc, "eleves.csv", learner_csv_bytes(learners))).status_code == 200
    a, b, _never_shared = learners
    rows = [
        Participation(a.last_name, a.first_name, a.division, a.ine, True, date(2025, 11, 5), SIX),
        Participation(b.last_name, b.first_name, b.division, b.ine, True, date(2025, 11, 5), TWO),
    ]
    await upload(svc, f"/schools/{UAI}/campaign-exports", "export.csv", campaign_csv_bytes(rows))
    ids = {
        r["ine"]: r["id"] for r in await svc.pool.fetch("SELECT ine, learner_id::text AS id FROM learners")
    }
    return ids, learners


async def create_session_with(svc, ids, learners, when: date = SESSION_DATE) -> str:
    created = session_created(str(uuid.uuid4()), when)
    await apply(svc, on_session_created, created)
    await apply(svc, on_candidates_enrolled, enrolled_from_roster(created, learners, ids, NOW))
    return created.session_id


async def check(svc, *session_ids: str) -> list[RemediationRequested]:
    """One tick; only the events about these sessions (the service also reads other tests' sessions)."""
    return [e for e in await remediation_tick(svc.runtime) if e.session_id in session_ids]


def at(day: date) -> ManualClock:
    return ManualClock(datetime(day.year, day.month, day.day, 7, tzinfo=UTC))


async def test_nothing_before_the_due_date_then_the_not_certifiable_ones_with_what_they_miss(eligibility):
    ids, learners = await setup_school(eligibility)
    session_id = await create_session_with(eligibility, ids, learners)
    due = SESSION_DATE - timedelta(days=30)
    eligibility.runtime.clock = at(due - timedelta(days=1))
    assert await check(eligibility, session_id) == []

    eligibility.runtime.clock = at(due)
    [event] = await check(eligibility, session_id)
    assert (event.session_id, event.session_date, event.due_date) == (session_id, SESSION_DATE, due)
    missing = {m.learner_id: m for m in event.learners}
    _certifiable, b, c = learners
    assert set(missing) == {ids[b.ine], ids[c.ine]}  # the certifiable one is not asked anything
    assert (missing[ids[b.ine]].status, missing[ids[b.ine]].competences_needed) == ("not_certifiable", 3)
    assert missing[ids[b.ine]].certifiable_competences == 2
    assert len(missing[ids[b.ine]].competences_at_level_zero) == 14
    assert (missing[ids[c.ine]].status, missing[ids[c.ine]].competences_needed) == ("unknown", None)
    assert missing[ids[c.ine]].division == c.division
    assert [
        e for e in await outbox_events(eligibility, RemediationRequested) if e.session_id == session_id
    ] == [event]

    eligibility.runtime.clock.advance(days=3)
    assert await check(eligibility, session_id) == []  # once per session and due date
    raised = await outbox_events(eligibility, RemediationRequested)
    assert [e.session_id for e in raised].count(session_id) == 1


async def test_a_session_created_after_its_due_date_is_checked_at_once_but_not_after_it_took_place(
    eligibility,
):
    ids, learners = await setup_school(eligibility)
    eligibility.runtime.clock = at(SESSION_DATE - timedelta(days=5))
    late = await create_session_with(eligibility, ids, learners)
    past = await create_session_with(eligibility, ids, learners, when=SESSION_DATE - timedelta(days=6))
    raised = await check(eligibility, late, past)
    assert [e.session_id for e in raised] == [late]
    assert past not in {e.session_id for e in await outbox_events(eligibility, RemediationRequested)}


async def test_lead_days_come_from_the_settings(start_service):
    from services.eligibility.app import definition

    svc = await start_service(definition, remediation_lead_days=10)
    ids, learners = await setup_school(svc)
    session_id = await create_session_with(svc, ids, learners)
    svc.runtime.clock = at(SESSION_DATE - timedelta(days=11))
    assert await check(svc, session_id) == []
    svc.runtime.clock = at(SESSION_DATE - timedelta(days=10))
    [event] = await check(svc, session_id)
    assert event.due_date == SESSION_DATE - timedelta(days=10)


async def test_cancelled_sessions_and_unenrolled_candidates_are_left_alone(eligibility):
    ids, learners = await setup_school(eligibility)
    cancelled = await create_session_with(eligibility, ids, learners)
    await apply(
        eligibility, on_session_cancelled, SessionCancelled(session_id=cancelled, uai=UAI, cancelled_at=NOW)
    )
    kept = await create_session_with(eligibility, ids, learners[:2])
    b = learners[1]
    await apply(
        eligibility,
        on_candidate_unenrolled,
        CandidateUnenrolled(
            session_id=kept, uai=UAI, candidate_id="c1", learner_id=ids[b.ine], unenrolled_at=NOW
        ),
    )
    eligibility.runtime.clock = at(SESSION_DATE - timedelta(days=20))
    # only the certifiable learner is left in `kept`: checked, nothing to ask
    assert await check(eligibility, kept, cancelled) == []
    checks = await eligibility.pool.fetch(
        "SELECT session_id, candidates, requested FROM remediation_checks WHERE session_id = ANY($1)",
        [kept, cancelled],
    )
    assert [(r["session_id"], r["candidates"], r["requested"]) for r in checks] == [(kept, 1, 0)]


async def test_a_moved_session_gets_a_new_check_for_its_new_due_date(eligibility):
    ids, learners = await setup_school(eligibility)
    session_id = await create_session_with(eligibility, ids, learners)
    eligibility.runtime.clock = at(SESSION_DATE - timedelta(days=30))
    assert len(await check(eligibility, session_id)) == 1
    moved = SESSION_DATE + timedelta(days=14)
    await apply(
        eligibility,
        on_session_updated,
        SessionUpdated(
            **session_created(session_id, moved).model_dump(exclude={"created_at"}),
            changed_fields=["date"],
            updated_at=NOW,
        ),
    )
    assert await check(eligibility, session_id) == []
    eligibility.runtime.clock = at(moved - timedelta(days=30))
    [event] = await check(eligibility, session_id)
    assert (event.session_date, event.due_date) == (moved, moved - timedelta(days=30))
