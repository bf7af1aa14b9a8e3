"""Invigilator and finalisation commands: load the room under a lock, apply the domain, save, emit.

Each command runs in one unit of work. A domain refusal raises before anything is written, and
the transaction rolls back, so a refused command leaves the session exactly as it was.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import structlog

from services.finalisation import store
from services.finalisation.domain.errors import DomainError
from services.finalisation.domain.finalisation import (
    CandidateReport,
    FinalisationRequest,
    SessionIncident,
    finalise_session,
)
from services.finalisation.domain.finalisation import (
    FinalisedCandidate as DomainFinalisedCandidate,
)
from services.finalisation.domain.invigilation import CandidateSeat, SessionRoom
from services.finalisation.domain.issue_reports import IssueReport
from services.finalisation.errors import to_api_error
from services.finalisation.tokens import issue_token
from shared.contracts import events
from shared.http import ApiError
from shared.outbox import UnitOfWork
from shared.password_hash import verify_password
from shared.service import Runtime

log = structlog.get_logger(__name__)


@dataclass
class OpenRoom:
    """A session's room loaded for one command, inside the command's transaction."""

    uow: UnitOfWork
    session: asyncpg.Record
    room: SessionRoom
    incidents_before: int


@asynccontextmanager
async def open_room(runtime: Runtime, session_id: str) -> AsyncIterator[OpenRoom]:
    """Lock the session, load its room, yield it; save it when the block ends without error."""
    async with runtime.unit_of_work() as uow:
        session = await store.session(uow.conn, session_id, lock=True)
        if session is None:
            raise ApiError(404, "session.unknown", f"no session {session_id}", session_id=session_id)
        room = await store.load_room(uow.conn, session)
        opened = OpenRoom(uow, session, room, len(room.incidents))
        try:
            yield opened
        except DomainError as error:
            raise to_api_error(error) from None
        await store.save_room(uow.conn, room, opened.incidents_before, runtime.clock.now())


def require_not_cancelled(session: asyncpg.Record) -> None:
    if session["cancelled_at"] is not None:
        raise ApiError(
            409, "session.cancelled", f"session {session['session_number']} was cancelled by the school"
        )


# ---- login ------------------------------------------------------------------------------------


BAD_LOGIN = "Le numéro de session et/ou le mot de passe saisis sont incorrects."


async def log_in(runtime: Runtime, session_number: int, password: str) -> dict[str, Any]:
    """Check the password against each session with that number; open the room of the one it fits."""
    async with runtime.pool.acquire() as conn:
        candidates = await store.sessions_by_number(conn, session_number)
    for candidate in candidates:
        if not await _password_fits(password, candidate["invigilator_password_hash"]):
            continue
        async with open_room(runtime, candidate["session_id"]) as opened:
            opened.room.log_in(session_number, password, runtime.clock.now(), verify=lambda *_: True)
            require_not_cancelled(opened.session)
        settings = runtime.settings
        token, expires_at = issue_token(
            settings.invigilator_token_secret,
            candidate["session_id"],
            runtime.clock.now(),
            timedelta(minutes=settings.invigilator_token_ttl_minutes),
        )
        log.info("invigilator logged in", session_id=candidate["session_id"])
        return {"token": token, "session_id": candidate["session_id"], "expires_at": expires_at}
    raise ApiError(401, "auth.bad_password", BAD_LOGIN)


async def _password_fits(password: str, encoded: str) -> bool:
    """scrypt takes tens of milliseconds: run it off the event loop."""
    try:
        return await asyncio.to_thread(verify_password, password, encoded)
    except ValueError:
        log.error("session has an unreadable invigilator password hash")
        return False


# ---- the room ---------------------------------------------------------------------------------


def seat_view(seat: CandidateSeat, now: datetime) -> dict[str, Any]:
    c = seat.candidate
    return {
        "candidate_id": c.candidate_id,
        "first_name": c.first_name,
        "last_name": c.last_name,
        "birthdate": c.birthdate,
        "division": c.division,
        "extra_time_percentage": c.extra_time_percentage,
        "presence_confirmed": seat.presence_confirmed,
        "authorised_to_start": seat.authorised_to_start,
        "test_state": seat.test_state.value,
        "started_at": seat.started_at,
        "ended_at": seat.ended_at,
        "theoretical_end_at": seat.theoretical_end_at,
        "overtime": seat.is_overtime(now),
    }


def room_view(session: asyncpg.Record, room: SessionRoom, now: datetime) -> dict[str, Any]:
    return {
        "session_id": room.session_id,
        "session_number": room.session_number,
        "certification_center": session["certification_center"],
        "address": session["address"],
        "room": session["room"],
        "examiners": session["examiners"],
        "date": room.session_date,
        "time": session["session_time"],
        "expires_at": room.expires_at(),
        "expired": room.is_expired(now),
        "candidates": [seat_view(seat, now) for seat in room.seats.values()],
        "incidents": [
            {"candidate_id": i.candidate_id, "recorded_at": i.recorded_at, **i.report.to_payload()}
            for i in room.incidents
        ],
    }


async def show_room(runtime: Runtime, session_id: str) -> dict[str, Any]:
    """The room as the invigilator's page polls it (every few seconds): read only, no row lock."""
    now = runtime.clock.now()
    async with runtime.pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        session = await store.session(conn, session_id)
        if session is None:
            raise ApiError(404, "session.unknown", f"no session {session_id}", session_id=session_id)
        room = await store.load_room(conn, session)
    try:
        room.require_open(now)
    except DomainError as error:
        raise to_api_error(error) from None
    require_not_cancelled(session)
    return room_view(session, room, now)


SeatCommand = Callable[[SessionRoom, str, datetime], list]


async def run_seat_command(
    runtime: Runtime, session_id: str, candidate_id: str, command: SeatCommand
) -> dict[str, Any]:
    """One invigilator action on one candidate; returns the candidate's seat as it is now."""
    now = runtime.clock.now()
    async with open_room(runtime, session_id) as opened:
        require_not_cancelled(opened.session)
        already_started = opened.room.first_test_started_at is not None
        command(opened.room, candidate_id, now)
        if not already_started and opened.room.first_test_started_at is not None:
            await announce_first_start(opened, candidate_id)
        return seat_view(opened.room.seat(candidate_id), now)


async def announce_first_start(opened: OpenRoom, candidate_id: str) -> None:
    """Tell the scheduler the session's first test started, so it stops edits and deletion.

    The room row is locked for the command and its first start is stored with it, so the event is
    raised once per session: later starts find ``first_test_started_at`` already set.
    """
    started_at = opened.room.first_test_started_at
    assert started_at is not None
    await opened.uow.emit(
        events.SessionStarted(
            session_id=opened.room.session_id,
            uai=opened.session["uai"],
            session_number=opened.room.session_number,
            started_at=started_at,
            first_candidate_id=candidate_id,
        )
    )
    log.info("session started", session_id=opened.room.session_id)


async def record_incident(
    runtime: Runtime, session_id: str, candidate_id: str | None, report: IssueReport
) -> dict[str, Any]:
    now = runtime.clock.now()
    async with open_room(runtime, session_id) as opened:
        require_not_cancelled(opened.session)
        opened.room.record_incident(report, now, candidate_id)
        return {"candidate_id": candidate_id, "recorded_at": now, **report.to_payload()}


# ---- finalisation -----------------------------------------------------------------------------


async def finalise(
    runtime: Runtime,
    session_id: str,
    *,
    reports: list[CandidateReport],
    reports_without_issues: set[str],
    has_incident: bool | None,
    has_joining_issue: bool | None,
    examiner_global_comment: str | None,
    session_incidents: tuple[IssueReport, ...] = (),
) -> events.SessionFinalised:
    """Finalise and raise SessionFinalised; candidates in `reports_without_issues` gave no issue
    report list, so what the invigilator recorded live for them is used. The room's incidents
    recorded live always go, with the `session_incidents` transcribed from the paper PV."""
    now = runtime.clock.now()
    async with open_room(runtime, session_id) as opened:
        require_not_cancelled(opened.session)
        room = opened.room
        completed = [
            CandidateReport(
                r.candidate_id,
                r.present,
                r.abort_reason,
                tuple(room.incidents_for(r.candidate_id))
                if r.candidate_id in reports_without_issues and r.present
                else r.issue_reports,
            )
            for r in reports
        ]
        request = FinalisationRequest(
            completed,
            has_incident,  # type: ignore[arg-type]
            has_joining_issue,  # type: ignore[arg-type]
            examiner_global_comment,
            session_incidents,
        )
        finalised = finalise_session(room, request, now)
        event = events.SessionFinalised(
            session_id=session_id,
            session_number=finalised.session_number,
            uai=opened.session["uai"],
            certification_center=opened.session["certification_center"],
            session_date=finalised.session_date,
            session_time=opened.session["session_time"],
            finalised_at=now,
            examiner_global_comment=finalised.examiner_global_comment,
            has_incident=finalised.has_incident,
            has_joining_issue=finalised.has_joining_issue,
            is_publishable=finalised.is_publishable,
            had_invigilator_access=finalised.had_invigilator_access,
            candidates=[_finalised_candidate(c) for c in finalised.candidates],
            session_incidents=[_session_incident(i) for i in finalised.session_incidents],
        )
        await store.insert_finalisation(opened.uow.conn, session_id, now, event.model_dump(mode="json"))
        await opened.uow.emit(event)
    log.info(
        "session finalised",
        session_id=session_id,
        candidates=len(event.candidates),
        publishable=event.is_publishable,
    )
    return event


def _finalised_candidate(c: DomainFinalisedCandidate) -> events.FinalisedCandidate:
    return events.FinalisedCandidate(
        candidate_id=c.candidate_id,
        learner_id=c.learner_id or "",
        ine=c.ine,
        first_name=c.first_name,
        last_name=c.last_name,
        birthdate=c.birthdate,
        division=c.division or "",
        present=c.present,
        completed=c.completed,
        abort_reason=c.abort_reason.value if c.abort_reason else None,
        extra_time_percentage=c.extra_time_percentage,
        started_at=c.started_at,
        ended_at=c.ended_at,
        test_state=c.test_state.value,
        issue_reports=[_issue_report(r) for r in c.issue_reports],
    )


def _issue_report(r: IssueReport) -> events.IssueReport:
    return events.IssueReport(
        category=r.category.value,
        subcategory=r.subcategory.value if r.subcategory else None,
        code=r.code,
        description=r.description,
        question_number=r.question_number,
    )


def _session_incident(i: SessionIncident) -> events.SessionIncident:
    return events.SessionIncident(
        **_issue_report(i.report).model_dump(), recorded_at=i.recorded_at, source=i.source.value
    )
