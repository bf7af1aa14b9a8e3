"""HTTP API of the scheduler: schools, plans, sessions and enrolment.

Routes only translate HTTP to the use cases (services/scheduler/usecases/) and their results to
response bodies; a refusal is a ``DomainError`` whose status ``ERROR_STATUSES`` (api_common) names
(the shared handler writes the body), and each route lists its refusal codes in the OpenAPI,
served at /docs and /openapi.json. The documents' routes are api_documents.py's, mounted last;
the candidate, checklist and Pix Certif routes sit beside them (api_*.py), mounted by app.py.
"""

from __future__ import annotations

import datetime as dt
import uuid

from fastapi import APIRouter, Depends, Header, Query, Response, status

from services.scheduler import store
from services.scheduler.api_common import (
    LIVE_SESSION,
    LOOKUPS,
    SESSION_RULES,
    UseCaseDependencies,
    candidate_out,
    refusals,
    session_detail,
    session_out,
    use_cases,
)
from services.scheduler.api_documents import router as documents_router
from services.scheduler.schemas import (
    ClassOut,
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
from services.scheduler.usecases import enrolment, plans, schools, sessions
from shared.http import school_api_router

#: the school's staff, referent and the académie's operators (shared.http's default roles)
school = school_api_router(uai_of=LOOKUPS)
#: what app.py serves: these routes, then the documents' (api_documents)
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
        SessionOut(**session_out(r, found.school.name, found.candidates.get(r.session_id, 0)))
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
        enrolled=[candidate_out(c) for c in outcome.enrolled],
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


router.include_router(school)
router.include_router(documents_router)
