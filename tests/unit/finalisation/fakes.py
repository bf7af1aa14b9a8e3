"""An in-memory finalisation store and unit of work, so the use cases run without PostgreSQL.

Cosmicpython's fake repository / fake unit of work, for ``services.finalisation.usecases.ports``:
the tables are plain dicts, a unit of work copies them when it opens and puts the copy back when
its block raises (a refused command changes nothing), and the events it emitted count as published
only once it commits. Locks are no-ops: one test drives one use case at a time.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any

from services.finalisation.domain.invigilation import (
    CandidateSeat,
    EnrolledCandidate,
    RecordedIncident,
    SessionRoom,
    TestState,
)
from services.finalisation.domain.results import ResultsImport
from services.finalisation.domain.sessions import RecordedFinalisation, ScheduledSession
from services.finalisation.domain.unmatched import UnmatchedRow
from services.finalisation.usecases.ports import Dependencies, Lock
from shared.contracts.events import Event
from tests.unit.finalisation.finalisation_builders import PASSWORD, T0, fake_verify

SECRET = "in-memory-invigilator-secret"
SESSION_DATE = T0.date()


@dataclass
class Tables:
    """What the PostgreSQL schema holds, one dict per table (keys are the primary keys)."""

    sessions: dict[str, ScheduledSession] = field(default_factory=dict)
    #: (session_id, candidate_id) → the candidate and when they were unenrolled (None: enrolled)
    candidates: dict[tuple[str, str], tuple[EnrolledCandidate, datetime | None]] = field(default_factory=dict)
    #: session_id → (first_test_started_at, invigilator access)
    room_sessions: dict[str, tuple[datetime | None, bool]] = field(default_factory=dict)
    seats: dict[tuple[str, str], CandidateSeat] = field(default_factory=dict)
    incidents: dict[str, list[RecordedIncident]] = field(default_factory=dict)
    finalisations: dict[str, RecordedFinalisation] = field(default_factory=dict)
    results: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    imports: list[ResultsImport] = field(default_factory=list)
    overdue_notices: dict[str, datetime] = field(default_factory=dict)
    #: bucket → (window start, attempts)
    login_attempts: dict[str, tuple[datetime, int]] = field(default_factory=dict)
    #: finalisation_amendments: (session, amendment) → the payload it replaced
    amendments: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    unmatched: dict[int, UnmatchedRow] = field(default_factory=dict)


class InMemoryStore:
    """``ports.Store`` on ``Tables``, with the same rules as the SQL (e.g. who is in the room)."""

    def __init__(self) -> None:
        self.tables = Tables()
        #: seat rows written (a click writes one, a finalisation the whole room)
        self.seat_writes = 0

    async def session(self, session_id: str, *, lock: Lock = None) -> ScheduledSession | None:
        return self.tables.sessions.get(session_id)

    async def sessions_by_number(self, session_number: int) -> list[ScheduledSession]:
        return [
            s
            for s in self.tables.sessions.values()
            if session_number in (s.session_number, s.pix_session_number)
        ]

    async def pix_session_numbers(self, session_ids: Sequence[str]) -> dict[str, int]:
        return {
            sid: s.pix_session_number
            for sid in session_ids
            if (s := self.tables.sessions.get(sid)) is not None and s.pix_session_number is not None
        }

    async def load_room(self, session: ScheduledSession) -> SessionRoom:
        room = self._room_state(session)
        keys = [key for key in self.tables.candidates if key[0] == session.session_id]
        seats = [seat for seat in map(self._seat_in_room, keys) if seat]
        for seat in sorted(
            seats, key=lambda s: (s.candidate.last_name, s.candidate.first_name, s.candidate_id)
        ):
            room.seats[seat.candidate_id] = seat
        room.incidents = list(self.tables.incidents.get(session.session_id, []))
        return room

    async def load_seat(self, session: ScheduledSession, candidate_id: str | None) -> SessionRoom:
        room = self._room_state(session)
        if candidate_id is not None and (seat := self._seat_in_room((session.session_id, candidate_id))):
            room.seats[candidate_id] = seat
        return room

    def _room_state(self, session: ScheduledSession) -> SessionRoom:
        t = self.tables
        room = SessionRoom(
            session.session_id,
            session.session_number,
            session.session_date,
            session.invigilator_password_hash,
        )
        room.first_test_started_at, room.has_invigilator_access = t.room_sessions.get(
            session.session_id, (None, False)
        )
        recorded = t.finalisations.get(session.session_id)
        room.finalised_at = recorded.finalised_at if recorded else None
        return room

    def _seat_in_room(self, key: tuple[str, str]) -> CandidateSeat | None:
        """The candidate's seat if they are in the room: enrolled, or unenrolled after starting."""
        if key not in self.tables.candidates:
            return None
        candidate, unenrolled_at = self.tables.candidates[key]
        seat = copy.deepcopy(self.tables.seats.get(key)) or CandidateSeat(candidate)
        seat.candidate = candidate
        return seat if unenrolled_at is None or seat.has_started else None

    async def save_room(self, room: SessionRoom, incidents_before: int, now: datetime) -> None:
        t = self.tables
        _, had_access = t.room_sessions.get(room.session_id, (None, False))
        t.room_sessions[room.session_id] = (
            room.first_test_started_at,
            had_access or room.has_invigilator_access,
        )
        for seat in room.seats.values():
            self.seat_writes += 1
            t.seats[room.session_id, seat.candidate_id] = copy.deepcopy(seat)
        t.incidents.setdefault(room.session_id, []).extend(room.incidents[incidents_before:])

    async def save_seat(self, room: SessionRoom, candidate_id: str) -> None:
        self.seat_writes += 1
        self.tables.seats[room.session_id, candidate_id] = copy.deepcopy(room.seat(candidate_id))

    async def claim_first_start(self, session_id: str, started_at: datetime) -> bool:
        first, access = self.tables.room_sessions.get(session_id, (None, False))
        if first is not None:
            return False
        self.tables.room_sessions[session_id] = (started_at, access)
        return True

    async def record_invigilator_access(self, session_id: str, at: datetime) -> None:
        first, _ = self.tables.room_sessions.get(session_id, (None, False))
        self.tables.room_sessions[session_id] = (first, True)

    async def charge_login_attempts(self, buckets: Sequence[str], window: datetime, limit: int) -> list[str]:
        spent = []
        for bucket in buckets:
            start, attempts = self.tables.login_attempts.get(bucket, (window, 0))
            if start != window:
                start, attempts = window, 0
            if attempts >= limit:
                spent.append(bucket)
            else:
                self.tables.login_attempts[bucket] = (start, attempts + 1)
        return spent

    async def refund_login_attempts(self, buckets: Sequence[str], window: datetime) -> None:
        for bucket in buckets:
            start, attempts = self.tables.login_attempts.get(bucket, (window, 0))
            if start == window and attempts > 0:
                self.tables.login_attempts[bucket] = (start, attempts - 1)

    async def prune_login_attempts(self, before: datetime) -> int:
        stale = [b for b, (start, _) in self.tables.login_attempts.items() if start < before]
        for bucket in stale:
            del self.tables.login_attempts[bucket]
        return len(stale)

    async def add_incident(self, session_id: str, incident: RecordedIncident) -> None:
        self.tables.incidents.setdefault(session_id, []).append(incident)

    async def insert_finalisation(
        self, session_id: str, finalised_at: datetime, payload: dict[str, Any], by: str | None = None
    ) -> None:
        if session_id in self.tables.finalisations:
            raise AssertionError(f"duplicate key: finalisation of {session_id}")
        self.tables.finalisations[session_id] = RecordedFinalisation(session_id, finalised_at, payload, by)

    async def amend_finalisation(
        self, session_id: str, payload: dict[str, Any], amended_at: datetime, by: str | None
    ) -> int:
        recorded = self.tables.finalisations[session_id]
        amendment = recorded.amendments + 1
        self.tables.amendments[(session_id, amendment)] = recorded.payload
        self.tables.finalisations[session_id] = replace(
            recorded, payload=payload, amendments=amendment, amended_at=amended_at, amended_by=by
        )
        return amendment

    async def has_results(self, session_id: str) -> bool:
        return bool(self.tables.results.get(session_id))

    async def held_certifications(self, certification_ids: Sequence[int]) -> set[int]:
        held = {
            p["certification_id"]
            for by_candidate in self.tables.results.values()
            for p in by_candidate.values()
        }
        return held & set(certification_ids)

    async def keep_unmatched(self, rows: Sequence[UnmatchedRow]) -> None:
        for row in rows:
            kept = self.tables.unmatched.get(row.certification_id)
            if kept is None or not kept.is_assigned:
                self.tables.unmatched[row.certification_id] = row

    async def forget_unmatched(self, certification_ids: Sequence[int]) -> None:
        for cid in certification_ids:
            if cid in self.tables.unmatched and not self.tables.unmatched[cid].is_assigned:
                del self.tables.unmatched[cid]

    async def unmatched_rows(
        self, *, uai: str | None = None, session_id: str | None = None
    ) -> list[UnmatchedRow]:
        return [
            r
            for _, r in sorted(self.tables.unmatched.items())
            if (uai is None or r.uai == uai)
            and (session_id is None or session_id in (r.session_id, r.assigned_session_id))
        ]

    async def unmatched_row(self, certification_id: int, *, lock: bool = False) -> UnmatchedRow | None:
        return self.tables.unmatched.get(certification_id)

    async def assign_unmatched(
        self, certification_id: int, session_id: str, candidate_id: str, at: datetime, by: str | None
    ) -> None:
        self.tables.unmatched[certification_id] = replace(
            self.tables.unmatched[certification_id],
            assigned_session_id=session_id,
            assigned_candidate_id=candidate_id,
            assigned_at=at,
            assigned_by=by,
        )

    async def waiting_rows_of(self, session_id: str) -> int:
        return sum(r.session_id == session_id and not r.is_assigned for r in self.tables.unmatched.values())

    async def finalisation(self, session_id: str, *, lock: bool = False) -> RecordedFinalisation | None:
        return self.tables.finalisations.get(session_id)

    async def finalisations(self, uai: str | None = None) -> list[RecordedFinalisation]:
        return [
            f for _, f in sorted(self.tables.finalisations.items()) if uai is None or f.payload["uai"] == uai
        ]

    async def lock_finalisations(self, session_ids: Sequence[str]) -> None:
        pass

    async def session_results(self, session_ids: Sequence[str]) -> dict[str, dict[str, dict[str, Any]]]:
        results = self.tables.results
        return {sid: dict(results[sid]) for sid in session_ids if results.get(sid)}

    async def replace_results(self, changes: Mapping[str, Mapping[str, dict[str, Any]]]) -> None:
        for sid, by_candidate in changes.items():
            self.tables.results.setdefault(sid, {}).update(by_candidate)

    async def record_imports(self, imports: Sequence[ResultsImport]) -> None:
        self.tables.imports.extend(imports)

    async def unfinalised_sessions_up_to(self, last_date: date) -> list[ScheduledSession]:
        t = self.tables
        return sorted(
            (
                s
                for s in t.sessions.values()
                if s.session_date <= last_date
                and not s.is_cancelled
                and s.session_id not in t.finalisations
                and s.session_id not in t.overdue_notices
            ),
            key=lambda s: (s.session_date, s.session_id),
        )

    async def insert_overdue_notice(self, session_id: str, due_at: datetime, detected_at: datetime) -> bool:
        if session_id in self.tables.overdue_notices:
            return False
        self.tables.overdue_notices[session_id] = due_at
        return True


@dataclass
class FakeUnitOfWork:
    store: InMemoryStore
    emitted: list[Event] = field(default_factory=list)

    async def emit(self, event: Event) -> None:
        self.emitted.append(event)

    async def emit_many(self, events: Sequence[Event]) -> None:
        self.emitted.extend(events)


class InMemoryFinalisation:
    """The service's state in memory, what it published, and the use cases' dependencies on it."""

    def __init__(self, now: datetime = T0) -> None:
        self.store = InMemoryStore()
        self.published: list[Event] = []
        self.now = now
        self.commits = 0

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[FakeUnitOfWork]:
        before = copy.deepcopy(self.store.tables)
        uow = FakeUnitOfWork(self.store)
        try:
            yield uow
        except BaseException:
            self.store.tables = before
            raise
        self.commits += 1
        self.published.extend(uow.emitted)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[InMemoryStore]:
        yield self.store

    def dependencies(self) -> Dependencies:
        return Dependencies(
            begin=self.begin,
            read=self.read,
            now=lambda: self.now,
            verify_password=fake_verify,
            token_secret=SECRET,
            token_ttl=timedelta(minutes=240),
            results_max_bytes=1_000_000,
        )

    def published_of(self, event_cls: type[Event]) -> list[Any]:
        return [e for e in self.published if isinstance(e, event_cls)]

    # ---- what the scheduler's events would have put in the read models ----

    def seed(
        self,
        candidates: list[EnrolledCandidate],
        *,
        session_id: str = "sess-1",
        session_number: int = 4242,
        session_date: date = SESSION_DATE,
        uai: str = "0750001A",
        password: str = PASSWORD,
    ) -> ScheduledSession:
        session = ScheduledSession(
            session_id=session_id,
            session_number=session_number,
            uai=uai,
            certification_center="Collège Test",
            session_date=session_date,
            session_time="09:00",
            invigilator_password_hash=f"fake${password}",
            address="1 rue de l'École",
            room="Salle 12",
            examiners=["M. Surveillant"],
        )
        self.store.tables.sessions[session_id] = session
        for candidate in candidates:
            self.store.tables.candidates[session_id, candidate.candidate_id] = (candidate, None)
        return session

    def cancel(self, session_id: str, at: datetime = T0) -> None:
        sessions = self.store.tables.sessions
        sessions[session_id] = replace(sessions[session_id], cancelled_at=at)

    def unenrol(self, session_id: str, candidate_id: str, at: datetime = T0) -> None:
        candidate, _ = self.store.tables.candidates[session_id, candidate_id]
        self.store.tables.candidates[session_id, candidate_id] = (candidate, at)

    def seat_state(self, session_id: str, candidate_id: str) -> TestState | None:
        seat = self.store.tables.seats.get((session_id, candidate_id))
        return seat.test_state if seat else None
