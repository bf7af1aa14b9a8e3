"""Invigilator login limits through the HTTP app on real PostgreSQL: per session number, per client
address, across replicas (two apps on one schema), atomic under a burst; refusals logged without
the password."""

from __future__ import annotations

import asyncio
import logging

import httpx

from services.finalisation.app import definition, prune_login_attempts_tick
from tests.component.finalisation.finalisation_support import PASSWORD, Invigilator, session_events

LIMIT = 10


def client_at(app, address: str) -> httpx.AsyncClient:
    """An HTTP client whose requests come from ``address`` (what ``request.client.host`` reads)."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=(address, 50000)), base_url="http://service"
    )


async def wrong(http: httpx.AsyncClient, number: int, password: str = "C-WRONG99") -> httpx.Response:
    return await http.post("/invigilator/login", json={"session_number": number, "password": password})


async def test_the_eleventh_wrong_password_in_a_minute_is_a_429_with_retry_after(finalisation):
    session = await finalisation.seed(session_events())
    statuses = [(await wrong(finalisation.http, session.session_number)).status_code for _ in range(LIMIT)]
    assert statuses == [401] * LIMIT

    finalisation.clock.advance(seconds=15)  # the window opened at SESSION_START (08:00:00)
    refused = await wrong(finalisation.http, session.session_number)
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "auth.too_many_attempts"
    assert refused.headers["Retry-After"] == "45"
    # the right password too: a guess that fits must not be told apart from one that does not
    right = await Invigilator(finalisation.http, session).log_in()
    assert right.status_code == 429

    finalisation.clock.advance(seconds=45)  # the next window
    assert (await Invigilator(finalisation.http, session).log_in()).status_code == 200


async def test_one_address_trying_many_session_numbers_is_limited_too(finalisation):
    session = await finalisation.seed(session_events())
    async with client_at(finalisation.svc.app, "192.0.2.66") as attacker:
        for number in range(1, LIMIT + 1):
            assert (await wrong(attacker, number)).status_code == 401
        assert (await wrong(attacker, LIMIT + 1)).status_code == 429
    async with client_at(finalisation.svc.app, "192.0.2.7") as school:
        granted = await Invigilator(school, session).log_in()
        assert granted.status_code == 200, granted.text


async def test_successful_logins_from_one_address_are_not_counted(finalisation):
    """Fifteen invigilators of one school log in at 08:00 from the school's address."""
    sessions = [await finalisation.seed(session_events(candidates=1)) for _ in range(LIMIT + 5)]
    async with client_at(finalisation.svc.app, "192.0.2.8") as school:
        for session in sessions:
            assert (await Invigilator(school, session).log_in()).status_code == 200


async def test_the_limit_holds_across_replicas(finalisation, start_service):
    session = await finalisation.seed(session_events())
    replica = await start_service(definition, schema=finalisation.svc.schema)
    replica.runtime.clock = finalisation.clock
    for i in range(LIMIT):
        http = finalisation.http if i % 2 else replica.http
        assert (await wrong(http, session.session_number)).status_code == 401
    assert (await wrong(replica.http, session.session_number)).status_code == 429
    assert (await wrong(finalisation.http, session.session_number)).status_code == 429


async def test_a_burst_of_concurrent_guesses_gets_exactly_the_limit_checked(finalisation):
    session = await finalisation.seed(session_events())
    answers = await asyncio.gather(*(wrong(finalisation.http, session.session_number) for _ in range(30)))
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [401] * LIMIT + [429] * 20


async def test_refusals_are_logged_without_the_password(finalisation, caplog):
    session = await finalisation.seed(session_events())
    typed = "C-Zq9Xw7Secret"
    caplog.set_level(logging.INFO)
    for _ in range(LIMIT + 1):
        await wrong(finalisation.http, session.session_number, typed)
    lines = [str(record.msg) for record in caplog.records]
    refusals = [line for line in lines if "invigilator login refused" in line]
    assert len(refusals) == LIMIT + 1
    assert any("too_many_attempts" in line for line in refusals)
    assert all(str(session.session_number) in line for line in refusals)
    assert not [line for line in lines if "Zq9Xw7Secret" in line]


async def test_old_windows_are_pruned(finalisation):
    session = await finalisation.seed(session_events())
    await wrong(finalisation.http, session.session_number)
    assert await finalisation.count("login_attempts") == 2  # the session number and the address
    assert await prune_login_attempts_tick(finalisation.runtime) == 0  # the window is still open
    finalisation.clock.advance(minutes=1)
    assert await prune_login_attempts_tick(finalisation.runtime) == 2
    assert await finalisation.count("login_attempts") == 0


async def test_the_token_stays_scoped_to_its_session_and_expires(finalisation):
    mine, other = await finalisation.seed(session_events()), await finalisation.seed(session_events())
    invigilator = Invigilator(finalisation.http, mine)
    assert (await invigilator.log_in(PASSWORD)).status_code == 200
    stranger = Invigilator(finalisation.http, other)
    stranger.token = invigilator.token
    assert (await stranger.room()).status_code == 403
    finalisation.clock.advance(minutes=finalisation.runtime.settings.invigilator_token_ttl_minutes)
    expired = await invigilator.room()
    assert expired.status_code == 401 and expired.json()["error"]["code"] == "auth.token_expired"
