"""The read models: sessions, from the scheduler's events (never from its tables); the remediation
list, from the service's own RemediationRequested and CertifiabilityAssessed (store_remediation.py).

Every handler is an upsert of the latest snapshot, so a replay or a redelivery with a new id
leaves the same rows; events about sessions we never saw created are still applied. Sessions'
details and enrolments (one CandidatesEnrolled per enrolment command, many candidates each) are
batch handlers: a partition's run of them is folded to one row per session / candidate and written
with one set-based statement; a run of one is the per-event case.
"""

from __future__ import annotations

from collections.abc import Sequence

from services.eligibility.store import CandidateRow, EligibilityStore, SessionRow
from services.eligibility.store_remediation import RemediationItem, RemediationStore
from shared.consumer import Delivery, EventConsumer
from shared.contracts.envelope import Envelope
from shared.contracts.events import (
    CandidatesEnrolled,
    CandidateUnenrolled,
    CertifiabilityAssessed,
    RemediationRequested,
    SessionCancelled,
    SessionCreated,
    SessionCreatedV1,
    SessionUpdated,
    SessionUpdatedV1,
)
from shared.contracts.topics import ELIGIBILITY, SCHEDULER
from shared.outbox import UnitOfWork
from shared.service import Runtime


async def apply_session_details(uow: UnitOfWork, deliveries: Sequence[Delivery]) -> None:
    """SessionCreated / SessionUpdated of one run: the last one per session wins, one statement.

    A new date means a new due date, hence a new one-month check (the old one stays recorded).
    """
    latest: dict[str, SessionRow] = {}
    for event, _ in deliveries:
        at = event.created_at if isinstance(event, SessionCreated | SessionCreatedV1) else event.updated_at
        latest[event.session_id] = SessionRow(event.session_id, event.uai, event.date, event.time, at)
    await EligibilityStore(uow.conn).upsert_sessions(list(latest.values()))


async def on_session_created(uow: UnitOfWork, event: SessionCreated, envelope: Envelope) -> None:
    """One event alone: the same as a run of one."""
    await apply_session_details(uow, [Delivery(event, envelope)])


async def on_session_updated(uow: UnitOfWork, event: SessionUpdated, envelope: Envelope) -> None:
    await apply_session_details(uow, [Delivery(event, envelope)])


async def on_session_cancelled(uow: UnitOfWork, event: SessionCancelled, envelope: Envelope) -> None:
    await EligibilityStore(uow.conn).cancel_session(event.session_id, event.uai, event.cancelled_at)


async def apply_enrolments(uow: UnitOfWork, deliveries: Sequence[Delivery]) -> None:
    """CandidatesEnrolled of one run: every candidate of every event, the last enrolment of each
    (session, candidate) winning, in one statement."""
    latest: dict[tuple[str, str], CandidateRow] = {}
    for event, _ in deliveries:
        for c in event.candidates:
            latest[event.session_id, c.candidate_id] = CandidateRow(
                event.session_id, c.candidate_id, c.learner_id, c.division
            )
    await EligibilityStore(uow.conn).upsert_candidates(list(latest.values()))


async def on_candidates_enrolled(uow: UnitOfWork, event: CandidatesEnrolled, envelope: Envelope) -> None:
    await apply_enrolments(uow, [Delivery(event, envelope)])


async def on_candidate_unenrolled(uow: UnitOfWork, event: CandidateUnenrolled, envelope: Envelope) -> None:
    await EligibilityStore(uow.conn).remove_candidate(event.session_id, event.candidate_id)


def handle_session_events(consumer: EventConsumer) -> None:
    """Register the sessions read model's handlers on ``consumer`` (batch ones serve a run of one too)."""
    consumer.on_batch(SessionCreated, apply_session_details)
    consumer.on_batch(SessionUpdated, apply_session_details)
    # records written before v2 (a replay from the start reads them)
    consumer.on_batch(SessionCreatedV1, apply_session_details)
    consumer.on_batch(SessionUpdatedV1, apply_session_details)
    consumer.on(SessionCancelled, on_session_cancelled)
    consumer.on_batch(CandidatesEnrolled, apply_enrolments)
    consumer.on(CandidateUnenrolled, on_candidate_unenrolled)


async def on_remediation_requested(uow: UnitOfWork, event: RemediationRequested, envelope: Envelope) -> None:
    """Each student of the check becomes an item of the list (resolved at once if an assessment
    already read made them certifiable after the request)."""
    items = [
        RemediationItem(
            session_id=event.session_id,
            due_date=event.due_date,
            learner_id=m.learner_id,
            uai=event.uai,
            division=m.division,
            session_date=event.session_date,
            status=m.status,
            certifiable_count=m.certifiable_competences,
            competences_needed=m.competences_needed,
            zero_level=tuple(m.competences_at_level_zero),
            requested_at=event.requested_at,
        )
        for m in event.learners
    ]
    await RemediationStore(uow.conn).record_requests(items)


async def apply_assessments(uow: UnitOfWork, deliveries: Sequence[Delivery]) -> None:
    """CertifiabilityAssessed of one run: the certifiable ones resolve the items before them."""
    certifiable = [
        (event.learner_id, event.assessed_at) for event, _ in deliveries if event.status == "certifiable"
    ]
    await RemediationStore(uow.conn).record_certifiable(certifiable)


def wire(runtime: Runtime) -> None:
    # Parallel partitions: scheduler events are keyed by session id, and these handlers write only
    # that session's rows (sessions, session_candidates), so two partitions never touch one row.
    handle_session_events(runtime.consumer("sessions", SCHEDULER, parallel_partitions=True))
    # Sequential: a request (keyed by session) and an assessment (keyed by learner) touch one item.
    remediations = runtime.consumer("remediations", ELIGIBILITY)
    remediations.on(RemediationRequested, on_remediation_requested)
    remediations.on_batch(CertifiabilityAssessed, apply_assessments)
