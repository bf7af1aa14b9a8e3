"""HTTP of the académie view: read-only routes for the académie's operators (the console's
operator page), on ``shared.http.operator_api_router`` — an OIDC token with the ``operator``
role or the gateway's ``API_TOKEN`` when either is configured. No route writes.

* ``GET /academie/schools`` — every school's Phase 3 card (JSON), filtered by ``type``
  (college/lycee/lp), ``step`` (the first step not reached, or ``done``), ``overdue`` and ``q``
  (in the name or UAI), furthest behind first, paged by ``limit``/``offset``;
* ``GET /academie/schools.csv`` — the same schools (same filters, no paging) as a ``;`` CSV;
* ``GET /academie/overdue`` — the sessions whose finalisation is overdue;
* ``GET /academie/summary`` — per step, schools that reached it and schools stopped at it, and the
  académie-wide certifiability rate (same filters as the list).
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Query
from fastapi.responses import Response

from services.academie.domain.card import STEP_LABELS
from services.academie.domain.schools import TYPE_LABELS, SchoolFilter, SchoolProgress, Summary
from services.academie.store import transactions
from services.academie.usecases import views
from shared.errors import statuses
from shared.http import error_responses, operator_api_router
from shared.service import Runtime, get_runtime

#: status of each refusal code of the use cases (others 422)
ERRORS = statuses(other={"filter.invalid": 400, "page.invalid": 400})

router = operator_api_router(prefix="/academie", tags=["académie"])
CSV_FILE_NAME = "academie-phase3.csv"


async def filters(
    type: str | None = Query(None, description="college, lycee or lp"),
    step: str | None = Query(None, description="the first step not reached: planned … livret, or done"),
    overdue: bool | None = Query(None, description="true: only schools with an overdue finalisation"),
    q: str | None = Query(None, description="part of the school's name or UAI"),
) -> SchoolFilter:
    return SchoolFilter(type=type, step=step, overdue=overdue, q=q)


def school_body(school: SchoolProgress) -> dict[str, Any]:
    return {
        "uai": school.uai,
        "name": school.name,
        "type": school.type,
        "type_label": TYPE_LABELS[school.type],
        "step": school.step,
        "step_label": STEP_LABELS[school.step],
        "steps": [
            {"step": s.step, "reached": s.reached, "count": s.count, "reached_at": s.reached_at}
            for s in school.card
        ],
        "sessions": school.sessions,
        "candidates": school.candidates,
        "finalised_sessions": school.reached("finalised").count,
        "results": school.results,
        "classes_exported": school.classes_exported,
        "overdue_finalisations": school.overdue,
        "learners": school.learners,
        "certifiable": school.certifiable,
        "not_certifiable": school.not_certifiable,
        "certifiability_rate": school.certifiability_rate,
    }


def summary_body(summary: Summary) -> dict[str, Any]:
    return {
        "schools": summary.schools,
        "steps": [
            {
                "step": s.step,
                "label": STEP_LABELS[s.step],
                "reached": s.reached,
                "current": s.current,
                "sessions": s.sessions,
            }
            for s in summary.steps
        ],
        "done": summary.done,
        "sessions": summary.sessions,
        "candidates": summary.candidates,
        "results": summary.results,
        "overdue_sessions": summary.overdue_sessions,
        "schools_overdue": summary.schools_overdue,
        "learners": summary.learners,
        "certifiable": summary.certifiable,
        "certifiability_rate": summary.certifiability_rate,
    }


@router.get("/schools", responses=error_responses(ERRORS, "filter.invalid", "page.invalid"))
async def list_schools(
    where: SchoolFilter = Depends(filters),
    limit: int = Query(100, description=f"1 to {views.MAX_LIMIT}"),
    offset: int = Query(0, description="schools to skip"),
    runtime: Runtime = Depends(get_runtime),
) -> dict[str, Any]:
    """Every school's Phase 3 card, furthest behind first, then by UAI."""
    page = await views.list_schools(transactions(runtime.unit_of_work), where, limit=limit, offset=offset)
    return {
        "total": page.total,
        "limit": page.limit,
        "offset": page.offset,
        "schools": [school_body(s) for s in page.schools],
    }


@router.get(
    "/schools.csv",
    response_class=Response,
    responses={
        200: {"content": {"text/csv": {}}, "description": "one line per school"},
        **error_responses(ERRORS, "filter.invalid"),
    },
)
async def schools_csv(
    where: SchoolFilter = Depends(filters), runtime: Runtime = Depends(get_runtime)
) -> Response:
    """The same schools as the list (no paging), ``;``-separated UTF-8 with a header line."""
    content = await views.schools_csv(transactions(runtime.unit_of_work), where)
    return Response(
        content,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{CSV_FILE_NAME}"'},
    )


@router.get("/overdue")
async def overdue(runtime: Runtime = Depends(get_runtime)) -> dict[str, Any]:
    """Sessions whose finalisation is overdue and not done yet, the longest due first."""
    sessions = await views.overdue(transactions(runtime.unit_of_work))
    return {
        "total": len(sessions),
        "sessions": [
            {
                "session_id": s.session_id,
                "uai": s.uai,
                "school_name": s.school_name,
                "session_number": s.session_number,
                "session_date": s.session_date,
                "due_at": s.due_at,
                "detected_at": s.detected_at,
            }
            for s in sessions
        ],
    }


@router.get("/summary", responses=error_responses(ERRORS, "filter.invalid"))
async def summary(
    where: SchoolFilter = Depends(filters), runtime: Runtime = Depends(get_runtime)
) -> dict[str, Any]:
    """Per step: schools that reached it, schools stopped at it; the certifiability rate."""
    return summary_body(await views.summary(transactions(runtime.unit_of_work), where))
