"""Scheduler events → the finalisation read models (sessions and their enrolled candidates).

Every handler is an upsert of the latest snapshot, so a replay or a late duplicate is harmless.
Candidates whose test started stay in the room even if unenrolled afterwards (see FinalisationStore.load_room):
the scheduler cannot take back a test that happened.
"""

from __future__ import annotations

import structlog

from services.finalisation.store import FinalisationStore
from shared.contracts.envelope import Envelope
from shared.contracts.events import (
    CandidatesEnrolled,
    CandidateUnenrolled,
    SessionCancelled,
    SessionCreated,
    SessionUpdated,
)
from shared.outbox import UnitOfWork

log = structlog.get_logger(__name__)


async def on_session_created(uow: UnitOfWork, event: SessionCreated, envelope: Envelope) -> None:
    await FinalisationStore(uow.conn).upsert_session(event, event.created_at)


async def on_session_updated(uow: UnitOfWork, event: SessionUpdated, envelope: Envelope) -> None:
    await FinalisationStore(uow.conn).upsert_session(event, event.updated_at)


async def on_session_cancelled(uow: UnitOfWork, event: SessionCancelled, envelope: Envelope) -> None:
    await FinalisationStore(uow.conn).cancel_session(event.session_id, event.reason, event.cancelled_at)


async def on_candidates_enrolled(uow: UnitOfWork, event: CandidatesEnrolled, envelope: Envelope) -> None:
    await FinalisationStore(uow.conn).upsert_candidates(event.session_id, event.candidates)
    log.info("candidates enrolled", count=len(event.candidates))


async def on_candidate_unenrolled(uow: UnitOfWork, event: CandidateUnenrolled, envelope: Envelope) -> None:
    await FinalisationStore(uow.conn).unenrol_candidate(
        event.session_id, event.candidate_id, event.unenrolled_at
    )
