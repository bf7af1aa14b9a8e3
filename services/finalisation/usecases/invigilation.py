"""The invigilator space on the day: log in, watch the room, one click per candidate, incidents.

Each command runs in one unit of work on what it changes and nothing more: the session's state
under a shared lock and the clicked candidate's seat (``rooms.seat_in_room``), so a click costs one
row whatever the size of the room. The domain (``SessionRoom``) applies the rule, the seat is saved
and the events emitted at commit. A refusal raises before anything is written and the transaction
rolls back, so a refused command leaves the session exactly as it was.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from services.finalisation.domain.invigilation import (
    CandidateSeat,
    PasswordVerifier,
    RecordedIncident,
    SessionRoom,
)
from services.finalisation.domain.issue_reports import IssueReport
from services.finalisation.domain.login_limits import (
    TooManyAttempts,
    login_buckets,
    retry_after_seconds,
    window_start,
)
from services.finalisation.domain.sessions import ScheduledSession
from services.finalisation.domain.tokens import issue_token
from services.finalisation.usecases.ports import Begin, ReadOnly, UnitOfWork
from services.finalisation.usecases.rooms import require_not_cancelled, seat_in_room, unknown_session
from shared.contracts import events
from shared.errors import DomainError

log = structlog.get_logger(__name__)

BAD_LOGIN = "Le numéro de session et/ou le mot de passe saisis sont incorrects."


@dataclass(frozen=True, slots=True)
class LoginGranted:
    """The invigilator's token for one session, and when it stops opening it."""

    token: str
    session_id: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class RoomSnapshot:
    """The room as the invigilator's page shows it, with the session it belongs to."""

    session: ScheduledSession
    room: SessionRoom


async def log_in(
    begin: Begin,
    read: ReadOnly,
    *,
    session_number: int,
    password: str,
    client: str,
    now: datetime,
    verify: PasswordVerifier,
    token_secret: str,
    token_ttl: timedelta,
    attempts_per_minute: int,
) -> LoginGranted:
    """Check the password against each session with that number (Pix Certif's once recorded, or
    certibus's own); open the room of the one it fits.

    The attempt is charged to the session number and to the client address first (a spent window
    raises ``TooManyAttempts`` before any password is checked); a successful login is refunded.
    Neither a refusal nor its log line carries the password typed.
    """
    buckets, window = login_buckets(session_number, client), window_start(now)
    async with begin() as uow:
        spent = await uow.store.charge_login_attempts(buckets, window, attempts_per_minute)
        if spent:  # raised inside: the unit of work rolls back, the other bucket is not charged
            log.warning(
                "invigilator login refused",
                reason="too_many_attempts",
                session_number=session_number,
                client=client,
                buckets=spent,
            )
            raise TooManyAttempts(retry_after_seconds(now), spent)
    async with read() as store:
        sessions = await store.sessions_by_number(session_number)
    for session in sessions:
        if not await _password_fits(verify, password, session.invigilator_password_hash):
            continue
        async with begin() as uow:
            session, room = await seat_in_room(uow.store, session.session_id, None)
            # found by the number typed (Pix's or certibus's): the password was checked just above
            room.log_in(room.session_number, password, now, verify=lambda *_: True)
            require_not_cancelled(session)
            await uow.store.record_invigilator_access(session.session_id, now)
            await uow.store.refund_login_attempts(buckets, window)
        token, expires_at = issue_token(token_secret, session.session_id, now, token_ttl)
        log.info("invigilator logged in", session_id=session.session_id)
        return LoginGranted(token, session.session_id, expires_at)
    log.warning(
        "invigilator login refused", reason="bad_password", session_number=session_number, client=client
    )
    raise DomainError("auth.bad_password", BAD_LOGIN)


async def prune_login_attempts(begin: Begin, *, now: datetime) -> int:
    """Drop the counters of windows that are over (they no longer refuse anything)."""
    async with begin() as uow:
        return await uow.store.prune_login_attempts(window_start(now))


async def _password_fits(verify: PasswordVerifier, password: str, encoded: str) -> bool:
    """A legacy scrypt hash takes milliseconds: run the check off the event loop."""
    try:
        return await asyncio.to_thread(verify, password, encoded)
    except ValueError as error:  # corrupt, or keyed under another INVIGILATOR_PASSWORD_KEY
        log.error("session has an unreadable invigilator password verifier", reason=str(error))
        return False


async def show_room(read: ReadOnly, session_id: str, *, now: datetime) -> RoomSnapshot:
    """The room as the invigilator's page polls it (every few seconds): read only, no row lock."""
    async with read() as store:
        session = await store.session(session_id)
        if session is None:
            raise unknown_session(session_id)
        room = await store.load_room(session)
    room.require_open(now)
    require_not_cancelled(session)
    return RoomSnapshot(session, room)


#: a ``SessionRoom`` method acting on one candidate's seat (``SessionRoom.start_test``…)
SeatCommand = Callable[[SessionRoom, str, datetime], list]


async def run_seat_command(
    begin: Begin, session_id: str, candidate_id: str, command: SeatCommand, *, now: datetime
) -> CandidateSeat:
    """One invigilator action on one candidate; returns the candidate's seat as it is now."""
    async with begin() as uow:
        session, room = await seat_in_room(uow.store, session_id, candidate_id)
        require_not_cancelled(session)
        already_started = room.first_test_started_at is not None
        command(room, candidate_id, now)
        seat = room.seat(candidate_id)
        await uow.store.save_seat(room, candidate_id)
        first_start = None if already_started else room.first_test_started_at
        if first_start is not None and await uow.store.claim_first_start(session_id, first_start):
            await announce_first_start(uow, session, room, candidate_id)
    return seat


async def confirm_presence(
    begin: Begin, session_id: str, candidate_id: str, *, now: datetime
) -> CandidateSeat:
    """ "Confirmer": the candidate may now type the access code."""
    return await run_seat_command(begin, session_id, candidate_id, SessionRoom.confirm_presence, now=now)


async def cancel_presence(
    begin: Begin, session_id: str, candidate_id: str, *, now: datetime
) -> CandidateSeat:
    """ "Annuler la confirmation": only before the candidate started."""
    return await run_seat_command(begin, session_id, candidate_id, SessionRoom.cancel_presence, now=now)


async def start_test(begin: Begin, session_id: str, candidate_id: str, *, now: datetime) -> CandidateSeat:
    """The candidate started on mon-pix (the session's first start raises SessionStarted)."""
    return await run_seat_command(begin, session_id, candidate_id, SessionRoom.start_test, now=now)


async def authorise_resume(
    begin: Begin, session_id: str, candidate_id: str, *, now: datetime
) -> CandidateSeat:
    """The candidate may come back to a running test after an interruption."""
    return await run_seat_command(begin, session_id, candidate_id, SessionRoom.authorise_resume, now=now)


async def end_test(begin: Begin, session_id: str, candidate_id: str, *, now: datetime) -> CandidateSeat:
    """ "Terminer le test": the invigilator stops a running test."""
    return await run_seat_command(begin, session_id, candidate_id, SessionRoom.end_test, now=now)


async def complete_test(begin: Begin, session_id: str, candidate_id: str, *, now: datetime) -> CandidateSeat:
    """The candidate answered the last question."""
    return await run_seat_command(begin, session_id, candidate_id, SessionRoom.complete_test, now=now)


async def announce_first_start(
    uow: UnitOfWork, session: ScheduledSession, room: SessionRoom, candidate_id: str
) -> None:
    """Tell the scheduler the session's first test started, so it stops edits and deletion.

    Raised once per session: only the click whose ``claim_first_start`` recorded the first start
    announces it; a start on another seat at the same moment finds it already claimed.
    """
    started_at = room.first_test_started_at
    assert started_at is not None
    await uow.emit(
        events.SessionStarted(
            session_id=room.session_id,
            uai=session.uai,
            session_number=room.session_number,
            started_at=started_at,
            first_candidate_id=candidate_id,
        )
    )
    log.info("session started", session_id=room.session_id)


async def record_incident(
    begin: Begin, session_id: str, candidate_id: str | None, report: IssueReport, *, now: datetime
) -> RecordedIncident:
    """Write an incident down as it happens (the digital PV d'incident); None: the whole room."""
    async with begin() as uow:
        session, room = await seat_in_room(uow.store, session_id, candidate_id)
        require_not_cancelled(session)
        room.record_incident(report, now, candidate_id)
        incident = room.incidents[-1]
        await uow.store.add_incident(session_id, incident)
    return incident
