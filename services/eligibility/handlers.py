"""The sessions read model, built only from the scheduler's events (never from its tables).

Every handler is an upsert of the latest snapshot, so a replay or a redelivery with a new id
leaves the same rows; events about sessions we never saw created are still applied.
"""

from __future__ import annotations

from services.eligibility.store import EligibilityStore
from shared.contracts.envelope import Envelope
from shared.contracts.events import (
    CandidatesEnrolled,
    CandidateUnenrolled,
    SessionCancelled,
    SessionCreated,
    SessionUpdated,
)
from shared.contracts.topics import SCHEDULER
from shared.outbox import UnitOfWork
from shared.service import Runtime


async def on_session_created(uow: UnitOfWork, event: SessionCreated, envelope: Envelope) -> None:
    await EligibilityStore(uow.conn).upsert_session(
        event.session_id, event.uai, event.date, event.time, event.created_at
    )


async def on_session_updated(uow: UnitOfWork, event: SessionUpdated, envelope: Envelope) -> None:
    """A new date means a new due date, hence a new one-month check (the old one stays recorded)."""
    await EligibilityStore(uow.conn).upsert_session(
        event.session_id, event.uai, event.date, event.time, event.updated_at
    )


async def on_session_cancelled(uow: UnitOfWork, event: SessionCancelled, envelope: Envelope) -> None:
    await EligibilityStore(uow.conn).cancel_session(event.session_id, event.uai, event.cancelled_at)


async def on_candidates_enrolled(uow: UnitOfWork, event: CandidatesEnrolled, envelope: Envelope) -> None:
    await EligibilityStore(uow.conn).upsert_candidates(
        event.session_id,
        [(c.candidate_id, c.learner_id, c.division) for c in event.candidates],
    )


async def on_candidate_unenrolled(uow: UnitOfWork, event: CandidateUnenrolled, envelope: Envelope) -> None:
    await EligibilityStore(uow.conn).remove_candidate(event.session_id, event.candidate_id)


def wire(runtime: Runtime) -> None:
    sessions = runtime.consumer("sessions", SCHEDULER)
    sessions.on(SessionCreated, on_session_created)
    sessions.on(SessionUpdated, on_session_updated)
    sessions.on(SessionCancelled, on_session_cancelled)
    sessions.on(CandidatesEnrolled, on_candidates_enrolled)
    sessions.on(CandidateUnenrolled, on_candidate_unenrolled)
