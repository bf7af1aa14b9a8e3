"""The invigilator space through HTTP on real Postgres: login, presence, tests, incidents, expiry."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from services.finalisation.handlers import on_session_cancelled, on_session_created
from shared.contracts.events import SessionCancelled, SessionStarted
from shared.outbox import unit_of_work
from tests.component.finalisation.finalisation_support import (
    PASSWORD,
    SESSION_START,
    Invigilator,
    fake_envelope,
    session_events,
)


def error_code(response) -> str:
    return response.json()["error"]["code"]


async def test_login_accepts_the_password_with_or_without_the_c_prefix(finalisation):
    session = await finalisation.seed(session_events())
    for typed in (f"C-{PASSWORD}", PASSWORD, f"  C-{PASSWORD} "):
        response = await Invigilator(finalisation.http, session).log_in(typed)
        assert response.status_code == 200, response.text
        assert response.json()["session_id"] == session.session_id


async def test_wrong_password_or_unknown_session_number_is_the_same_refusal(finalisation):
    session = await finalisation.seed(session_events())
    wrong = await Invigilator(finalisation.http, session).log_in("C-WRONG123")
    assert wrong.status_code == 401 and error_code(wrong) == "auth.bad_password"
    unknown = await finalisation.http.post(
        "/invigilator/login", json={"session_number": 1, "password": f"C-{PASSWORD}"}
    )
    assert unknown.status_code == 401 and error_code(unknown) == "auth.bad_password"
    assert await finalisation.count("room_sessions") == 0


async def test_the_token_opens_its_own_session_only_and_expires(finalisation):
    mine = await finalisation.seed(session_events())
    other = await finalisation.seed(session_events())
    invigilator = Invigilator(finalisation.http, mine)
    await invigilator.log_in()
    assert (await invigilator.room()).status_code == 200

    stranger = Invigilator(finalisation.http, other)
    stranger.token = invigilator.token
    response = await stranger.room()
    assert response.status_code == 403 and error_code(response) == "auth.wrong_session"

    missing = await finalisation.http.get(invigilator.url())
    assert missing.status_code == 401 and error_code(missing) == "auth.missing_token"

    forged = Invigilator(finalisation.http, mine)
    forged.token = invigilator.token[:-3] + ("AAA" if not invigilator.token.endswith("AAA") else "BBB")
    assert error_code(await forged.room()) == "auth.invalid_token"

    finalisation.clock.advance(minutes=finalisation.runtime.settings.invigilator_token_ttl_minutes + 1)
    expired = await invigilator.room()
    assert expired.status_code == 401 and error_code(expired) == "auth.token_expired"


async def test_presence_start_and_completion_show_in_the_room(finalisation):
    session = await finalisation.seed(session_events(extra_time={1: 30}))
    invigilator = Invigilator(finalisation.http, session)
    await invigilator.log_in()

    await invigilator.start(0)
    await invigilator.start(1)
    finalisation.clock.advance(minutes=50)
    completed = await invigilator.act(0, "complete")
    assert completed.json()["test_state"] == "completed"

    room = (await invigilator.room()).json()
    seats = {c["candidate_id"]: c for c in room["candidates"]}
    first, second, third = (seats[c.candidate_id] for c in session.candidates)
    assert first["test_state"] == "completed"
    assert datetime.fromisoformat(first["ended_at"]) == SESSION_START + timedelta(minutes=50)
    assert datetime.fromisoformat(first["theoretical_end_at"]) == SESSION_START + timedelta(minutes=105)
    # 30 % extra time: 105 × 1.3 = 136.5 minutes
    assert datetime.fromisoformat(second["theoretical_end_at"]) == SESSION_START + timedelta(minutes=136.5)
    assert second["test_state"] == "started" and not second["overtime"]
    assert third["test_state"] == "not_started" and not third["presence_confirmed"]
    assert datetime.fromisoformat(room["expires_at"]) == SESSION_START + timedelta(hours=24)

    finalisation.clock.advance(minutes=90)  # 140 min after the start
    room = (await invigilator.room()).json()
    assert {c["candidate_id"]: c["overtime"] for c in room["candidates"]}[session.candidate(1).candidate_id]


async def test_the_first_start_of_a_session_announces_it_once(finalisation):
    session = await finalisation.seed(session_events())
    other = await finalisation.seed(session_events())
    invigilator = Invigilator(finalisation.http, session)
    await invigilator.log_in()
    refused = await invigilator.act(0, "start")  # presence not confirmed: nothing started
    assert refused.status_code == 409
    assert await finalisation.raised(SessionStarted) == []

    await invigilator.start(1)
    finalisation.clock.advance(minutes=7)
    await invigilator.start(0)
    await invigilator.act(1, "resume")
    await invigilator.act(1, "complete")

    [started] = await finalisation.raised(SessionStarted)
    assert started == SessionStarted(
        session_id=session.session_id,
        uai=session.uai,
        session_number=session.session_number,
        started_at=SESSION_START,
        first_candidate_id=session.candidate(1).candidate_id,
    )
    other_invigilator = Invigilator(finalisation.http, other)
    await other_invigilator.log_in()
    await other_invigilator.start(2)
    announced = await finalisation.raised(SessionStarted)
    assert [e.session_id for e in announced] == [session.session_id, other.session_id]
    assert announced[1].started_at == SESSION_START + timedelta(minutes=7)


async def test_a_candidate_cannot_start_without_a_confirmed_presence(finalisation):
    session = await finalisation.seed(session_events())
    invigilator = Invigilator(finalisation.http, session)
    await invigilator.log_in()
    response = await invigilator.act(0, "start")
    assert response.status_code == 409 and error_code(response) == "candidate.not_authorised"
    seat = (await invigilator.room()).json()["candidates"][0]
    assert seat["test_state"] == "not_started"


async def test_presence_can_be_cancelled_only_before_the_start(finalisation):
    session = await finalisation.seed(session_events())
    invigilator = Invigilator(finalisation.http, session)
    await invigilator.log_in()
    assert (await invigilator.act(0, "presence")).json()["presence_confirmed"] is True
    cancelled = await invigilator.act(0, "presence", "DELETE")
    assert cancelled.status_code == 200 and cancelled.json()["presence_confirmed"] is False

    await invigilator.start(1)
    refused = await invigilator.act(1, "presence", "DELETE")
    assert refused.status_code == 409 and error_code(refused) == "candidate.already_started"


async def test_resume_and_end_of_a_running_test(finalisation):
    session = await finalisation.seed(session_events())
    invigilator = Invigilator(finalisation.http, session)
    await invigilator.log_in()
    not_started = await invigilator.act(0, "resume")
    assert not_started.status_code == 409 and error_code(not_started) == "candidate.test_not_in_progress"

    await invigilator.start(0)
    resumed = await invigilator.act(0, "resume")
    assert resumed.status_code == 200 and resumed.json()["authorised_to_start"] is True
    ended = await invigilator.act(0, "end")
    assert ended.json()["test_state"] == "ended_by_invigilator"
    again = await invigilator.act(0, "complete")
    assert again.status_code == 409 and error_code(again) == "candidate.test_not_in_progress"


async def test_unknown_candidate(finalisation):
    session = await finalisation.seed(session_events())
    invigilator = Invigilator(finalisation.http, session)
    await invigilator.log_in()
    response = await finalisation.http.post(
        f"{invigilator.url()}/candidates/nobody/presence", headers=invigilator.headers
    )
    assert response.status_code == 404 and error_code(response) == "candidate.unknown"


async def test_the_session_expires_24_hours_after_its_first_start(finalisation):
    session = await finalisation.seed(session_events())
    invigilator = Invigilator(finalisation.http, session)
    await invigilator.log_in()
    await invigilator.start(0)
    finalisation.clock.advance(hours=23, minutes=50)
    assert (await invigilator.log_in()).status_code == 200  # still open: a fresh token
    finalisation.clock.advance(minutes=10)

    login = await Invigilator(finalisation.http, session).log_in()
    assert login.status_code == 409 and error_code(login) == "session.expired"
    confirm = await invigilator.act(1, "presence")
    assert confirm.status_code == 409 and error_code(confirm) == "session.expired"
    # the space is closed: no room to show, no test to end, no incident to write down
    for response in (
        await invigilator.room(),
        await invigilator.act(0, "end"),
        await invigilator.incident(code="C6"),
    ):
        assert response.status_code == 409 and error_code(response) == "session.expired", response.text
    # the candidate's own test that was running may still end
    assert (await invigilator.act(0, "complete")).json()["test_state"] == "completed"


async def test_showing_the_room_is_a_read_that_never_waits_for_a_command(finalisation):
    """The invigilator page polls the room every few seconds: it must not lock (or rewrite) it."""
    session = await finalisation.seed(session_events())
    invigilator = Invigilator(finalisation.http, session)
    await invigilator.log_in()
    await invigilator.start(0)
    async with finalisation.pool.acquire() as conn, conn.transaction():
        # a command holding the session (as every invigilator click does while it runs)
        await conn.execute("SELECT 1 FROM sessions WHERE session_id = $1 FOR UPDATE", session.session_id)
        room = await asyncio.wait_for(invigilator.room(), timeout=5)
    assert room.status_code == 200
    assert [c["test_state"] for c in room.json()["candidates"]].count("started") == 1


async def test_incidents_are_recorded_with_the_pix_categories(finalisation):
    session = await finalisation.seed(session_events())
    invigilator = Invigilator(finalisation.http, session)
    await invigilator.log_in()
    by_category = await invigilator.incident(
        candidate_id=session.candidate(0).candidate_id,
        category="IN_CHALLENGE",
        subcategory="WEBSITE_UNAVAILABLE",
        question_number=12,
    )
    assert by_category.status_code == 201 and by_category.json()["code"] == "E4"
    by_code = await invigilator.incident(code="C7", description="Coupure réseau 5 minutes")
    assert by_code.json()["category"] == "NON_BLOCKING_TECHNICAL_ISSUE"
    assert by_code.json()["candidate_id"] is None

    for body, code in [
        ({"category": "LATE_OR_LEAVING"}, "issue_report.deprecated_category"),
        ({"category": "ALIENS"}, "issue_report.unknown_category"),
        ({"code": "C9"}, "issue_report.unknown_category"),
        ({"category": "IN_CHALLENGE", "subcategory": "SKIP_ON_OOPS"}, "issue_report.question_number_invalid"),
        ({"category": "FRAUD", "subcategory": "SKIP_ON_OOPS"}, "issue_report.subcategory_mismatch"),
        ({"category": "SIGNATURE_ISSUE"}, "issue_report.description_required"),
        ({"code": "C1", "description": "nom mal orthographié"}, "issue_report.candidate_required"),
    ]:
        response = await invigilator.incident(**body)
        assert response.status_code == 422 and error_code(response) == code, (body, response.text)

    room = (await invigilator.room()).json()
    assert [i["code"] for i in room["incidents"]] == ["E4", "C7"]


async def test_a_cancelled_session_cannot_be_opened(finalisation):
    session = await finalisation.seed(session_events())
    cancelled = SessionCancelled(
        session_id=session.session_id, uai=session.uai, cancelled_at=SESSION_START - timedelta(days=3)
    )
    async with unit_of_work(finalisation.pool, "finalisation") as uow:
        await on_session_cancelled(uow, cancelled, fake_envelope(cancelled))
    response = await Invigilator(finalisation.http, session).log_in()
    assert response.status_code == 409 and error_code(response) == "session.cancelled"


async def test_scheduler_events_applied_twice_or_late_change_nothing(finalisation):
    session = await finalisation.seed(session_events())
    await finalisation.seed(session)  # the same snapshots again (a producer raising them twice)
    assert (
        await finalisation.pool.fetchval(
            "SELECT count(*) FROM candidates WHERE session_id = $1", session.session_id
        )
        == 3
    )
    newer = session.created.model_copy(update={"room": "Salle 14", "created_at": datetime.now(UTC)})
    older = session.created.model_copy(
        update={"room": "Salle 1", "created_at": datetime(2020, 1, 1, tzinfo=UTC)}
    )
    async with unit_of_work(finalisation.pool, "finalisation") as uow:
        await on_session_created(uow, newer, fake_envelope(newer))
        await on_session_created(uow, older, fake_envelope(older))
    invigilator = Invigilator(finalisation.http, session)
    await invigilator.log_in()
    assert (await invigilator.room()).json()["room"] == "Salle 14"
