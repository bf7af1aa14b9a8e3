"""HTTP API of the invigilator space: log in with the session number and password, watch the room,
one click per candidate, incidents as they happen.

The login gives a short-lived token for that session only; every other route takes it
(``Invigilated``). Routes turn HTTP into use-case calls (``usecases/invigilation.py``), nothing else.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request
from pydantic import BaseModel, Field

from services.finalisation.api_common import ERROR_STATUSES, Deps, IssueReportIn
from services.finalisation.domain.invigilation import CandidateSeat
from services.finalisation.domain.login_limits import TOO_MANY_ATTEMPTS, TooManyAttempts
from services.finalisation.domain.tokens import read_token
from services.finalisation.usecases import invigilation
from shared.errors import DomainError
from shared.http import ApiError, error_responses

router = APIRouter()

#: what every invigilator route may answer besides success (its token, its session's state)
INVIGILATOR_REFUSALS = (
    "auth.missing_token",
    "auth.invalid_token",
    "auth.token_expired",
    "auth.wrong_session",
    "session.unknown",
    "session.finalised",
    "session.expired",
    "session.cancelled",
)


class LoginRequest(BaseModel):
    session_number: int = Field(ge=1)
    password: str = Field(min_length=1, max_length=64, description='as printed, "C-" prefix optional')


async def invigilated_session(
    session_id: str, deps: Deps, authorization: Annotated[str | None, Header()] = None
) -> str:
    """The path's session, if the Bearer token was issued for it."""
    if not authorization or not authorization.lower().startswith("bearer "):
        raise DomainError("auth.missing_token", "log in to the invigilator space first")
    token = read_token(deps.token_secret, authorization[7:].strip(), deps.now())
    if token.session_id != session_id:
        raise DomainError("auth.wrong_session", "this token opens another session")
    return session_id


Invigilated = Annotated[str, Depends(invigilated_session)]


@router.post(
    "/invigilator/login",
    tags=["invigilator"],
    responses=error_responses(
        ERROR_STATUSES,
        "auth.bad_password",
        TOO_MANY_ATTEMPTS,
        "session.unknown",
        "session.finalised",
        "session.expired",
        "session.cancelled",
    ),
)
async def login(body: LoginRequest, request: Request, deps: Deps) -> dict[str, Any]:
    """Session number + password → a token to send as ``Authorization: Bearer …``.

    At most ``INVIGILATOR_LOGIN_ATTEMPTS_PER_MINUTE`` failed attempts a minute per session number
    and per client address, then 429 ``auth.too_many_attempts`` with ``Retry-After`` (seconds).
    """
    try:
        granted = await invigilation.log_in(
            deps.begin,
            deps.read,
            session_number=body.session_number,
            password=body.password,
            client=request.client.host if request.client else "",
            now=deps.now(),
            verify=deps.verify_password,
            token_secret=deps.token_secret,
            token_ttl=deps.token_ttl,
            attempts_per_minute=deps.login_attempts_per_minute,
        )
    except TooManyAttempts as refused:
        error = ApiError(429, refused.code, refused.message, **refused.details)
        error.headers = {"Retry-After": str(refused.retry_after_seconds)}
        raise error from None
    return {"token": granted.token, "session_id": granted.session_id, "expires_at": granted.expires_at}


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


def room_view(snapshot: invigilation.RoomSnapshot, now: datetime) -> dict[str, Any]:
    session, room = snapshot.session, snapshot.room
    return {
        "session_id": room.session_id,
        "session_number": session.shown_number,
        "certibus_session_number": room.session_number,
        "pix_session_number": session.pix_session_number,
        "certification_center": session.certification_center,
        "address": session.address,
        "room": session.room,
        "examiners": session.examiners,
        "date": room.session_date,
        "time": session.session_time,
        "expires_at": room.expires_at(),
        "expired": room.is_expired(now),
        "as_of": now,  # the service's clock: time left is counted from it, not from a tablet's
        "candidates": [seat_view(seat, now) for seat in room.seats.values()],
        "incidents": [
            {"candidate_id": i.candidate_id, "recorded_at": i.recorded_at, **i.report.to_payload()}
            for i in room.incidents
        ],
    }


@router.get(
    "/invigilator/sessions/{session_id}",
    tags=["invigilator"],
    responses=error_responses(ERROR_STATUSES, *INVIGILATOR_REFUSALS),
)
async def show_session(session_id: Invigilated, deps: Deps) -> dict[str, Any]:
    now = deps.now()
    return room_view(await invigilation.show_room(deps.read, session_id, now=now), now)


#: ``invigilation.start_test`` and its siblings: (begin, session_id, candidate_id, *, now) → the seat
SeatUseCase = Callable[..., Awaitable[CandidateSeat]]


def _seat_route(path: str, method: str, use_case: SeatUseCase, doc: str) -> None:
    async def route(session_id: Invigilated, candidate_id: str, deps: Deps) -> dict[str, Any]:
        now = deps.now()
        return seat_view(await use_case(deps.begin, session_id, candidate_id, now=now), now)

    route.__doc__ = doc
    route.__name__ = f"{method.lower()}_{path.rsplit('/', 1)[-1]}"
    router.add_api_route(
        f"/invigilator/sessions/{{session_id}}/candidates/{{candidate_id}}/{path}",
        route,
        methods=[method],
        tags=["invigilator"],
        responses=error_responses(
            ERROR_STATUSES,
            *INVIGILATOR_REFUSALS,
            "candidate.unknown",
            "candidate.already_started",
            "candidate.not_authorised",
            "candidate.test_not_in_progress",
        ),
    )


_seat_route("presence", "POST", invigilation.confirm_presence, "Confirm presence.")
_seat_route("presence", "DELETE", invigilation.cancel_presence, "Cancel the confirmation.")
_seat_route("start", "POST", invigilation.start_test, "The candidate started on mon-pix.")
_seat_route("resume", "POST", invigilation.authorise_resume, "Authorise a resume.")
_seat_route("end", "POST", invigilation.end_test, "End the candidate's test.")
_seat_route("complete", "POST", invigilation.complete_test, "The candidate finished.")


class IncidentIn(IssueReportIn):
    candidate_id: str | None = Field(default=None, description="None: the whole room")


@router.post(
    "/invigilator/sessions/{session_id}/incidents",
    status_code=201,
    tags=["invigilator"],
    responses=error_responses(
        ERROR_STATUSES, *INVIGILATOR_REFUSALS, "candidate.unknown", "issue_report.unknown_category"
    ),
)
async def record_incident(session_id: Invigilated, body: IncidentIn, deps: Deps) -> dict[str, Any]:
    """Write an incident down as it happens (the digital PV d'incident)."""
    incident = await invigilation.record_incident(
        deps.begin, session_id, body.candidate_id, body.to_domain(), now=deps.now()
    )
    return {
        "candidate_id": incident.candidate_id,
        "recorded_at": incident.recorded_at,
        **incident.report.to_payload(),
    }
