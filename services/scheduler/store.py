"""SQL of the scheduler's own schema: ``SchedulerStore`` on one transaction's connection.

Nothing here decides anything; the use cases and the event handlers call it inside their unit of
work. It returns domain values (``Session``, ``Learner``, ``Candidate``, ``PlanProposal``) or the
typed read models, never an ``asyncpg.Record``. The schools' queries are here; the others are in
``store_<purpose>.py`` beside it (learners, sessions, enrolments, plans, documents, lifecycle),
mixed into ``SchedulerStore`` and re-exported here; tests/unit/scheduler/fakes.py is its in-memory twin.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from services.scheduler.domain.planner import Room
from services.scheduler.store_documents import DocumentQueries, IssuedDocument
from services.scheduler.store_enrolments import CandidateRow, EnrolmentQueries
from services.scheduler.store_learners import (
    CertifiabilityRow,
    ClassCount,
    LearnerQueries,
    LearnerRow,
    LearnerSnapshotRow,
)
from services.scheduler.store_lifecycle import LifecycleQueries
from services.scheduler.store_plans import PlanQueries, PlanRow
from services.scheduler.store_sessions import LIVE, SessionQueries, SessionRow
from shared import usecases as shared_usecases
from shared.outbox import UnitOfWork

__all__ = [
    "LIVE",
    "CandidateRow",
    "CertifiabilityRow",
    "ClassCount",
    "IssuedDocument",
    "LearnerRow",
    "LearnerSnapshotRow",
    "PlanRow",
    "SchedulerStore",
    "SchoolRow",
    "SessionRow",
    "StaffRow",
    "StoreUnitOfWork",
    "transactions",
]


@dataclass(frozen=True, slots=True)
class StaffRow:
    name: str
    #: None = whenever the school is open; else [{"date": "YYYY-MM-DD", "half_day": "morning"}, …]
    availability: list[dict[str, str]] | None


@dataclass(frozen=True, slots=True)
class SchoolRow:
    uai: str
    name: str
    level: str
    city: str
    site: str
    hours: dict[str, Any]
    rooms: tuple[Room, ...]
    staff: tuple[StaffRow, ...]
    updated_at: datetime


class SchedulerStore(
    LifecycleQueries, LearnerQueries, SessionQueries, EnrolmentQueries, PlanQueries, DocumentQueries
):
    """The scheduler's SQL, on one connection (the unit of work's transaction); the lifecycle's
    queries (issue 16) are in store_lifecycle.py, the others' in store_<purpose>.py."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def lock_school(self, uai: str) -> bool:
        """Serialise the commands of one school (session overlaps, enrolments); False if unknown."""
        return bool(await self.conn.fetchval("SELECT true FROM schools WHERE uai = $1 FOR UPDATE", uai))

    async def get_school(self, uai: str) -> SchoolRow | None:
        row = await self.conn.fetchrow("SELECT * FROM schools WHERE uai = $1", uai)
        if row is None:
            return None
        rooms = await self.conn.fetch("SELECT * FROM rooms WHERE uai = $1 ORDER BY position, name", uai)
        staff = await self.conn.fetch("SELECT * FROM staff WHERE uai = $1 ORDER BY position, name", uai)
        return SchoolRow(
            uai=row["uai"],
            name=row["name"],
            level=row["level"],
            city=row["city"],
            site=row["site"],
            hours=row["hours"],
            rooms=tuple(Room(r["name"], r["workstations"], r["site"]) for r in rooms),
            staff=tuple(StaffRow(s["name"], s["availability"]) for s in staff),
            updated_at=row["updated_at"],
        )

    async def upsert_school(
        self,
        *,
        uai: str,
        name: str,
        level: str,
        city: str,
        site: str,
        hours: Mapping[str, Any],
        rooms: Sequence[Room],
        staff: Sequence[StaffRow],
        now: datetime,
    ) -> bool:
        """Replace the school's description (rooms and staff included); True when it was created."""
        created = await self.conn.fetchval(
            "INSERT INTO schools (uai, name, level, city, site, hours, created_at, updated_at)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $7)"
            " ON CONFLICT (uai) DO UPDATE SET name = $2, level = $3, city = $4, site = $5, hours = $6,"
            " updated_at = $7"
            " RETURNING (xmax = 0)",  # xmax = 0 only for a freshly inserted row
            uai,
            name,
            level,
            city,
            site,
            dict(hours),
            now,
        )
        await self.conn.execute("DELETE FROM rooms WHERE uai = $1", uai)
        await self.conn.executemany(
            "INSERT INTO rooms (uai, name, workstations, site, position) VALUES ($1, $2, $3, $4, $5)",
            [(uai, r.name, r.workstations, r.site, i) for i, r in enumerate(rooms)],
        )
        await self.conn.execute("DELETE FROM staff WHERE uai = $1", uai)
        await self.conn.executemany(
            "INSERT INTO staff (uai, name, availability, position) VALUES ($1, $2, $3, $4)",
            [(uai, s.name, s.availability, i) for i, s in enumerate(staff)],
        )
        return bool(created)


#: one transaction of the service: its store and its outbox (shared/usecases.py)
StoreUnitOfWork = shared_usecases.StoreWork[SchedulerStore]


def transactions(
    begin_outbox: Callable[[], AbstractAsyncContextManager[UnitOfWork]],
) -> Callable[[], AbstractAsyncContextManager[StoreUnitOfWork]]:
    """The ``begin`` factory of the use cases, from the runtime's ``unit_of_work``."""
    return shared_usecases.transactions(begin_outbox, SchedulerStore)
