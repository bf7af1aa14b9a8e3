"""What every route module of the scheduler shares: refusal statuses, dependencies, school lookups.

app.py builds ``UseCaseDependencies`` once and leaves it on the runtime under ``DEPENDENCIES``;
each route takes it with ``Depends(use_cases)``. A route naming a session or a plan is authorised
on that session's school (``LOOKUPS``). The session and candidate bodies are built here because
the session, enrolment, candidate and Pix Certif routes all answer them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, Request

from services.scheduler import store
from services.scheduler.domain.calendar import CertificationCalendar
from services.scheduler.schemas import CandidateOut, DocumentOut, SessionDetailOut
from services.scheduler.usecases import documents
from services.scheduler.usecases.common import Begin, PasswordHasher, SchoolClock
from services.scheduler.usecases.sessions import enrolled_candidate
from shared.errors import statuses
from shared.http import error_responses
from shared.service import Runtime, get_runtime, runtime_of

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


async def use_cases(runtime: Runtime = Depends(get_runtime)) -> UseCaseDependencies:
    """FastAPI dependency: the use cases' dependencies."""
    return runtime.state[DEPENDENCIES]


async def school_of(request: Request, resource_id: str) -> str | None:
    """The UAI of the session or plan a route names (None: unknown, or not an id at all → 404)."""
    try:
        key = uuid.UUID(resource_id)
    except ValueError:
        return None
    async with runtime_of(request).pool.acquire() as conn:
        return await store.SchedulerStore(conn).school_of(key)


#: routes naming a session or a plan are authorised on the school it belongs to (school_api_router's uai_of)
LOOKUPS = {"session_id": school_of, "plan_id": school_of}
#: the school's own people (staff, its Pix referent): what prints or bundles students' names
SCHOOL_PEOPLE = frozenset({"staff", "referent"})


# ------------------------------------------------------------------------------------- session bodies


def session_out(row: store.SessionRow, school_name: str, candidates: int) -> dict[str, Any]:
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


def candidate_out(row: store.CandidateRow) -> CandidateOut:
    """The candidate as the API shows it: the fields of the event that enrolled it."""
    return CandidateOut.model_validate(
        enrolled_candidate(row.candidate_id, row.ine, row.candidate).model_dump()
    )


async def session_detail(deps: UseCaseDependencies, session_id: uuid.UUID) -> SessionDetailOut:
    """The session as GET /sessions/{id} shows it (the Pix Certif routes answer it too)."""
    view = await documents.session_view(deps.begin, session_id=session_id)
    return SessionDetailOut(
        **session_out(view.row, view.school.name, len(view.candidates)),
        invigilator_password=view.row.session.printed.displayed_password,
        candidates=[candidate_out(c) for c in view.candidates],
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
