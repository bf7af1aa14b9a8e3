"""HTTP route of a school's checklist: its year's calendar (and what is missing from it), its classes.

Apart from api.py, and mounted beside it by app.py:
the checklist is what a school reads before planning — a current year with no calendar or only a
provisional one, Pix Certif not open yet, which classes the planner will take by their MEF code.
"""

from __future__ import annotations

from fastapi import Depends, Query

from services.scheduler.api_common import UseCaseDependencies, refusals, use_cases
from services.scheduler.domain.calendar import Window
from services.scheduler.schemas import CalendarOut, ChecklistClassOut, ChecklistOut
from services.scheduler.usecases import schools
from shared.http import school_api_router

router = school_api_router()


def _window(window: Window | None) -> dict | None:
    return None if window is None else {"start": window.start, "end": window.end}


@router.get(
    "/schools/{uai}/checklist",
    response_model=ChecklistOut,
    tags=["schools"],
    responses=refusals("school.invalid_uai", "school.unknown"),
)
async def get_checklist(
    uai: str,
    school_year: str | None = Query(default=None, pattern=r"^\d{4}-\d{4}$", description="default: current"),
    deps: UseCaseDependencies = Depends(use_cases),
) -> ChecklistOut:
    """Before planning: the calendar of the school year (``warnings`` says when it is missing or
    provisional, or Pix Certif not open yet) and each class's level by MEF code."""
    checklist = await schools.get_checklist(
        deps.begin, uai=uai, clock=deps.clock, calendar=deps.calendar, school_year=school_year
    )
    status, cal = checklist.calendar, checklist.calendar.calendar
    return ChecklistOut(
        uai=checklist.school.uai,
        calendar=CalendarOut(
            school_year=status.school_year,
            track=status.track.value,
            state=status.state.value,
            window=_window(cal.window) if cal else None,
            catch_up=_window(cal.catch_up) if cal else None,
            pix_certif_opening=cal.pix_certif_opening if cal else None,
            pix_certif_opening_estimated=cal.opening_estimated if cal else False,
            note=cal.note if cal else "",
            source=cal.source if cal else "",
        ),
        warnings=list(checklist.warnings),
        certifying_divisions=[level.division for level, _ in checklist.classes if level.certifying],
        classes=[
            ChecklistClassOut(
                division=level.division,
                mef_code=level.mef.code,
                level=level.mef.level,
                certifying=level.certifying,
                learners=count.learners,
                certifiable=count.certifiable,
            )
            for level, count in checklist.classes
        ],
    )
