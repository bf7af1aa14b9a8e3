"""What the scheduler does when eligibility or finalisation events arrive.

Eligibility events feed the learners read model (who is in which class, who is certifiable) that
planning and enrolment read; every handler is an upsert of the latest snapshot, so a replayed or
re-sent event changes nothing. SessionStarted (raised by finalisation with the first test start)
locks a session against edits, deletion and enrolment changes; SessionFinalised locks it too, from
its earliest candidate start, so either order of arrival ends with the same earliest start.
"""

from __future__ import annotations

import uuid

import structlog

from services.scheduler.store import SchedulerStore
from shared.contracts.envelope import Envelope
from shared.contracts.events import (
    CertifiabilityAssessed,
    LearnerDeactivated,
    LearnerRegistered,
    LearnerUpdated,
    SessionFinalised,
    SessionStarted,
)
from shared.outbox import UnitOfWork

log = structlog.get_logger(__name__)


async def on_learner_registered(uow: UnitOfWork, event: LearnerRegistered, envelope: Envelope) -> None:
    await _upsert_learner(uow, event, active=True, envelope=envelope)


async def on_learner_updated(uow: UnitOfWork, event: LearnerUpdated, envelope: Envelope) -> None:
    await _upsert_learner(uow, event, active=event.active, envelope=envelope)


async def _upsert_learner(
    uow: UnitOfWork, event: LearnerRegistered | LearnerUpdated, *, active: bool, envelope: Envelope
) -> None:
    await SchedulerStore(uow.conn).upsert_learner(
        learner_id=event.learner_id,
        uai=event.uai.upper(),
        ine=event.ine,
        first_name=event.first_name,
        last_name=event.last_name,
        birthdate=event.birthdate,
        division=event.division,
        active=active,
        at=envelope.time,
    )


async def on_learner_deactivated(uow: UnitOfWork, event: LearnerDeactivated, envelope: Envelope) -> None:
    await SchedulerStore(uow.conn).deactivate_learner(event.learner_id, event.deactivated_at)


async def on_certifiability_assessed(
    uow: UnitOfWork, event: CertifiabilityAssessed, envelope: Envelope
) -> None:
    await SchedulerStore(uow.conn).upsert_certifiability(
        learner_id=event.learner_id,
        uai=event.uai.upper(),
        status=event.status,
        certifiable_competences=event.certifiable_competences,
        assessed_at=event.assessed_at,
    )


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
    if not await SchedulerStore(uow.conn).mark_finalised(
        session_id, started_at=started_at, finalised_at=event.finalised_at
    ):
        log.info("finalised session unknown to this scheduler; ignored")
