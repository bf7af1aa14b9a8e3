"""Scheduler events → the finalisation read models (sessions and their enrolled candidates).

Every handler is an upsert of the latest snapshot, so a replay or a late duplicate is harmless.
Candidates whose test started stay in the room even if unenrolled afterwards (see FinalisationStore.load_room):
the scheduler cannot take back a test that happened. Candidates enrolled after the first start (Pix
allows SCO enrolment until finalisation) join the room like any other; a CandidateUpdated (extra
time corrected) upserts the candidate as an enrolment does.

Two forms of each: the per-event handlers (``on_…``: one event, one statement set) define what an
event does; the batch handlers (``apply_…``), which the service's consumer uses, apply a
partition's consecutive events of one type with one set-based statement and must leave exactly the
state the per-event handlers leave when given the same events one after the other
(tests/integration/finalisation/test_finalisation_batch_handlers.py compares the two on real
Kafka and PostgreSQL; tests/benchmarks/bench_finalisation_consumer.py times them).
"""

from __future__ import annotations

from collections.abc import Sequence

import structlog

from services.finalisation.store import FinalisationStore
from shared.consumer import BatchHandler, Delivery, Handler
from shared.contracts.envelope import Envelope
from shared.contracts.events import (
    CandidatesEnrolled,
    CandidateUnenrolled,
    CandidateUpdated,
    Event,
    SessionCancelled,
    SessionCreated,
    SessionCreatedV1,
    SessionUpdated,
    SessionUpdatedV1,
)
from shared.outbox import UnitOfWork

log = structlog.get_logger(__name__)


async def on_session_created(
    uow: UnitOfWork, event: SessionCreated | SessionCreatedV1, envelope: Envelope
) -> None:
    await FinalisationStore(uow.conn).upsert_session(event, event.created_at)


async def on_session_updated(
    uow: UnitOfWork, event: SessionUpdated | SessionUpdatedV1, envelope: Envelope
) -> None:
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


async def on_candidate_updated(uow: UnitOfWork, event: CandidateUpdated, envelope: Envelope) -> None:
    await FinalisationStore(uow.conn).upsert_candidates(event.session_id, [event.candidate])


# ---- batch handlers: consecutive events of one type, one statement ---------------------------------


async def apply_sessions_created(uow: UnitOfWork, deliveries: Sequence[Delivery]) -> None:
    await FinalisationStore(uow.conn).upsert_sessions([(d.event, d.event.created_at) for d in deliveries])


async def apply_sessions_updated(uow: UnitOfWork, deliveries: Sequence[Delivery]) -> None:
    await FinalisationStore(uow.conn).upsert_sessions([(d.event, d.event.updated_at) for d in deliveries])


async def apply_sessions_cancelled(uow: UnitOfWork, deliveries: Sequence[Delivery]) -> None:
    await FinalisationStore(uow.conn).cancel_sessions(
        [(d.event.session_id, d.event.reason, d.event.cancelled_at) for d in deliveries]
    )


async def apply_candidates_enrolled(uow: UnitOfWork, deliveries: Sequence[Delivery]) -> None:
    await FinalisationStore(uow.conn).enrol_candidates(
        [(d.event.session_id, d.event.candidates) for d in deliveries]
    )
    log.info(
        "candidates enrolled",
        enrolments=len(deliveries),
        count=sum(len(d.event.candidates) for d in deliveries),
    )


async def apply_candidates_unenrolled(uow: UnitOfWork, deliveries: Sequence[Delivery]) -> None:
    await FinalisationStore(uow.conn).unenrol_candidates(
        [(d.event.session_id, d.event.candidate_id, d.event.unenrolled_at) for d in deliveries]
    )


async def apply_candidates_updated(uow: UnitOfWork, deliveries: Sequence[Delivery]) -> None:
    await FinalisationStore(uow.conn).enrol_candidates(
        [(d.event.session_id, [d.event.candidate]) for d in deliveries]
    )


#: what each scheduler event does, one event at a time: the reference the batch handlers are held to
PER_EVENT_HANDLERS: dict[type[Event], Handler] = {
    SessionCreated: on_session_created,
    SessionUpdated: on_session_updated,
    SessionCreatedV1: on_session_created,  # records written before v2 (a replay reads them)
    SessionUpdatedV1: on_session_updated,
    SessionCancelled: on_session_cancelled,
    CandidatesEnrolled: on_candidates_enrolled,
    CandidateUnenrolled: on_candidate_unenrolled,
    CandidateUpdated: on_candidate_updated,
}
#: the same effects, set-based, for a partition's consecutive events of one type (what the service runs)
BATCH_HANDLERS: dict[type[Event], BatchHandler] = {
    SessionCreated: apply_sessions_created,
    SessionUpdated: apply_sessions_updated,
    SessionCreatedV1: apply_sessions_created,
    SessionUpdatedV1: apply_sessions_updated,
    SessionCancelled: apply_sessions_cancelled,
    CandidatesEnrolled: apply_candidates_enrolled,
    CandidateUnenrolled: apply_candidates_unenrolled,
    CandidateUpdated: apply_candidates_updated,
}
