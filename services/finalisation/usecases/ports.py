"""What the use cases need from the outside world: a store and a unit of work (protocols), a clock.

``store.FinalisationStore`` / ``store.begin`` are the PostgreSQL implementations; the unit tests
run the same use cases on an in-memory twin (tests/unit/finalisation/fakes.py). A unit of work is
one transaction: it commits when its ``async with`` block ends without error and rolls back
otherwise, and the events emitted inside it are published only if it commits (the outbox).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal, Protocol

from services.finalisation.domain.invigilation import PasswordVerifier, RecordedIncident, SessionRoom
from services.finalisation.domain.results import ResultsImport
from services.finalisation.domain.sessions import RecordedFinalisation, ScheduledSession
from services.finalisation.domain.unmatched import UnmatchedRow
from shared.contracts.events import Event

#: a row lock on the session until the transaction ends: ``"exclusive"`` for what changes the whole
#: room (finalisation), ``"shared"`` for one click (clicks on other seats go on side by side, a
#: finalisation waits for them and they for it)
Lock = Literal["shared", "exclusive"] | None


class Store(Protocol):
    """Finalisation's state, read and written in the domain's values."""

    async def session(self, session_id: str, *, lock: Lock = None) -> ScheduledSession | None: ...

    async def sessions_by_number(self, session_number: int) -> list[ScheduledSession]: ...

    async def pix_session_numbers(self, session_ids: Sequence[str]) -> dict[str, int]: ...

    async def load_room(self, session: ScheduledSession) -> SessionRoom: ...

    async def save_room(self, room: SessionRoom, incidents_before: int, now: datetime) -> None: ...

    async def load_seat(self, session: ScheduledSession, candidate_id: str | None) -> SessionRoom: ...

    async def save_seat(self, room: SessionRoom, candidate_id: str) -> None: ...

    async def claim_first_start(self, session_id: str, started_at: datetime) -> bool: ...

    async def record_invigilator_access(self, session_id: str, at: datetime) -> None: ...

    async def add_incident(self, session_id: str, incident: RecordedIncident) -> None: ...

    async def charge_login_attempts(
        self, buckets: Sequence[str], window: datetime, limit: int
    ) -> list[str]: ...

    async def refund_login_attempts(self, buckets: Sequence[str], window: datetime) -> None: ...

    async def prune_login_attempts(self, before: datetime) -> int: ...

    async def insert_finalisation(
        self, session_id: str, finalised_at: datetime, payload: dict[str, Any], by: str | None = None
    ) -> None: ...

    async def amend_finalisation(
        self, session_id: str, payload: dict[str, Any], amended_at: datetime, by: str | None
    ) -> int: ...

    async def has_results(self, session_id: str) -> bool: ...

    async def held_certifications(self, certification_ids: Sequence[int]) -> set[int]: ...

    async def keep_unmatched(self, rows: Sequence[UnmatchedRow]) -> None: ...

    async def forget_unmatched(self, certification_ids: Sequence[int]) -> None: ...

    async def unmatched_rows(
        self, *, uai: str | None = None, session_id: str | None = None
    ) -> list[UnmatchedRow]: ...

    async def unmatched_row(self, certification_id: int, *, lock: bool = False) -> UnmatchedRow | None: ...

    async def assign_unmatched(
        self, certification_id: int, session_id: str, candidate_id: str, at: datetime, by: str | None
    ) -> None: ...

    async def waiting_rows_of(self, session_id: str) -> int: ...

    async def finalisation(self, session_id: str, *, lock: bool = False) -> RecordedFinalisation | None: ...

    async def finalisations(self, uai: str | None = None) -> list[RecordedFinalisation]: ...

    async def lock_finalisations(self, session_ids: Sequence[str]) -> None: ...

    async def session_results(self, session_ids: Sequence[str]) -> dict[str, dict[str, dict[str, Any]]]: ...

    async def replace_results(self, changes: Mapping[str, Mapping[str, dict[str, Any]]]) -> None: ...

    async def record_imports(self, imports: Sequence[ResultsImport]) -> None: ...

    async def unfinalised_sessions_up_to(self, last_date: date) -> list[ScheduledSession]: ...

    async def insert_overdue_notice(
        self, session_id: str, due_at: datetime, detected_at: datetime
    ) -> bool: ...


class UnitOfWork(Protocol):
    """One transaction: the store inside it, and the events it raises."""

    @property
    def store(self) -> Store: ...

    async def emit(self, event: Event) -> None: ...

    async def emit_many(self, events: Sequence[Event]) -> None: ...


#: opens a unit of work (``async with begin() as uow``)
Begin = Callable[[], AbstractAsyncContextManager[UnitOfWork]]
#: opens a read-only snapshot of the store, taking no lock
ReadOnly = Callable[[], AbstractAsyncContextManager[Store]]


@dataclass(frozen=True, slots=True)
class Dependencies:
    """Everything the HTTP routes hand to the use cases, built once by ``app.py`` (the composition root)."""

    begin: Begin
    read: ReadOnly
    #: the service's clock (tests move it)
    now: Callable[[], datetime]
    verify_password: PasswordVerifier
    token_secret: str
    token_ttl: timedelta
    results_max_bytes: int
    #: failed invigilator logins a session number or a client address gets per minute
    login_attempts_per_minute: int = 10
    #: how long after finalising the referent may amend it (README, *Phase 3 walkthrough*)
    amendment_window: timedelta = timedelta(hours=48)
