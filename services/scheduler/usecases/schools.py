"""Schools: a school describes itself (name, level, rooms, staff, hours) and reads that back, and
reads its checklist before planning (its year's calendar and warnings, its certifying classes).

A new description may not drop a room that sessions still to come use (``room.in_use``).
"""

from __future__ import annotations

from dataclasses import dataclass

from services.scheduler.domain.calendar import CertificationCalendar, SchoolLevel, YearStatus, school_year_of
from services.scheduler.domain.mef import DivisionLevel, division_levels
from services.scheduler.domain.planner import Room
from services.scheduler.domain.schools import check_rooms_kept, check_school, normalise_uai
from services.scheduler.schemas import SchoolIn
from services.scheduler.store import ClassCount, SchoolRow, StaffRow
from services.scheduler.usecases.common import Begin, SchoolClock, school_of


@dataclass(frozen=True)
class SchoolView:
    school: SchoolRow
    classes: list[ClassCount]


async def put_school(
    begin: Begin, *, uai: str, body: SchoolIn, clock: SchoolClock
) -> tuple[SchoolView, bool]:
    """Create or replace a school's description; True when it was created."""
    uai = normalise_uai(uai)
    hours = body.hours.model_dump(mode="json")
    check_school(hours, [r.name for r in body.rooms], [s.name for s in body.staff])
    rooms = [Room(r.name, r.workstations, r.site or body.site) for r in body.rooms]
    staff = [
        StaffRow(
            s.name, None if s.availability is None else [a.model_dump(mode="json") for a in s.availability]
        )
        for s in body.staff
    ]
    now, today = clock.now(), clock.local_now().date()
    async with begin() as uow:
        if await uow.store.lock_school(uai):
            sessions = [row.session for row in await uow.store.live_sessions(uai)]
            check_rooms_kept([r.name for r in rooms], sessions, today=today)
        created = await uow.store.upsert_school(
            uai=uai,
            name=body.name,
            level=body.level.value,
            city=body.city,
            site=body.site,
            hours=hours,
            rooms=rooms,
            staff=staff,
            now=now,
        )
        school = await school_of(uow, uai)
        return SchoolView(school, await uow.store.class_counts(uai)), created


async def get_school(begin: Begin, *, uai: str) -> SchoolView:
    """The school's description and its classes in the learners read model."""
    uai = normalise_uai(uai)
    async with begin() as uow:
        school = await school_of(uow, uai)
        return SchoolView(school, await uow.store.class_counts(uai))


@dataclass(frozen=True)
class Checklist:
    """What a school checks before planning a school year."""

    school: SchoolRow
    calendar: YearStatus
    #: the calendar's warnings (no calendar, provisional dates, Pix Certif not open yet)
    warnings: tuple[str, ...]
    #: each class with its level by MEF (certifying or not) and its counts
    classes: list[tuple[DivisionLevel, ClassCount]]


async def get_checklist(
    begin: Begin,
    *,
    uai: str,
    clock: SchoolClock,
    calendar: CertificationCalendar,
    school_year: str | None = None,
) -> Checklist:
    """The school's checklist for ``school_year`` (default: the current one)."""
    uai = normalise_uai(uai)
    today = clock.local_now().date()
    async with begin() as uow:
        school = await school_of(uow, uai)
        counts = {c.division: c for c in await uow.store.class_counts(uai)}
        levels = division_levels(await uow.store.division_mef_counts(uai))
    status = calendar.status(school_year or school_year_of(today), SchoolLevel(school.level))
    return Checklist(school, status, status.warnings(today), [(lv, counts[lv.division]) for lv in levels])
