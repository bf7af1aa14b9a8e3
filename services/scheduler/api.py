"""HTTP API of the scheduler: schools, plans, sessions, enrolment and documents.

Routes only translate HTTP to the use cases (services/scheduler/usecases/) and their results to
response bodies; a refusal is a ``DomainError`` whose status ``ERROR_STATUSES`` names (the
shared handler writes the body), and each route lists its refusal codes in the OpenAPI, served
at /docs and /openapi.json. Past 400 lines on purpose: those per-route lists are most of it, and
the whole HTTP surface of the service reads best in one file, in the order of the docs.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response, status

from services.scheduler import store
from services.scheduler.domain.calendar import CertificationCalendar
from services.scheduler.schemas import (
    CandidateOut,
    ClassOut,
    ConvocationsOut,
    DocumentOut,
    EnrolmentIn,
    EnrolmentOut,
    HoursIn,
    PlanIn,
    PlanOut,
    RefusalOut,
    RoomIn,
    SchoolIn,
    SchoolOut,
    SessionDetailOut,
    SessionIn,
    SessionOut,
    SessionPatch,
    StaffIn,
)
from services.scheduler.usecases import documents, enrolment, plans, schools, sessions
from services.scheduler.usecases.common import Begin, PasswordHasher, SchoolClock
from services.scheduler.usecases.sessions import enrolled_candidate
from shared.errors import statuses
from shared.http import error_responses, school_api_router
from shared.service import Runtime, get_runtime

#: HTTP status of each refusal code; a code not listed is a 422 (the request itself is wrong)
ERROR_STATUSES = statuses(
    not_found=[
        "school.unknown",
        "session.unknown",
        "plan.unknown",
        "candidate.unknown",
        "day.no_session",
        "document.unknown",
    ],
    conflict=[
        "session.overlap",
        "invigilator.busy",
        "session.started",
        "session.finalised",
        "session.cancelled",
        "room.capacity_exceeded",
        "session.invigilators_short",
        "room.in_use",
        "plan.already_confirmed",
        "plan.impossible",
        "plan.stale",
        "plan.conflict",
        "plan.idempotency_key_reused",
        "convocations.no_candidate",
        "session.before_pix_certif_opening",
        "pix.session_number_taken",
    ],
)
#: the refusals of a new or edited session's rules (domain.sessions, domain.calendar)
SESSION_RULES = (
    "calendar.unknown",
    "session.before_pix_certif_opening",
    "session.invalid_time",
    "session.in_past",
    "session.outside_window",
    "session.site_required",
    "session.invigilator_required",
    "room.unknown",
    "session.overlap",
    "invigilator.busy",
)
#: the refusals every route on one live session may give
LIVE_SESSION = ("session.unknown", "school.unknown", "session.cancelled")


def refusals(*codes: str) -> dict[int | str, dict[str, Any]]:
    """``responses=`` of a route that may refuse with ``codes``."""
    return error_responses(ERROR_STATUSES, *codes)


@dataclass(frozen=True)
class UseCaseDependencies:
    """What the use cases are given, built once by app.py (the composition root)."""

    begin: Begin
    clock: SchoolClock
    calendar: CertificationCalendar
    hash_password: PasswordHasher


#: where app.py leaves the dependencies on the runtime
DEPENDENCIES = "scheduler.use_case_dependencies"


def use_cases(runtime: Runtime = Depends(get_runtime)) -> UseCaseDependencies:
    """FastAPI dependency: the use cases' dependencies."""
    return runtime.state[DEPENDENCIES]


async def school_of(request: Request, resource_id: str) -> str | None:
    """The UAI of the session or plan a route names (None: unknown, or not an id at all → 404)."""
    try:
        key = uuid.UUID(resource_id)
    except ValueError:
        return None
    async with get_runtime(request).pool.acquire() as conn:
        return await store.SchedulerStore(conn).school_of(key)


#: routes naming a session or a plan are authorised on the school it belongs to
_LOOKUPS = {"session_id": school_of, "plan_id": school_of}
#: the school's own people (staff, its Pix referent): what prints or bundles students' names
SCHOOL_PEOPLE = frozenset({"staff", "referent"})

#: the school's staff, referent and the académie's operators (shared.http's default roles)
school = school_api_router(uai_of=_LOOKUPS)
#: the printed documents (convocations, attendance sheets, bundles): the school's people only
files = school_api_router(roles=SCHOOL_PEOPLE, uai_of=_LOOKUPS)
#: what app.py serves: both routers, included at the end of this module
router = APIRouter()


# ------------------------------------------------------------------------------------------ schools


def _school_out(view: schools.SchoolView) -> SchoolOut:
    school = view.school
    return SchoolOut(
        uai=school.uai,
        name=school.name,
        level=school.level,
        city=school.city,
        site=school.site,
        rooms=[RoomIn(name=r.name, workstations=r.workstations, site=r.site) for r in school.rooms],
        staff=[
            StaffIn.model_validate({"name": s.name, "availability": s.availability}) for s in school.staff
        ],
        hours=HoursIn.model_validate(school.hours),
        classes=[
            ClassOut(division=c.division, learners=c.learners, certifiable=c.certifiable)
            for c in view.classes
        ],
        updated_at=school.updated_at,
    )


@school.put(
    "/schools/{uai}",
    response_model=SchoolOut,
    tags=["schools"],
    responses=refusals(
        "school.invalid_uai",
        "school.invalid_hours",
        "school.duplicate_room",
        "school.duplicate_staff",
        "room.in_use",
    ),
)
async def put_school(
    uai: str, body: SchoolIn, response: Response, deps: UseCaseDependencies = Depends(use_cases)
) -> SchoolOut:
    """Create or replace a school: name, level, city, site, rooms, staff (with availability), hours."""
    view, created = await schools.put_school(deps.begin, uai=uai, body=body, clock=deps.clock)
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return _school_out(view)


@school.get(
    "/schools/{uai}",
    response_model=SchoolOut,
    tags=["schools"],
    responses=refusals("school.invalid_uai", "school.unknown"),
)
async def get_school(uai: str, deps: UseCaseDependencies = Depends(use_cases)) -> SchoolOut:
    return _school_out(await schools.get_school(deps.begin, uai=uai))


# -------------------------------------------------------------------------------------------- plans


def _plan_out(plan: store.PlanRow, session_ids: list[uuid.UUID] | None = None) -> PlanOut:
    return PlanOut(
        plan_id=plan.plan_id,
        uai=plan.uai,
        school_year=plan.school_year,
        status=plan.status,
        created_at=plan.created_at,
        confirmed_at=plan.confirmed_at,
        session_ids=session_ids or [],
        **plan.proposal.to_json(),
    )


@school.post(
    "/schools/{uai}/plans",
    response_model=PlanOut,
    status_code=201,
    tags=["plans"],
    responses=refusals(
        "school.invalid_uai",
        "school.unknown",
        "class.unknown",
        "calendar.unknown",
        "plan.no_catch_up_week",
        "plan.idempotency_key_reused",
    ),
)
async def propose_plan(
    uai: str,
    body: PlanIn | None = None,
    idempotency_key: str | None = Header(
        default=None,
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        description="a resend with the same key (and body) gets the proposal stored by the first",
    ),
    deps: UseCaseDependencies = Depends(use_cases),
) -> PlanOut:
    """Propose sessions for the school's certifiable learners not yet enrolled.

    ``divisions`` limits the plan to the classes being certified (3e, terminales, CAP, BTS…); a class
    the school does not have is refused with ``class.unknown`` and nothing is stored.

    When no plan exists, the proposal has status ``impossible`` and ``error`` says exactly why.
    ``catch_up`` plans in the calendar's catch-up week those no session holds (the absent and
    aborted candidates of finalised sessions are free again).

    With an ``Idempotency-Key`` header, a resend of the request (the first answer lost to a
    restart or a timeout) returns the proposal the first one stored, storing no second one; the
    same key with another body is refused with ``plan.idempotency_key_reused``.
    """
    plan = await plans.propose_plan(
        deps.begin,
        uai=uai,
        body=body or PlanIn(),
        clock=deps.clock,
        calendar=deps.calendar,
        idempotency_key=idempotency_key,
    )
    return _plan_out(plan)


@school.get("/plans/{plan_id}", response_model=PlanOut, tags=["plans"], responses=refusals("plan.unknown"))
async def get_plan(plan_id: uuid.UUID, deps: UseCaseDependencies = Depends(use_cases)) -> PlanOut:
    return _plan_out(await plans.get_plan(deps.begin, plan_id=plan_id))


@school.post(
    "/plans/{plan_id}/confirm",
    response_model=PlanOut,
    tags=["plans"],
    responses=refusals(
        "plan.unknown",
        "school.unknown",
        "plan.already_confirmed",
        "plan.impossible",
        "plan.stale",
        "plan.conflict",
        "calendar.unknown",
        "session.before_pix_certif_opening",
    ),
)
async def confirm_plan(plan_id: uuid.UUID, deps: UseCaseDependencies = Depends(use_cases)) -> PlanOut:
    """Create every proposed session and enrol its classes, in one transaction."""
    plan, session_ids = await plans.confirm_plan(
        deps.begin,
        plan_id=plan_id,
        clock=deps.clock,
        calendar=deps.calendar,
        hash_password=deps.hash_password,
    )
    return _plan_out(plan, session_ids)


# ----------------------------------------------------------------------------------------- sessions


def _session_out(row: store.SessionRow, school_name: str, candidates: int) -> dict[str, Any]:
    s = row.session
    return {
        "session_id": row.session_id,
        "session_number": s.number,
        "uai": row.uai,
        "certification_center": school_name,
        "site": s.site,
        "room": s.room,
        "invigilators": list(s.invigilators),
        "date": s.day,
        "time": s.time,
        "observations": s.observations,
        "access_code": s.access_code,
        "pix_session_number": s.pix.number if s.pix else None,
        "pix_access_code": s.pix.access_code if s.pix else None,
        "status": row.status,
        "started": s.has_started,
        "finalised_at": row.finalised_at,
        "plan_id": row.plan_id,
        "candidates_count": candidates,
        "lifecycle": row.lifecycle.status(cancelled=not row.is_live).value,
        "convoked_at": row.lifecycle.convoked_at,
        "started_at": row.lifecycle.started_at,
        "results_received_at": row.lifecycle.results_received_at,
        "exported_at": row.lifecycle.exported_at,
    }


def _candidate_out(row: store.CandidateRow) -> CandidateOut:
    """The candidate as the API shows it: the fields of the event that enrolled it."""
    return CandidateOut.model_validate(
        enrolled_candidate(row.candidate_id, row.ine, row.candidate).model_dump()
    )


async def session_detail(deps: UseCaseDependencies, session_id: uuid.UUID) -> SessionDetailOut:
    """The session as GET /sessions/{id} shows it (the Pix Certif routes answer it too)."""
    view = await documents.session_view(deps.begin, session_id=session_id)
    return SessionDetailOut(
        **_session_out(view.row, view.school.name, len(view.candidates)),
        invigilator_password=view.row.session.printed.displayed_password,
        candidates=[_candidate_out(c) for c in view.candidates],
        documents=[
            DocumentOut(
                kind=d.kind,
                file_name=d.file_name,
                sha256=d.sha256,
                size_bytes=d.size_bytes,
                candidates=len(d.candidate_ids),
                issued_at=d.issued_at,
            )
            for d in view.documents
        ],
    )


@school.post(
    "/schools/{uai}/sessions",
    response_model=SessionDetailOut,
    status_code=201,
    tags=["sessions"],
    responses=refusals("school.invalid_uai", "school.unknown", *SESSION_RULES),
)
async def create_session(
    uai: str, body: SessionIn, deps: UseCaseDependencies = Depends(use_cases)
) -> SessionDetailOut:
    """Create a session (N° from a sequence, fresh access code and invigilator password)."""
    session_id = await sessions.create_one_session(
        deps.begin,
        uai=uai,
        body=body,
        clock=deps.clock,
        calendar=deps.calendar,
        hash_password=deps.hash_password,
    )
    return await session_detail(deps, session_id)


@school.get(
    "/schools/{uai}/sessions",
    response_model=list[SessionOut],
    tags=["sessions"],
    responses=refusals("school.invalid_uai", "school.unknown"),
)
async def list_sessions(
    uai: str,
    include_cancelled: bool = False,
    day: dt.date | None = Query(default=None, alias="date"),
    deps: UseCaseDependencies = Depends(use_cases),
) -> list[SessionOut]:
    found = await sessions.list_sessions(deps.begin, uai=uai, include_cancelled=include_cancelled, day=day)
    return [
        SessionOut(**_session_out(r, found.school.name, found.candidates.get(r.session_id, 0)))
        for r in found.sessions
    ]


@school.get(
    "/sessions/{session_id}",
    response_model=SessionDetailOut,
    tags=["sessions"],
    responses=refusals("session.unknown", "school.unknown"),
)
async def get_session(
    session_id: uuid.UUID, deps: UseCaseDependencies = Depends(use_cases)
) -> SessionDetailOut:
    return await session_detail(deps, session_id)


@school.patch(
    "/sessions/{session_id}",
    response_model=SessionDetailOut,
    tags=["sessions"],
    responses=refusals(
        *LIVE_SESSION,
        "session.started",
        *SESSION_RULES,
        "session.invigilators_short",
        "room.capacity_exceeded",
    ),
)
async def patch_session(
    session_id: uuid.UUID, body: SessionPatch, deps: UseCaseDependencies = Depends(use_cases)
) -> SessionDetailOut:
    """Edit site, room, invigilators, date, time or observations; refused once a test has started."""
    await sessions.patch_session(
        deps.begin,
        session_id=session_id,
        body=body,
        clock=deps.clock,
        calendar=deps.calendar,
        hash_password=deps.hash_password,
    )
    return await session_detail(deps, session_id)


@school.delete(
    "/sessions/{session_id}",
    status_code=204,
    tags=["sessions"],
    responses=refusals(*LIVE_SESSION, "session.started"),
)
async def delete_session(
    session_id: uuid.UUID, reason: str | None = None, deps: UseCaseDependencies = Depends(use_cases)
) -> Response:
    """Cancel a session (SessionCancelled); refused once a test has started."""
    await sessions.delete_session(deps.begin, session_id=session_id, reason=reason, clock=deps.clock)
    return Response(status_code=204)


# --------------------------------------------------------------------------------------- enrolment


@school.post(
    "/sessions/{session_id}/enrolments",
    response_model=EnrolmentOut,
    status_code=201,
    tags=["enrolment"],
    responses=refusals(
        *LIVE_SESSION,
        "session.finalised",
        "enrolment.nothing_selected",
        "class.unknown",
        "learner.unknown",
        "learner.inactive",
        "enrolment.foreign_learner",
        "enrolment.learner_not_selected",
        "enrolment.override_reason_required",
        "candidate.invalid_extra_time",
        "candidate.invalid_adapted_conditions",
        "room.unknown",
        "room.capacity_exceeded",
        "session.invigilators_short",
    ),
)
async def enrol(
    session_id: uuid.UUID, body: EnrolmentIn, deps: UseCaseDependencies = Depends(use_cases)
) -> EnrolmentOut:
    """Enrol a class (or learners) of the school until the session is finalised (also after its first
    start, as Pix allows SCO centres); non-certifiable learners need an override reason."""
    outcome = await enrolment.enrol(deps.begin, session_id=session_id, body=body, clock=deps.clock)
    return EnrolmentOut(
        session_id=session_id,
        enrolled=[_candidate_out(c) for c in outcome.enrolled],
        already_enrolled=outcome.already_enrolled,
        refused=[RefusalOut(**r) for r in outcome.refused],
    )


@school.delete(
    "/sessions/{session_id}/candidates/{candidate_id}",
    status_code=204,
    tags=["enrolment"],
    responses=refusals(*LIVE_SESSION, "session.finalised", "candidate.unknown"),
)
async def unenrol(
    session_id: uuid.UUID, candidate_id: uuid.UUID, deps: UseCaseDependencies = Depends(use_cases)
) -> Response:
    await enrolment.unenrol(deps.begin, session_id=session_id, candidate_id=candidate_id, clock=deps.clock)
    return Response(status_code=204)


# ---------------------------------------------------------------------------------------- documents


def _download(file: documents.DocumentFile) -> Response:
    """A file answer: its bytes, media type and the name to save it under."""
    return Response(
        file.content,
        media_type=file.media_type,
        headers={"Content-Disposition": f'attachment; filename="{file.file_name}"'},
    )


def _file_route(path: str, media_type: str, *codes: str):
    """The GET decorator of a file download: one media type, the refusals it may give."""
    return files.get(
        path,
        tags=["documents"],
        responses={200: {"content": {media_type: {}}}, **refusals(*codes)},
        response_class=Response,
    )


@_file_route("/sessions/{session_id}/documents/{kind}.pdf", documents.PDF, "document.unknown", *LIVE_SESSION)
async def document(
    session_id: uuid.UUID, kind: str, deps: UseCaseDependencies = Depends(use_cases)
) -> Response:
    """``kind``: convocations, attendance-sheet, invigilator-kit, incident-report, fraud-report."""
    return _download(await documents.session_document(deps.begin, session_id=session_id, kind=kind))


@_file_route(
    "/sessions/{session_id}/candidates/{candidate_id}/convocation.pdf",
    documents.PDF,
    *LIVE_SESSION,
    "candidate.unknown",
)
async def candidate_convocation(
    session_id: uuid.UUID, candidate_id: uuid.UUID, deps: UseCaseDependencies = Depends(use_cases)
) -> Response:
    """One student's convocation (the convocations document holds them all, one page each)."""
    file = await documents.candidate_convocation(deps.begin, session_id=session_id, candidate_id=candidate_id)
    return _download(file)


@_file_route("/sessions/{session_id}/bundle.zip", documents.ZIP, *LIVE_SESSION)
async def session_bundle(session_id: uuid.UUID, deps: UseCaseDependencies = Depends(use_cases)) -> Response:
    return _download(await documents.session_bundle(deps.begin, session_id=session_id))


@_file_route(
    "/schools/{uai}/days/{day}/bundle.zip",
    documents.ZIP,
    "school.invalid_uai",
    "school.unknown",
    "day.no_session",
)
async def day_bundle(uai: str, day: dt.date, deps: UseCaseDependencies = Depends(use_cases)) -> Response:
    return _download(await documents.day_bundle(deps.begin, uai=uai, day=day))


@school.post(
    "/sessions/{session_id}/convocations",
    response_model=ConvocationsOut,
    status_code=201,
    tags=["documents"],
    responses=refusals(*LIVE_SESSION, "convocations.no_candidate"),
)
async def issue_convocations(
    session_id: uuid.UUID, deps: UseCaseDependencies = Depends(use_cases)
) -> ConvocationsOut:
    """Render the session bundle, store its sha256 and emit ConvocationsIssued."""
    return ConvocationsOut(
        **await documents.issue_convocations(deps.begin, session_id=session_id, clock=deps.clock)
    )


router.include_router(school)
router.include_router(files)
