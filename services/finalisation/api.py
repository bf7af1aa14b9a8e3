"""HTTP API: invigilator space, session finalisation, results intake.

The invigilator logs in with the session number and password and gets a short-lived token for that
session only. Finalisation is the referent's form (pix-domain §5.2). Results come as Pix's own files:
the class results CSV or the livret scolaire JSON, as a raw body or a multipart upload.

Routes turn HTTP into use-case calls (``usecases/``) and their answers back into the documented
bodies, nothing else; refusals are ``DomainError``s whose status ``ERROR_STATUSES`` names.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from pydantic import BaseModel, Field, StrictBool

from services.finalisation.domain.finalisation import CandidateReport
from services.finalisation.domain.invigilation import CandidateSeat
from services.finalisation.domain.issue_reports import IssueReport, issue_report, issue_report_from_code
from services.finalisation.domain.login_limits import TOO_MANY_ATTEMPTS, TooManyAttempts
from services.finalisation.domain.tokens import read_token
from services.finalisation.store import FinalisationStore
from services.finalisation.usecases import finalisation, invigilation
from services.finalisation.usecases import results as results_intake
from services.finalisation.usecases.ports import Begin, Dependencies
from shared.errors import DomainError, statuses
from shared.http import ApiError, error_responses, principal_of, query_uai, school_api_router
from shared.service import runtime_of

#: the HTTP status of each refusal code (others: 422, the request's content was refused)
ERROR_STATUSES = statuses(
    not_found={"candidate.unknown", "session.unknown", "finalisation.unknown", "results.row_unknown"},
    conflict={
        # refusals caused by the state of the session or test, not by the request's content
        "session.finalised",
        "session.expired",
        "session.cancelled",
        "candidate.already_started",
        "candidate.not_authorised",
        "candidate.test_not_in_progress",
        "finalisation.no_started_test",
        "results.session_not_finalised",
        "finalisation.amendment_too_late",
        "finalisation.results_received",
        "results.row_already_assigned",
        "results.candidate_has_result",
    },
    other={
        "auth.": 401,
        "auth.wrong_session": 403,
        TOO_MANY_ATTEMPTS: 429,
        "results.too_large": 413,
    },
)
#: where ``app.wire`` puts the use cases' dependencies on the runtime
DEPENDENCIES = "finalisation.dependencies"

router = APIRouter()


async def use_case_dependencies(request: Request) -> Dependencies:
    """The use cases' dependencies (``async``, like every dependency of these routes: FastAPI runs a
    plain ``def`` dependency in a worker thread, a thread hop per request that was ≈ 16 % of a click)."""
    return runtime_of(request).state[DEPENDENCIES]


Deps = Annotated[Dependencies, Depends(use_case_dependencies)]

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


# ---- invigilator space ------------------------------------------------------------------------


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


class IssueReportIn(BaseModel):
    """A signalement by Pix category (+ subcategory) or by its PV d'incident code (C1…C8, E1…E12)."""

    category: str | None = None
    subcategory: str | None = None
    code: str | None = None
    description: str | None = Field(default=None, max_length=2000)
    question_number: int | None = None

    def to_domain(self) -> IssueReport:
        if self.category is not None:
            report = issue_report(
                self.category,
                self.subcategory,
                description=self.description,
                question_number=self.question_number,
            )
            if self.code is not None and self.code.strip().upper() != report.code:
                raise DomainError(
                    "issue_report.code_mismatch",
                    f"code {self.code} is not the code of {report.category}/{report.subcategory} ({report.code})",
                )
            return report
        if self.code is not None:
            return issue_report_from_code(
                self.code, description=self.description, question_number=self.question_number
            )
        raise DomainError("issue_report.unknown_category", "give a category or a code")


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


# ---- school and Pix side: finalisation, results intake -----------------------------------------


async def school_of_session(request: Request, session_id: str) -> str | None:
    """The UAI of the session a route names (None: this service does not know it → 404)."""
    async with runtime_of(request).pool.acquire() as conn:
        return await FinalisationStore(conn).school_of_session(session_id)


#: the finalisation form is the school's Pix referent's (pix-domain §5.2), not its other staff's
referents = school_api_router(roles=frozenset({"referent"}), uai_of={"session_id": school_of_session})
#: results come from the Pix side (any school) or the school's referent (its own sessions, its ``?uai=``)
intake = school_api_router(
    roles=frozenset({"referent"}),
    also_allowed=frozenset({"pix"}),
    uai_of={"session_id": school_of_session, "?uai": query_uai},
)


# ---- finalisation -----------------------------------------------------------------------------


class CandidateReportIn(BaseModel):
    candidate_id: str
    present: StrictBool
    abort_reason: str | None = Field(default=None, description="candidate | technical")
    issue_reports: list[IssueReportIn] | None = Field(
        default=None, description="omitted: the incidents recorded live for this candidate"
    )


class FinalisationIn(BaseModel):
    """pix-domain §5.2: comment, the two checkboxes, one report per enrolled candidate."""

    examiner_global_comment: str | None = None
    has_incident: StrictBool | None = None
    has_joining_issue: StrictBool | None = None
    candidate_reports: list[CandidateReportIn] = Field(default_factory=list)
    session_incidents: list[IssueReportIn] = Field(
        default_factory=list,
        description="room-level PV entries transcribed from paper; those recorded live are always kept",
    )


@referents.put(
    "/sessions/{session_id}/finalisation",
    tags=["finalisation"],
    responses=error_responses(
        ERROR_STATUSES,
        "session.unknown",
        "session.cancelled",
        "session.finalised",
        "finalisation.no_started_test",
        "candidate.unknown",
        "finalisation.flags_required",
    ),
)
async def finalise(session_id: str, body: FinalisationIn, deps: Deps, request: Request) -> dict[str, Any]:
    """Finalise the session; raises SessionFinalised (returned as the response body)."""
    reports, without_issues, session_incidents = candidate_reports(body)
    principal = principal_of(request)
    event = await finalisation.finalise(
        deps.begin,
        session_id,
        reports=reports,
        reports_without_issues=without_issues,
        has_incident=body.has_incident,
        has_joining_issue=body.has_joining_issue,
        examiner_global_comment=body.examiner_global_comment,
        session_incidents=session_incidents,
        now=deps.now(),
        by=principal.subject if principal is not None else None,
    )
    return event.model_dump(mode="json")


def candidate_reports(
    body: FinalisationIn,
) -> tuple[list[CandidateReport], set[str], tuple[IssueReport, ...]]:
    """The form's reports in the domain's terms, the candidates given no issue report list (what
    was recorded live stands for them), and the room-level incidents transcribed."""
    reports = [
        CandidateReport(
            r.candidate_id,
            r.present,
            r.abort_reason,
            tuple(i.to_domain() for i in r.issue_reports or ()),
        )
        for r in body.candidate_reports
    ]
    without_issues = {r.candidate_id for r in body.candidate_reports if r.issue_reports is None}
    return reports, without_issues, tuple(i.to_domain() for i in body.session_incidents)


# ---- results intake ---------------------------------------------------------------------------

RESULTS_REFUSALS = ("results.no_file", "results.empty", "results.too_large", "results.unknown_candidates")


async def _results_file(request: Request, max_bytes: int) -> tuple[bytes, str, str | None]:
    """(bytes, file name, content type) from a raw body or the first file of a multipart form."""
    content_type = request.headers.get("content-type")
    file_name = request.headers.get("x-file-name")
    if content_type and content_type.lower().startswith("multipart/form-data"):
        form = await request.form()
        uploads = [v for v in form.values() if hasattr(v, "read")]
        if not uploads:
            raise DomainError("results.no_file", "the form carries no file")
        upload = uploads[0]
        data = await upload.read(max_bytes + 1)  # type: ignore[union-attr]
        file_name = upload.filename or file_name  # type: ignore[union-attr]
        content_type = upload.content_type  # type: ignore[union-attr]
    else:  # never more than one byte past the limit in memory, whatever the body's size
        chunks, size = [], 0
        async for chunk in request.stream():
            chunks.append(chunk)
            size += len(chunk)
            if size > max_bytes:
                break
        data = b"".join(chunks)
    if not data.strip():
        raise DomainError("results.empty", "the results file is empty")
    if len(data) > max_bytes:
        raise DomainError("results.too_large", f"at most {max_bytes} bytes", max_bytes=max_bytes)
    return data, file_name or "results", content_type


async def _import(
    begin: Begin, now: datetime, request: Request, max_bytes: int, **scope: str | None
) -> dict[str, Any]:
    data, file_name, content_type = await _results_file(request, max_bytes)
    return await results_intake.import_results(
        begin, data, file_name=file_name, content_type=content_type, now=now, **scope
    )


@intake.post(
    "/sessions/{session_id}/results",
    tags=["results"],
    responses=error_responses(
        ERROR_STATUSES, *RESULTS_REFUSALS, "session.unknown", "results.session_not_finalised"
    ),
)
async def session_results(session_id: str, request: Request, deps: Deps) -> dict[str, Any]:
    """A class results CSV or livret JSON for one finalised session (rows of others are unmatched)."""
    return await _import(deps.begin, deps.now(), request, deps.results_max_bytes, session_id=session_id)


@intake.post("/results", tags=["results"], responses=error_responses(ERROR_STATUSES, *RESULTS_REFUSALS))
async def results(
    request: Request,
    deps: Deps,
    uai: Annotated[str | None, Query(description="only this school's sessions")] = None,
) -> dict[str, Any]:
    """A results file covering several sessions (e.g. a school's livret JSON), split by matching."""
    return await _import(deps.begin, deps.now(), request, deps.results_max_bytes, uai=uai)


router.include_router(referents)
router.include_router(intake)
