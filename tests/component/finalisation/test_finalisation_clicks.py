"""An invigilator click on real Postgres changes one seat: one row locked and written, not the room."""

from __future__ import annotations

import asyncio

from shared.contracts.events import SessionStarted
from tests.component.finalisation.finalisation_support import Invigilator, session_events


async def seats_written(finalisation, session_id: str) -> list[str]:
    rows = await finalisation.pool.fetch(
        "SELECT candidate_id FROM seats WHERE session_id = $1 ORDER BY candidate_id", session_id
    )
    return [row["candidate_id"] for row in rows]


async def test_a_click_writes_only_the_clicked_candidates_seat(finalisation):
    session = await finalisation.seed(session_events(5))
    invigilator = Invigilator(finalisation.http, session)
    await invigilator.log_in()
    assert await seats_written(finalisation, session.session_id) == []

    await invigilator.start(2)
    assert await seats_written(finalisation, session.session_id) == [session.candidate(2).candidate_id]
    room = (await invigilator.room()).json()
    assert [c["test_state"] for c in room["candidates"]].count("started") == 1


async def test_a_click_does_not_wait_for_a_click_on_another_seat(finalisation):
    session = await finalisation.seed(session_events(3))
    invigilator = Invigilator(finalisation.http, session)
    await invigilator.log_in()
    await invigilator.start(0)
    first = session.candidate(0).candidate_id
    async with finalisation.pool.acquire() as conn, conn.transaction():
        # another click in progress on candidate 0: the session shared, that candidate's rows locked
        await conn.execute("SELECT 1 FROM sessions WHERE session_id = $1 FOR KEY SHARE", session.session_id)
        await conn.execute(
            "SELECT 1 FROM candidates c JOIN seats s USING (session_id, candidate_id)"
            " WHERE c.session_id = $1 AND c.candidate_id = $2 FOR UPDATE",
            session.session_id,
            first,
        )
        response = await asyncio.wait_for(invigilator.act(1, "presence"), timeout=5)
    assert response.status_code == 200, response.text


async def test_a_click_waits_for_a_finalisation_in_progress_then_sees_it(finalisation):
    session = await finalisation.seed(session_events(2))
    invigilator = Invigilator(finalisation.http, session)
    await invigilator.log_in()
    await invigilator.start(0)
    async with finalisation.pool.acquire() as conn:
        transaction = conn.transaction()
        await transaction.start()
        # what a finalisation holds while it closes the room
        await conn.execute("SELECT 1 FROM sessions WHERE session_id = $1 FOR UPDATE", session.session_id)
        click = asyncio.create_task(invigilator.act(0, "complete"))
        await asyncio.sleep(0.5)
        assert not click.done()
        await conn.execute(
            "INSERT INTO finalisations (session_id, finalised_at, payload) VALUES ($1, now(), '{}')",
            session.session_id,
        )
        await transaction.commit()
        response = await asyncio.wait_for(click, timeout=5)
    assert response.status_code == 409 and response.json()["error"]["code"] == "session.finalised"


async def test_simultaneous_first_starts_announce_the_session_once(finalisation):
    session = await finalisation.seed(session_events(6))
    invigilator = Invigilator(finalisation.http, session)
    await invigilator.log_in()
    for index in range(6):
        assert (await invigilator.act(index, "presence")).status_code == 200
    responses = await asyncio.gather(*(invigilator.act(index, "start") for index in range(6)))
    assert [r.status_code for r in responses] == [200] * 6
    announced = [e for e in await finalisation.raised(SessionStarted) if e.session_id == session.session_id]
    assert len(announced) == 1
    first = await finalisation.pool.fetchval(
        "SELECT first_test_started_at FROM room_sessions WHERE session_id = $1", session.session_id
    )
    assert announced[0].started_at == first
