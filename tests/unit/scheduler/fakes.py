"""An in-memory twin of the scheduler's store and unit of work, for use-case tests without a database.

``InMemoryScheduler.begin`` is what the use cases take: a transaction on a copy of the state that
replaces it on success and is dropped on an exception (so "a refusal leaves no trace" can be
asserted), with the events emitted in committed transactions in ``events``. Every method mirrors
the SQL of services/scheduler/store.py (same filters and ordering); the component tests keep
proving the SQL itself.
"""

from __future__ import annotations

import copy
import itertools
import uuid
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from services.scheduler.domain.enrolment import Candidate, Learner
from services.scheduler.domain.planner import Room
from services.scheduler.domain.plans import PlanProposal
from services.scheduler.domain.sessions import Session
from services.scheduler.store import (
    CandidateRow,
    ClassCount,
    IssuedDocument,
    LearnerRow,
    PlanRow,
    SchoolRow,
    SessionRow,
    StaffRow,
)
from shared.contracts.events import Event


@dataclass
class _Learner:
    learner_id: str
    uai: str
    ine: str | None
    first_name: str
    last_name: str
    birthdate: date
    division: str
    active: bool
    mef_code: str | None = None


@dataclass
class State:
    schools: dict[str, SchoolRow] = field(default_factory=dict)
    learners: dict[str, _Learner] = field(default_factory=dict)
    #: learner id → certifiability status ("certifiable", "not_certifiable")
    certifiability: dict[str, str] = field(default_factory=dict)
    plans: dict[uuid.UUID, PlanRow] = field(default_factory=dict)
    #: (uai, Idempotency-Key) → the plan stored under it and its request's fingerprint
    plan_keys: dict[tuple[str, str], tuple[uuid.UUID, str | None]] = field(default_factory=dict)
    sessions: dict[uuid.UUID, SessionRow] = field(default_factory=dict)
    #: session id → candidate id → row
    candidates: dict[uuid.UUID, dict[uuid.UUID, CandidateRow]] = field(default_factory=dict)
    #: candidates released at finalisation (absent, aborted): they hold no learner (released_at)
    released: set[uuid.UUID] = field(default_factory=set)
    documents: list[tuple[uuid.UUID | None, IssuedDocument]] = field(default_factory=list)
    #: key → (inputs digest, content)
    rendered: dict[str, tuple[str, bytes]] = field(default_factory=dict)


class InMemoryStore:
    """The SchedulerStore's methods over a ``State``."""

    def __init__(self, state: State, numbers: Iterable[int], locks_held: set[str] | None = None) -> None:
        self.state = state
        self._numbers = iter(numbers)
        #: the schools locked by some open transaction, and those this one locked
        self.locks_held = locks_held if locks_held is not None else set()
        self.locked: set[str] = set()

    # ---- schools
    async def lock_school(self, uai: str) -> bool:
        """Held until the transaction ends, as ``SELECT … FOR UPDATE``."""
        if uai not in self.state.schools:
            return False
        self.locks_held.add(uai)
        self.locked.add(uai)
        return True

    async def get_school(self, uai: str) -> SchoolRow | None:
        return self.state.schools.get(uai)

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
        created = uai not in self.state.schools
        self.state.schools[uai] = SchoolRow(
            uai, name, level, city, site, copy.deepcopy(dict(hours)), tuple(rooms), tuple(staff), now
        )
        return created

    # ---- learners read model
    def _row(self, learner: _Learner) -> LearnerRow:
        return LearnerRow(
            Learner(
                id=learner.learner_id,
                school_id=learner.uai,
                last_name=learner.last_name,
                first_name=learner.first_name,
                birthdate=learner.birthdate,
                division=learner.division,
                certifiable=self.state.certifiability.get(learner.learner_id) == "certifiable",
            ),
            learner.ine,
            learner.active,
        )

    async def class_counts(self, uai: str) -> list[ClassCount]:
        counts: dict[str, list[int]] = {}
        for learner in self.state.learners.values():
            if learner.uai == uai and learner.active:
                entry = counts.setdefault(learner.division, [0, 0])
                entry[0] += 1
                entry[1] += self.state.certifiability.get(learner.learner_id) == "certifiable"
        return [ClassCount(d, n, c) for d, (n, c) in sorted(counts.items())]

    async def learners_of_class(self, uai: str, division: str) -> list[LearnerRow]:
        found = [
            x for x in self.state.learners.values() if x.uai == uai and x.division == division and x.active
        ]
        return [self._row(x) for x in sorted(found, key=lambda x: (x.last_name, x.first_name))]

    async def learners_by_id(self, ids: Iterable[str]) -> dict[str, LearnerRow]:
        return {i: self._row(self.state.learners[i]) for i in ids if i in self.state.learners}

    async def division_mef_counts(self, uai: str) -> dict[str, dict[str | None, int]]:
        counts: dict[str, dict[str | None, int]] = {}
        for x in sorted(self.state.learners.values(), key=lambda x: (x.division, x.mef_code or "")):
            if x.uai == uai and x.active:
                per_class = counts.setdefault(x.division, {})
                per_class[x.mef_code] = per_class.get(x.mef_code, 0) + 1
        return counts

    async def divisions(self, uai: str) -> list[str]:
        return sorted({x.division for x in self.state.learners.values() if x.uai == uai and x.active})

    def _live_learners(self) -> set[str]:
        return {
            c.candidate.learner_id
            for sid, rows in self.state.candidates.items()
            if self.state.sessions[sid].is_live
            for c in rows.values()
            if c.candidate_id not in self.state.released
        }

    async def plannable_learners(self, uai: str) -> dict[str, list[str]]:
        enrolled = self._live_learners()
        found = sorted(
            (
                x
                for x in self.state.learners.values()
                if x.uai == uai
                and x.active
                and self.state.certifiability.get(x.learner_id) == "certifiable"
                and x.learner_id not in enrolled
            ),
            key=lambda x: (x.division, x.last_name, x.first_name, x.learner_id),
        )
        classes: dict[str, list[str]] = {}
        for x in found:
            classes.setdefault(x.division, []).append(x.learner_id)
        return classes

    async def learners_in_other_live_sessions(
        self, learner_ids: Iterable[str], session_id: uuid.UUID
    ) -> dict[str, int]:
        wanted = set(learner_ids)
        return {
            c.candidate.learner_id: self.state.sessions[sid].session.number
            for sid, rows in self.state.candidates.items()
            if sid != session_id and self.state.sessions[sid].is_live
            for c in rows.values()
            if c.candidate.learner_id in wanted and c.candidate_id not in self.state.released
        }

    # ---- sessions
    async def next_session_number(self) -> int:
        return next(self._numbers)

    async def live_access_codes(self) -> set[str]:
        return {r.session.access_code for r in self.state.sessions.values() if r.is_live}

    def _sorted(self, rows: Iterable[SessionRow]) -> list[SessionRow]:
        return sorted(rows, key=lambda r: (r.session.day, r.session.time, r.session.number))

    async def live_sessions(self, uai: str) -> list[SessionRow]:
        return self._sorted(r for r in self.state.sessions.values() if r.uai == uai and r.is_live)

    async def school_sessions(
        self, uai: str, *, include_cancelled: bool = False, day: date | None = None
    ) -> list[SessionRow]:
        return self._sorted(
            r
            for r in self.state.sessions.values()
            if r.uai == uai and (include_cancelled or r.is_live) and (day is None or r.session.day == day)
        )

    async def get_session(self, session_id: uuid.UUID, *, for_update: bool = False) -> SessionRow | None:
        return self.state.sessions.get(session_id)

    async def insert_session(
        self,
        *,
        session_id: uuid.UUID,
        uai: str,
        session: Session,
        password_hash: str,
        plan_id: uuid.UUID | None,
        now: datetime,
    ) -> None:
        if session.access_code in await self.live_access_codes():
            raise AssertionError("sessions_live_access_code: a live session already has this code")
        self.state.sessions[session_id] = SessionRow(
            session_id, uai, "scheduled", password_hash, plan_id, None, now, now, session
        )
        self.state.candidates[session_id] = {}

    async def update_session(self, session_id: uuid.UUID, session: Session, now: datetime) -> None:
        row = self.state.sessions[session_id]
        self.state.sessions[session_id] = replace(
            row,
            session=replace(session, first_test_started_at=row.session.first_test_started_at),
            updated_at=now,
        )

    async def cancel_session(self, session_id: uuid.UUID, now: datetime) -> None:
        row = self.state.sessions[session_id]
        self.state.sessions[session_id] = replace(row, status="cancelled", updated_at=now)

    async def mark_started(self, session_id: uuid.UUID, started_at: datetime) -> bool:
        row = self.state.sessions.get(session_id)
        if row is None:
            return False
        first = row.session.first_test_started_at
        started = started_at if first is None else min(first, started_at)
        self.state.sessions[session_id] = replace(
            row, session=replace(row.session, first_test_started_at=started)
        )
        return True

    # ---- lifecycle (store_lifecycle.py): what the use cases call
    async def mark_convoked(self, session_id: uuid.UUID, at: datetime) -> None:
        row = self.state.sessions[session_id]
        if row.lifecycle.convoked_at is None:
            self.state.sessions[session_id] = replace(row, lifecycle=replace(row.lifecycle, convoked_at=at))

    async def correct_candidate(
        self,
        session_id: uuid.UUID,
        candidate_id: uuid.UUID,
        *,
        extra_time_percentage: int,
        adapted_conditions: str | None,
    ) -> None:
        row = self.state.candidates[session_id][candidate_id]
        changed = replace(
            row.candidate, extra_time_percentage=extra_time_percentage, adapted_conditions=adapted_conditions
        )
        self.state.candidates[session_id][candidate_id] = replace(row, candidate=changed)

    # ---- candidates
    async def candidates(self, session_id: uuid.UUID) -> list[CandidateRow]:
        rows = self.state.candidates.get(session_id, {}).values()
        return sorted(
            rows, key=lambda c: (c.candidate.last_name, c.candidate.first_name, c.candidate.birthdate)
        )

    async def candidate_counts(self, session_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
        return {sid: len(self.state.candidates[sid]) for sid in session_ids if self.state.candidates.get(sid)}

    async def insert_candidates(
        self,
        session_id: uuid.UUID,
        enrolled: Sequence[tuple[uuid.UUID, str | None, Candidate]],
        now: datetime,
    ) -> None:
        rows = self.state.candidates[session_id]
        for candidate_id, ine, c in enrolled:
            if any(r.candidate.learner_id == c.learner_id for r in rows.values()):
                raise AssertionError("UNIQUE (session_id, learner_id)")
            rows[candidate_id] = CandidateRow(candidate_id, ine, now, c)

    async def delete_candidate(self, session_id: uuid.UUID, candidate_id: uuid.UUID) -> str | None:
        row = self.state.candidates.get(session_id, {}).pop(candidate_id, None)
        return None if row is None else row.candidate.learner_id

    # ---- plans
    async def insert_plan(
        self,
        *,
        plan_id: uuid.UUID,
        uai: str,
        school_year: str,
        status: str,
        proposal: PlanProposal,
        now: datetime,
        idempotency_key: str | None = None,
        request_fingerprint: str | None = None,
    ) -> bool:
        if idempotency_key is not None and (uai, idempotency_key) in self.state.plan_keys:
            return False  # ON CONFLICT (uai, idempotency_key) DO NOTHING
        # through the stored JSON, as the real store does
        stored = PlanProposal.from_json(proposal.to_json())
        self.state.plans[plan_id] = PlanRow(plan_id, uai, school_year, status, stored, now, None)
        if idempotency_key is not None:
            self.state.plan_keys[uai, idempotency_key] = (plan_id, request_fingerprint)
        return True

    async def plan_for_key(self, uai: str, idempotency_key: str) -> tuple[PlanRow, str | None] | None:
        found = self.state.plan_keys.get((uai, idempotency_key))
        return (self.state.plans[found[0]], found[1]) if found else None

    async def get_plan(self, plan_id: uuid.UUID, *, for_update: bool = False) -> PlanRow | None:
        return self.state.plans.get(plan_id)

    async def confirm_plan(self, plan_id: uuid.UUID, now: datetime) -> None:
        self.state.plans[plan_id] = replace(self.state.plans[plan_id], status="confirmed", confirmed_at=now)

    # ---- documents
    async def insert_document(
        self,
        *,
        session_id: uuid.UUID | None,
        uai: str,
        kind: str,
        file_name: str,
        sha256: str,
        size_bytes: int,
        candidate_ids: Sequence[uuid.UUID],
        now: datetime,
    ) -> uuid.UUID:
        document = IssuedDocument(kind, file_name, sha256, size_bytes, tuple(candidate_ids), now)
        self.state.documents.append((session_id, document))
        return uuid.uuid4()

    async def rendered(self, key: str, inputs_sha256: str) -> bytes | None:
        kept = self.state.rendered.get(key)
        return kept[1] if kept and kept[0] == inputs_sha256 else None

    async def keep_rendered(self, key: str, inputs_sha256: str, content: bytes) -> None:
        self.state.rendered[key] = (inputs_sha256, content)

    async def session_documents(self, session_id: uuid.UUID) -> list[IssuedDocument]:
        return sorted((d for sid, d in self.state.documents if sid == session_id), key=lambda d: d.issued_at)


@dataclass
class FakeUnitOfWork:
    store: InMemoryStore
    events: list[Event] = field(default_factory=list)

    async def emit(self, event: Event) -> None:
        if event.source_service != "scheduler":
            raise ValueError(f"the scheduler cannot raise {event.event_type}")
        self.events.append(event)


class InMemoryScheduler:
    """The committed state, the events of committed transactions, and ``begin`` for the use cases."""

    def __init__(self) -> None:
        self.state = State()
        self.events: list[Event] = []
        self.commits = 0
        self._numbers = itertools.count(1)
        #: schools locked by an open transaction (``lock_school``), released when it ends
        self.school_locks_held: set[str] = set()

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[FakeUnitOfWork]:
        working = copy.deepcopy(self.state)
        store = InMemoryStore(working, self._numbers, self.school_locks_held)
        uow = FakeUnitOfWork(store)
        try:
            yield uow  # an exception propagates: the working copy and its events are dropped
        finally:
            self.school_locks_held -= store.locked
        self.state = working
        self.events += uow.events
        self.commits += 1

    def emitted(self, event_type: type[Event]) -> list[Any]:
        return [e for e in self.events if isinstance(e, event_type)]

    # ---- what eligibility's events would have put in the read model
    def add_learner(
        self,
        uai: str,
        division: str,
        learner_id: str,
        *,
        certifiable: bool = True,
        active: bool = True,
        last_name: str | None = None,
        birthdate: date = date(2008, 5, 17),
        mef_code: str | None = None,
    ) -> str:
        self.state.learners[learner_id] = _Learner(
            learner_id,
            uai,
            f"{abs(hash(learner_id)) % 10**9:09d}AB",
            "Zoé",
            last_name or f"Nom-{learner_id}",
            birthdate,
            division,
            active,
            mef_code,
        )
        self.state.certifiability[learner_id] = "certifiable" if certifiable else "not_certifiable"
        return learner_id

    def add_class(self, uai: str, division: str, size: int, **kwargs: Any) -> list[str]:
        return [
            self.add_learner(
                uai, division, f"{division}-{i:03d}", birthdate=date(2008, 1 + i % 12, 1 + i % 28), **kwargs
            )
            for i in range(size)
        ]
