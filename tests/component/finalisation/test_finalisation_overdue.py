"""Overdue finalisation on real Postgres: once per session, N days after its start (Paris time)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.finalisation.app import definition, overdue_tick
from shared.clock import ManualClock
from shared.contracts.events import SessionFinalisationOverdue
from tests.component.finalisation.conftest import Finalisation
from tests.component.finalisation.finalisation_support import (
    SESSION_START,
    Invigilator,
    finalisation_body,
    session_events,
)


async def overdue_of(finalisation, *session_ids: str) -> list[SessionFinalisationOverdue]:
    """Only this test's sessions: the read model also holds sessions other tests put on the topic."""
    return [e for e in await finalisation.raised(SessionFinalisationOverdue) if e.session_id in session_ids]


#: two days after 09:00 Paris on the session day
DUE = SESSION_START + timedelta(days=2)


async def test_a_session_not_finalised_two_days_after_is_reported_once(finalisation):
    session = await finalisation.seed(session_events())
    finalisation.clock.set(DUE - timedelta(minutes=1))
    assert session.session_id not in await overdue_tick(finalisation.runtime)

    finalisation.clock.set(DUE)
    assert session.session_id in await overdue_tick(finalisation.runtime)
    (event,) = await overdue_of(finalisation, session.session_id)
    assert (event.session_id, event.uai, event.session_date) == (
        session.session_id,
        session.uai,
        session.created.date,
    )
    assert event.due_at == DUE and event.detected_at == DUE

    finalisation.clock.advance(days=3)
    assert session.session_id not in await overdue_tick(finalisation.runtime)
    assert len(await overdue_of(finalisation, session.session_id)) == 1


async def test_finalised_and_cancelled_sessions_are_never_overdue(finalisation):
    finalised = await finalisation.seed(session_events(1))
    invigilator = Invigilator(finalisation.http, finalised)
    await invigilator.log_in()
    await invigilator.take_test(0)
    response = await finalisation.http.put(
        f"/sessions/{finalised.session_id}/finalisation", json=finalisation_body(finalised, {0: None})
    )
    assert response.status_code == 200
    cancelled = await finalisation.seed(session_events(1))
    await finalisation.pool.execute(
        "UPDATE sessions SET cancelled_at = now() WHERE session_id = $1", cancelled.session_id
    )
    finalisation.clock.set(DUE + timedelta(days=10))
    reported = await overdue_tick(finalisation.runtime)
    assert finalised.session_id not in reported and cancelled.session_id not in reported
    assert await overdue_of(finalisation, finalised.session_id, cancelled.session_id) == []


async def test_the_delay_is_configurable(start_service):
    finalisation = Finalisation(await start_service(definition, finalisation_overdue_days=5))
    session = await finalisation.seed(session_events(time="14:30"))
    # 14:30 in Paris is 13:30 UTC on 10 March 2027
    due = datetime(2027, 3, 15, 13, 30, tzinfo=UTC)
    finalisation.runtime.clock = ManualClock(due - timedelta(seconds=1))
    assert session.session_id not in await overdue_tick(finalisation.runtime)
    finalisation.runtime.clock = ManualClock(due)
    assert session.session_id in await overdue_tick(finalisation.runtime)
