"""Schools: a school describes itself (name, level, rooms, staff, hours) and reads that back.

A new description may not drop a room that sessions still to come use (``room.in_use``).
"""

from __future__ import annotations

from dataclasses import dataclass

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
