"""What the scheduler does when eligibility or finalisation events arrive.

Eligibility events feed the learners read model (who is in which class, who is certifiable) that
planning and enrolment read; every handler is an upsert of the latest snapshot, so a replayed or
re-sent event changes nothing. They are batch handlers: a partition's run of events of one type is
folded in Python to what applying them one by one would leave (one row per learner) and written
with one set-based statement; a run of one is the per-event case. SessionStarted (raised by finalisation with the first test start)
locks a session against edits, deletion and enrolment changes; SessionFinalised locks it too, from
its earliest candidate start, so either order of arrival ends with the same earliest start, and
records each candidate's outcome: the absent and aborted are released (free to enrol again, in a
catch-up session). ResultsProcessed and LivretExportProduced date the last lifecycle steps
(domain/lifecycle.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

import structlog

from services.scheduler.domain.lifecycle import outcome_of
from services.scheduler.store import CertifiabilityRow, LearnerSnapshotRow, SchedulerStore
from shared.consumer import Delivery, EventConsumer
from shared.contracts.envelope import Envelope
from shared.contracts.events import (
    CertifiabilityAssessed,
    LearnerDeactivated,
    LearnerRegistered,
    LearnerUpdated,
    LivretExportProduced,
    ResultsProcessed,
    SessionFinalised,
    SessionStarted,
)
from shared.outbox import UnitOfWork

log = structlog.get_logger(__name__)


async def apply_learner_snapshots(uow: UnitOfWork, deliveries: Sequence[Delivery]) -> None:
    """LearnerRegistered / LearnerUpdated of one run: the latest snapshot per learner, one statement."""
    await SchedulerStore(uow.conn).upsert_learners(latest_snapshots(deliveries))


def latest_snapshots(deliveries: Sequence[Delivery]) -> list[LearnerSnapshotRow]:
    """What applying the snapshots one after the other leaves, one row per learner.

    The last snapshot wins, with the time of the first of its trailing repeats (a repeat changes
    nothing); when the run held a different snapshot before it, the row is written even if the
    stored one equals it, as the events one at a time would have (changed, then changed back).
    """
    latest: dict[str, LearnerSnapshotRow] = {}
    for event, envelope in deliveries:
        row = LearnerSnapshotRow(
            learner_id=event.learner_id,
            uai=event.uai.upper(),
            ine=event.ine,
            first_name=event.first_name,
            last_name=event.last_name,
            birthdate=event.birthdate,
            division=event.division,
            active=event.active if isinstance(event, LearnerUpdated) else True,
            at=envelope.time,
            mef_code=event.mef_code or None,
        )
        previous = latest.get(row.learner_id)
        if previous is None:
            latest[row.learner_id] = row
        elif previous.fields() != row.fields():
            latest[row.learner_id] = replace(row, changed_in_run=True)
    return list(latest.values())


async def apply_deactivations(uow: UnitOfWork, deliveries: Sequence[Delivery]) -> None:
    """LearnerDeactivated of one run: the first one per learner counts (the others find it inactive)."""
    first: dict[str, datetime] = {}
    for event, _ in deliveries:
        first.setdefault(event.learner_id, event.deactivated_at)
    await SchedulerStore(uow.conn).deactivate_learners(first)


async def apply_assessments(uow: UnitOfWork, deliveries: Sequence[Delivery]) -> None:
    """CertifiabilityAssessed of one run: per learner the most recent (the last of equal times) wins."""
    latest: dict[str, CertifiabilityRow] = {}
    for event, _ in deliveries:
        previous = latest.get(event.learner_id)
        if previous is None or previous.assessed_at <= event.assessed_at:
            latest[event.learner_id] = CertifiabilityRow(
                learner_id=event.learner_id,
                uai=event.uai.upper(),
                status=event.status,
                certifiable_competences=event.certifiable_competences,
                assessed_at=event.assessed_at,
            )
    await SchedulerStore(uow.conn).upsert_certifiabilities(list(latest.values()))


async def on_learner_registered(uow: UnitOfWork, event: LearnerRegistered, envelope: Envelope) -> None:
    """One event alone (what the consumer does for a retried record): the same as a run of one."""
    await apply_learner_snapshots(uow, [Delivery(event, envelope)])


async def on_learner_updated(uow: UnitOfWork, event: LearnerUpdated, envelope: Envelope) -> None:
    await apply_learner_snapshots(uow, [Delivery(event, envelope)])


async def on_learner_deactivated(uow: UnitOfWork, event: LearnerDeactivated, envelope: Envelope) -> None:
    await apply_deactivations(uow, [Delivery(event, envelope)])


async def on_certifiability_assessed(
    uow: UnitOfWork, event: CertifiabilityAssessed, envelope: Envelope
) -> None:
    await apply_assessments(uow, [Delivery(event, envelope)])


def handle_learner_events(consumer: EventConsumer) -> None:
    """Register the learners read model's batch handlers on ``consumer`` (each also serves a run of one)."""
    consumer.on_batch(LearnerRegistered, apply_learner_snapshots)
    consumer.on_batch(LearnerUpdated, apply_learner_snapshots)
    consumer.on_batch(LearnerDeactivated, apply_deactivations)
    consumer.on_batch(CertifiabilityAssessed, apply_assessments)


async def on_session_started(uow: UnitOfWork, event: SessionStarted, envelope: Envelope) -> None:
    """Lock the session: a test has started, so no more edit, deletion or enrolment change."""
    try:
        session_id = uuid.UUID(event.session_id)
    except ValueError:
        return  # not one of ours (another organiser's session id on the shared topic)
    if not await SchedulerStore(uow.conn).mark_started(session_id, event.started_at):
        log.info("started session unknown to this scheduler; ignored")


async def on_session_finalised(uow: UnitOfWork, event: SessionFinalised, envelope: Envelope) -> None:
    """Lock the session: no edit, deletion or enrolment once finalised (tests have run)."""
    try:
        session_id = uuid.UUID(event.session_id)
    except ValueError:
        return  # not one of ours (another organiser's session id on the shared topic)
    starts = [c.started_at for c in event.candidates if c.started_at is not None]
    started_at = min(starts) if starts else event.finalised_at
    store = SchedulerStore(uow.conn)
    if not await store.mark_finalised(session_id, started_at=started_at, finalised_at=event.finalised_at):
        log.info("finalised session unknown to this scheduler; ignored")
        return
    outcomes = {
        c.candidate_id: outcome_of(present=c.present, abort_reason=c.abort_reason) for c in event.candidates
    }
    released = await store.record_outcomes(session_id, outcomes, event.finalised_at)
    log.info("session finalised", candidates=len(outcomes), released=released)


async def on_results_processed(uow: UnitOfWork, event: ResultsProcessed, envelope: Envelope) -> None:
    """Pix's results for the session arrived: the session is "results received"."""
    try:
        session_id = uuid.UUID(event.session_id)
    except ValueError:
        return  # not one of ours
    if not await SchedulerStore(uow.conn).mark_results_received(session_id, event.processed_at):
        log.info("results for a session unknown to this scheduler; ignored")


async def on_livret_export_produced(uow: UnitOfWork, event: LivretExportProduced, envelope: Envelope) -> None:
    """A livret of the school was produced: its sessions with results by then are "exported"."""
    await SchedulerStore(uow.conn).mark_exported(event.uai.upper(), event.produced_at)
