"""HTTP API of the scheduler: schools, plans, sessions, enrolment and documents.

Routes only translate HTTP to the use cases of commands.py and their results to response bodies;
OpenAPI is served at /docs and /openapi.json.
"""

from __future__ import annotations

import datetime as dt
import uuid

from fastapi import Depends, Query, Response, status

from services.scheduler import commands, store
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
from shared.http import school_api_router
from shared.service import Runtime, get_runtime

router = school_api_router()  # API_TOKEN, when set
ERRORS = {
    404: {"description": "unknown school, session, plan or candidate"},
    409: {"description": "conflict with the current state (overlap, started, …)"},
    422: {"description": "invalid request: {error: {code, message, details}}"},
}


# ------------------------------------------------------------------------------------------ schools


async def _school_out(runtime: Runtime, school: store.SchoolRow) -> SchoolOut:
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
        classes=[ClassOut(**c) for c in await commands.class_counts(runtime, school.uai)],
        updated_at=school.updated_at,
    )


@router.put("/schools/{uai}", response_model=SchoolOut, tags=["schools"], responses=ERRORS)
async def put_school(
    uai: str, body: SchoolIn, response: Response, runtime: Runtime = Depends(get_runtime)
) -> SchoolOut:
    """Create or replace a school: name, level, city, site, rooms, staff (with availability), hours."""
    school, created = await commands.put_school(runtime, uai, body)
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return await _school_out(runtime, school)


@router.get("/schools/{uai}", response_model=SchoolOut, tags=["schools"], responses=ERRORS)
async def get_school(uai: str, runtime: Runtime = Depends(get_runtime)) -> SchoolOut:
    return await _school_out(runtime, await commands.get_school(runtime, uai))


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
        **plan.proposal,
    )


@router.post(
    "/schools/{uai}/plans", response_model=PlanOut, status_code=201, tags=["plans"], responses=ERRORS
)
async def propose_plan(
    uai: str, body: PlanIn | None = None, runtime: Runtime = Depends(get_runtime)
) -> PlanOut:
    """Propose sessions for the school's certifiable learners not yet enrolled.

    ``divisions`` limits the plan to the classes being certified (3e, terminales, CAP, BTS…); a class
    the school does not have is refused with ``class.unknown`` and nothing is stored.

    When no plan exists, the proposal has status ``impossible`` and ``error`` says exactly why.
    """
    return _plan_out(await commands.propose_plan(runtime, uai, body or PlanIn()))


@router.get("/plans/{plan_id}", response_model=PlanOut, tags=["plans"], responses=ERRORS)
async def get_plan(plan_id: uuid.UUID, runtime: Runtime = Depends(get_runtime)) -> PlanOut:
    return _plan_out(await commands.get_plan(runtime, plan_id))


@router.post("/plans/{plan_id}/confirm", response_model=PlanOut, tags=["plans"], responses=ERRORS)
async def confirm_plan(plan_id: uuid.UUID, runtime: Runtime = Depends(get_runtime)) -> PlanOut:
    """Create every proposed session and enrol its classes, in one transaction."""
    plan, session_ids = await commands.confirm_plan(runtime, plan_id)
    return _plan_out(plan, session_ids)


# ----------------------------------------------------------------------------------------- sessions


def _session_out(row: store.SessionRow, school_name: str, candidates: int) -> dict:
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
        "status": row.status,
        "started": s.has_started,
        "finalised_at": row.finalised_at,
        "plan_id": row.plan_id,
        "candidates_count": candidates,
    }


def _candidate_out(row: store.CandidateRow) -> CandidateOut:
    c = row.candidate
    return CandidateOut(
        candidate_id=row.candidate_id,
        learner_id=c.learner_id,
        ine=row.ine,
        first_name=c.first_name,
        last_name=c.last_name,
        birthdate=c.birthdate,
        division=c.division,
        extra_time_percentage=c.extra_time_percentage,
        override_reason=c.certifiability_override,
    )


async def _session_detail(runtime: Runtime, session_id: uuid.UUID) -> SessionDetailOut:
    view = await commands.session_view(runtime, session_id)
    return SessionDetailOut(
        **_session_out(view.row, view.school.name, len(view.candidates)),
        invigilator_password=view.row.session.displayed_password,
        candidates=[_candidate_out(c) for c in view.candidates],
        documents=[
            DocumentOut(
                kind=d["kind"],
                file_name=d["file_name"],
                sha256=d["sha256"],
                size_bytes=d["size_bytes"],
                candidates=len(d["candidate_ids"]),
                issued_at=d["issued_at"],
            )
            for d in view.documents
        ],
    )


@router.post(
    "/schools/{uai}/sessions",
    response_model=SessionDetailOut,
    status_code=201,
    tags=["sessions"],
    responses=ERRORS,
)
async def create_session(
    uai: str, body: SessionIn, runtime: Runtime = Depends(get_runtime)
) -> SessionDetailOut:
    """Create a session (N° from a sequence, fresh access code and invigilator password)."""
    return await _session_detail(runtime, await commands.create_one_session(runtime, uai, body))


@router.get("/schools/{uai}/sessions", response_model=list[SessionOut], tags=["sessions"], responses=ERRORS)
async def list_sessions(
    uai: str,
    include_cancelled: bool = False,
    day: dt.date | None = Query(default=None, alias="date"),
    runtime: Runtime = Depends(get_runtime),
) -> list[SessionOut]:
    school = await commands.get_school(runtime, uai)
    async with runtime.pool.acquire() as conn:
        rows = await store.school_sessions(conn, school.uai, include_cancelled=include_cancelled, day=day)
        counts = dict(
            await conn.fetch(
                "SELECT session_id, count(*) FROM candidates WHERE session_id = ANY($1::uuid[])"
                " GROUP BY session_id",
                [r.session_id for r in rows],
            )
        )
    return [SessionOut(**_session_out(r, school.name, counts.get(r.session_id, 0))) for r in rows]


@router.get("/sessions/{session_id}", response_model=SessionDetailOut, tags=["sessions"], responses=ERRORS)
async def get_session(session_id: uuid.UUID, runtime: Runtime = Depends(get_runtime)) -> SessionDetailOut:
    return await _session_detail(runtime, session_id)


@router.patch("/sessions/{session_id}", response_model=SessionDetailOut, tags=["sessions"], responses=ERRORS)
async def patch_session(
    session_id: uuid.UUID, body: SessionPatch, runtime: Runtime = Depends(get_runtime)
) -> SessionDetailOut:
    """Edit site, room, invigilators, date, time or observations; refused once a test has started."""
    await commands.patch_session(runtime, session_id, body)
    return await _session_detail(runtime, session_id)


@router.delete("/sessions/{session_id}", status_code=204, tags=["sessions"], responses=ERRORS)
async def delete_session(
    session_id: uuid.UUID, reason: str | None = None, runtime: Runtime = Depends(get_runtime)
) -> Response:
    """Cancel a session (SessionCancelled); refused once a test has started."""
    await commands.delete_session(runtime, session_id, reason)
    return Response(status_code=204)


# --------------------------------------------------------------------------------------- enrolment


@router.post(
    "/sessions/{session_id}/enrolments",
    response_model=EnrolmentOut,
    status_code=201,
    tags=["enrolment"],
    responses=ERRORS,
)
async def enrol(
    session_id: uuid.UUID, body: EnrolmentIn, runtime: Runtime = Depends(get_runtime)
) -> EnrolmentOut:
    """Enrol a class (or learners) of the school; non-certifiable learners need an override reason."""
    outcome = await commands.enrol(runtime, session_id, body)
    return EnrolmentOut(
        session_id=session_id,
        enrolled=[_candidate_out(c) for c in outcome.enrolled],
        already_enrolled=outcome.already_enrolled,
        refused=[RefusalOut(**r) for r in outcome.refused],
    )


@router.delete(
    "/sessions/{session_id}/candidates/{candidate_id}", status_code=204, tags=["enrolment"], responses=ERRORS
)
async def unenrol(
    session_id: uuid.UUID, candidate_id: uuid.UUID, runtime: Runtime = Depends(get_runtime)
) -> Response:
    await commands.unenrol(runtime, session_id, candidate_id)
    return Response(status_code=204)


# ---------------------------------------------------------------------------------------- documents


def _file(content: bytes, name: str, media_type: str) -> Response:
    return Response(
        content, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


@router.get(
    "/sessions/{session_id}/documents/{kind}.pdf",
    tags=["documents"],
    responses={200: {"content": {"application/pdf": {}}}, **ERRORS},
    response_class=Response,
)
async def document(session_id: uuid.UUID, kind: str, runtime: Runtime = Depends(get_runtime)) -> Response:
    """``kind``: convocations, attendance-sheet, invigilator-kit, incident-report, fraud-report."""
    name, content = await commands.render_document(runtime, session_id, kind)
    return _file(content, name, "application/pdf")


@router.get(
    "/sessions/{session_id}/candidates/{candidate_id}/convocation.pdf",
    tags=["documents"],
    responses={200: {"content": {"application/pdf": {}}}, **ERRORS},
    response_class=Response,
)
async def candidate_convocation(
    session_id: uuid.UUID, candidate_id: uuid.UUID, runtime: Runtime = Depends(get_runtime)
) -> Response:
    """One student's convocation (the convocations document holds them all, one page each)."""
    name, content = await commands.candidate_convocation(runtime, session_id, candidate_id)
    return _file(content, name, "application/pdf")


@router.get(
    "/sessions/{session_id}/bundle.zip",
    tags=["documents"],
    responses={200: {"content": {"application/zip": {}}}, **ERRORS},
    response_class=Response,
)
async def session_bundle(session_id: uuid.UUID, runtime: Runtime = Depends(get_runtime)) -> Response:
    name, content, _ = await commands.session_bundle(runtime, session_id)
    return _file(content, name, "application/zip")


@router.get(
    "/schools/{uai}/days/{day}/bundle.zip",
    tags=["documents"],
    responses={200: {"content": {"application/zip": {}}}, **ERRORS},
    response_class=Response,
)
async def day_bundle(uai: str, day: dt.date, runtime: Runtime = Depends(get_runtime)) -> Response:
    name, content = await commands.day_bundle(runtime, uai, day)
    return _file(content, name, "application/zip")


@router.post(
    "/sessions/{session_id}/convocations",
    response_model=ConvocationsOut,
    status_code=201,
    tags=["documents"],
    responses=ERRORS,
)
async def issue_convocations(
    session_id: uuid.UUID, runtime: Runtime = Depends(get_runtime)
) -> ConvocationsOut:
    """Render the session bundle, store its sha256 and emit ConvocationsIssued."""
    return ConvocationsOut(**await commands.issue_convocations(runtime, session_id))
