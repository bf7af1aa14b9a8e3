"""What every scheduler use case shares: the unit of work it is given, the clock, and the refusals
met in several areas (an unknown school or session, a cancelled or started one)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from services.scheduler.domain import documents
from services.scheduler.domain.errors import DomainError
from services.scheduler.store import SchedulerStore, SchoolRow, SessionRow
from shared.contracts.events import Event


class UnitOfWork(Protocol):
    """One transaction: its store and its outbox (events are written as they are emitted)."""

    store: SchedulerStore

    async def emit(self, event: Event) -> object: ...


#: ``async with begin() as uow:`` commits on success, rolls back on an exception
Begin = Callable[[], AbstractAsyncContextManager[UnitOfWork]]
#: the invigilator password's keyed verifier (shared.password_hash.keyed_verifier under the key)
PasswordHasher = Callable[[str], str]


@dataclass(frozen=True)
class SchoolClock:
    """The time of the schools: ``now()`` (aware) for records and events, ``local_now()`` for rules
    (sessions are in local time, like Pix's "heure locale")."""

    now: Callable[[], datetime]
    zone: ZoneInfo

    def local_now(self) -> datetime:
        return self.now().astimezone(self.zone).replace(tzinfo=None)


def unknown_school(uai: str) -> DomainError:
    return DomainError("school.unknown", f"établissement inconnu : {uai}", uai=uai)


def unknown_candidate(candidate_id: uuid.UUID) -> DomainError:
    return DomainError(
        "candidate.unknown",
        f"candidat inconnu dans cette session : {candidate_id}",
        candidate_id=str(candidate_id),
    )


async def school_of(uow: UnitOfWork, uai: str, *, lock: bool = False) -> SchoolRow:
    """The school (locked when ``lock``: every command of one school is serialised on it)."""
    if lock and not await uow.store.lock_school(uai):
        raise unknown_school(uai)
    school = await uow.store.get_school(uai)
    if school is None:
        raise unknown_school(uai)
    return school


async def session_of(uow: UnitOfWork, session_id: uuid.UUID, *, lock: bool = False) -> SessionRow:
    row = await uow.store.get_session(session_id, for_update=lock)
    if row is None:
        raise DomainError("session.unknown", f"session inconnue : {session_id}", session_id=str(session_id))
    return row


async def live_session_locked(uow: UnitOfWork, session_id: uuid.UUID) -> tuple[SessionRow, SchoolRow]:
    """The live session and its school, both locked (school first, like every school command)."""
    row = await session_of(uow, session_id)
    school = await school_of(uow, row.uai, lock=True)
    row = await session_of(uow, session_id, lock=True)
    ensure_live(row)
    return row, school


def ensure_live(row: SessionRow) -> None:
    if not row.is_live:
        raise DomainError(
            "session.cancelled",
            f"la session {row.session.number} a été supprimée",
            session_id=str(row.session_id),
        )


def ensure_not_started(row: SessionRow, action: str) -> None:
    if row.session.has_started:
        raise DomainError(
            "session.started",
            f"la session {row.session.number} ne peut plus être modifiée ({action}) : un test a commencé",
            session_id=str(row.session_id),
        )


def school_document(school: SchoolRow) -> documents.School:
    """The school as the documents print it."""
    return documents.School(school.name, school.uai, school.city)
