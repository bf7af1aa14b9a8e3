"""The invigilator space's use cases on the in-memory store: login, clicks, the room, incidents."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.finalisation.domain.invigilation import TestState
from services.finalisation.domain.issue_reports import issue_report_from_code
from services.finalisation.domain.tokens import read_token
from services.finalisation.usecases import invigilation
from shared.contracts.events import SessionStarted
from shared.errors import DomainError
from tests.unit.finalisation.fakes import SECRET, InMemoryFinalisation
from tests.unit.finalisation.finalisation_builders import PASSWORD, T0, candidate


@pytest.fixture
def service() -> InMemoryFinalisation:
    service = InMemoryFinalisation()
    service.seed([candidate(1), candidate(2), candidate(3)])
    return service


async def log_in(service: InMemoryFinalisation, password: str = PASSWORD) -> invigilation.LoginGranted:
    deps = service.dependencies()
    return await invigilation.log_in(
        deps.begin,
        deps.read,
        session_number=4242,
        password=password,
        client="192.0.2.10",
        now=service.now,
        verify=deps.verify_password,
        token_secret=deps.token_secret,
        token_ttl=deps.token_ttl,
        attempts_per_minute=deps.login_attempts_per_minute,
    )


async def refused(code: str, call) -> DomainError:
    with pytest.raises(DomainError) as caught:
        await call
    assert caught.value.code == code
    return caught.value


async def test_login_gives_a_token_for_that_session_and_records_the_access(service):
    granted = await log_in(service)
    assert granted.session_id == "sess-1" and granted.expires_at == T0 + timedelta(minutes=240)
    assert read_token(SECRET, granted.token, T0).session_id == "sess-1"
    assert service.store.tables.room_sessions["sess-1"] == (None, True)


async def test_a_wrong_password_opens_nothing(service):
    await refused("auth.bad_password", log_in(service, "not-it"))
    # the one commit is the attempt charged to the session number and the address, nothing else
    assert service.commits == 1 and "sess-1" not in service.store.tables.room_sessions
    assert {b: n for b, (_, n) in service.store.tables.login_attempts.items()} == {
        "client:192.0.2.10": 1,
        "session:4242": 1,
    }


async def test_a_successful_login_is_not_counted(service):
    await log_in(service)
    assert {n for _, n in service.store.tables.login_attempts.values()} == {0}


async def test_a_spent_window_refuses_before_checking_the_password(service):
    for _ in range(10):
        await refused("auth.bad_password", log_in(service, "not-it"))
    error = await refused("auth.too_many_attempts", log_in(service))
    assert error.details["retry_after_seconds"] >= 1
    assert "sess-1" not in service.store.tables.room_sessions


async def test_login_to_a_cancelled_session_is_refused_and_leaves_no_trace(service):
    service.cancel("sess-1")
    await refused("session.cancelled", log_in(service))
    assert "sess-1" not in service.store.tables.room_sessions


async def test_the_first_start_raises_session_started_once(service):
    begin = service.begin
    for n in (1, 2):
        await invigilation.confirm_presence(begin, "sess-1", f"c{n}", now=T0)
    seat = await invigilation.start_test(begin, "sess-1", "c1", now=T0 + timedelta(minutes=1))
    assert seat.test_state is TestState.STARTED and seat.started_at == T0 + timedelta(minutes=1)
    await invigilation.start_test(begin, "sess-1", "c2", now=T0 + timedelta(minutes=2))

    (started,) = service.published_of(SessionStarted)
    assert (started.session_id, started.first_candidate_id, started.uai) == ("sess-1", "c1", "0750001A")
    assert started.started_at == T0 + timedelta(minutes=1)
    assert service.store.tables.room_sessions["sess-1"][0] == T0 + timedelta(minutes=1)


async def test_a_refused_click_changes_nothing_and_raises_nothing(service):
    await refused("candidate.not_authorised", invigilation.start_test(service.begin, "sess-1", "c1", now=T0))
    assert service.seat_state("sess-1", "c1") is None and service.published == []
    await refused("candidate.unknown", invigilation.confirm_presence(service.begin, "sess-1", "c9", now=T0))
    await refused("session.unknown", invigilation.confirm_presence(service.begin, "nope", "c1", now=T0))


async def test_a_test_runs_from_presence_to_completion(service):
    begin = service.begin
    await invigilation.confirm_presence(begin, "sess-1", "c1", now=T0)
    await invigilation.start_test(begin, "sess-1", "c1", now=T0)
    resumed = await invigilation.authorise_resume(begin, "sess-1", "c1", now=T0 + timedelta(minutes=30))
    assert resumed.authorised_to_start
    done = await invigilation.complete_test(begin, "sess-1", "c1", now=T0 + timedelta(minutes=90))
    assert (done.test_state, done.ended_at) == (TestState.COMPLETED, T0 + timedelta(minutes=90))
    assert service.seat_state("sess-1", "c1") is TestState.COMPLETED
    await refused("candidate.test_not_in_progress", invigilation.end_test(begin, "sess-1", "c2", now=T0))


async def test_presence_can_be_cancelled_until_the_test_starts(service):
    begin = service.begin
    await invigilation.confirm_presence(begin, "sess-1", "c1", now=T0)
    seat = await invigilation.cancel_presence(begin, "sess-1", "c1", now=T0)
    assert not seat.presence_confirmed and not seat.authorised_to_start
    await invigilation.confirm_presence(begin, "sess-1", "c1", now=T0)
    await invigilation.start_test(begin, "sess-1", "c1", now=T0)
    await refused("candidate.already_started", invigilation.cancel_presence(begin, "sess-1", "c1", now=T0))


async def test_clicks_on_a_cancelled_session_are_refused(service):
    service.cancel("sess-1")
    await refused("session.cancelled", invigilation.confirm_presence(service.begin, "sess-1", "c1", now=T0))


async def test_the_room_shows_every_enrolled_candidate_and_closes_24_hours_after_the_first_start(service):
    begin = service.begin
    await invigilation.confirm_presence(begin, "sess-1", "c2", now=T0)
    await invigilation.start_test(begin, "sess-1", "c2", now=T0)
    snapshot = await invigilation.show_room(service.read, "sess-1", now=T0 + timedelta(hours=1))
    assert list(snapshot.room.seats) == ["c1", "c2", "c3"]
    assert snapshot.room.seat("c2").test_state is TestState.STARTED
    assert snapshot.session.room == "Salle 12"
    await refused(
        "session.expired", invigilation.show_room(service.read, "sess-1", now=T0 + timedelta(hours=24))
    )
    await refused(
        "session.expired", invigilation.confirm_presence(begin, "sess-1", "c1", now=T0 + timedelta(hours=24))
    )


async def test_an_unenrolled_candidate_leaves_the_room_unless_their_test_started(service):
    begin = service.begin
    await invigilation.confirm_presence(begin, "sess-1", "c1", now=T0)
    await invigilation.start_test(begin, "sess-1", "c1", now=T0)
    service.unenrol("sess-1", "c1")
    service.unenrol("sess-1", "c2")
    snapshot = await invigilation.show_room(service.read, "sess-1", now=T0)
    assert list(snapshot.room.seats) == ["c1", "c3"]
    await refused("candidate.unknown", invigilation.confirm_presence(begin, "sess-1", "c2", now=T0))


async def test_incidents_are_kept_with_the_room(service):
    report = issue_report_from_code("C1", description="son nom est mal orthographié")
    incident = await invigilation.record_incident(service.begin, "sess-1", "c1", report, now=T0)
    assert (incident.candidate_id, incident.report, incident.recorded_at) == ("c1", report, T0)
    snapshot = await invigilation.show_room(service.read, "sess-1", now=T0)
    assert [(i.candidate_id, i.report) for i in snapshot.room.incidents] == [("c1", report)]
    await refused(
        "candidate.unknown", invigilation.record_incident(service.begin, "sess-1", "c9", report, now=T0)
    )
    assert len(service.store.tables.incidents["sess-1"]) == 1


async def test_a_click_writes_one_seat_whatever_the_size_of_the_room():
    service = InMemoryFinalisation()
    service.seed([candidate(n) for n in range(1, 201)])
    await log_in(service)
    assert service.store.seat_writes == 0
    for action in (invigilation.confirm_presence, invigilation.start_test, invigilation.complete_test):
        await action(service.begin, "sess-1", "c7", now=T0)
    assert service.store.seat_writes == 3
    assert set(service.store.tables.seats) == {("sess-1", "c7")}


async def test_a_start_after_the_first_one_was_claimed_announces_nothing(service):
    await invigilation.confirm_presence(service.begin, "sess-1", "c1", now=T0)
    # another click, on another seat, recorded the session's first start in the meantime
    assert await service.store.claim_first_start("sess-1", T0 - timedelta(seconds=1))
    await invigilation.start_test(service.begin, "sess-1", "c1", now=T0)
    assert service.published_of(SessionStarted) == []
    assert service.store.tables.room_sessions["sess-1"][0] == T0 - timedelta(seconds=1)
