"""Event handlers of the académie view: the other services' events → its read model.

Every handler is a batch handler (``EventConsumer.on_batch``, ADR 0006): it gets the consecutive
fresh events of one type of one partition's run and applies them with one statement per table
(:mod:`services.academie.usecases.read_model`). One consumer group per upstream topic:

* ``roster`` (eligibility): learners and their certifiability, keyed by learner — its partitions
  are applied side by side (a learner's row is written from one partition only);
* ``sessions`` (scheduler): sessions, enrolments, convocations;
* ``progress`` (finalisation): first start, finalisation, overdue finalisation, results;
* ``files`` (export): the livret and class results files produced.

Events about schools nobody asks about are stored like the others: the view is the académie's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from services.academie.store import AcademieStore, StoreWork
from services.academie.usecases import read_model
from shared.consumer import BatchHandler, Delivery
from shared.contracts.events import (
    CandidatesEnrolled,
    CandidateUnenrolled,
    CertifiabilityAssessed,
    ClassResultsExported,
    ConvocationsIssued,
    Event,
    LearnerDeactivated,
    LearnerRegistered,
    LearnerUpdated,
    LivretExportProduced,
    ResultsProcessed,
    SessionCancelled,
    SessionCreated,
    SessionCreatedV1,
    SessionFinalisationOverdue,
    SessionFinalised,
    SessionStarted,
    SessionUpdated,
    SessionUpdatedV1,
)
from shared.contracts.topics import ELIGIBILITY, EXPORT, FINALISATION, SCHEDULER
from shared.erasure import handle_erasures, nothing_to_erase
from shared.outbox import UnitOfWork
from shared.service import Runtime


def batch(apply: Callable[[Any, list[Any]], Awaitable[None]]) -> BatchHandler:
    """A batch handler applying the run's events with ``apply(work, events)``."""

    async def handle(uow: UnitOfWork, deliveries: Sequence[Delivery]) -> None:
        await apply(StoreWork(uow, AcademieStore(uow.conn)), [d.event for d in deliveries])

    handle.__name__ = handle.__qualname__ = f"on_{apply.__name__}"
    return handle


ROSTER: dict[type[Event], BatchHandler] = {
    LearnerRegistered: batch(read_model.save_learners),
    LearnerUpdated: batch(read_model.save_learners),
    LearnerDeactivated: batch(read_model.deactivate_learners),
    CertifiabilityAssessed: batch(read_model.assess_learners),
}
SESSIONS: dict[type[Event], BatchHandler] = {
    SessionCreated: batch(read_model.save_sessions),
    SessionUpdated: batch(read_model.save_sessions),
    SessionCreatedV1: batch(read_model.save_sessions),  # records written before v2 (a replay reads them)
    SessionUpdatedV1: batch(read_model.save_sessions),
    SessionCancelled: batch(read_model.cancel_sessions),
    CandidatesEnrolled: batch(read_model.enrol_candidates),
    CandidateUnenrolled: batch(read_model.unenrol_candidates),
    ConvocationsIssued: batch(read_model.convocations_issued),
}
PROGRESS: dict[type[Event], BatchHandler] = {
    SessionStarted: batch(read_model.sessions_started),
    SessionFinalised: batch(read_model.sessions_finalised),
    SessionFinalisationOverdue: batch(read_model.finalisations_overdue),
    ResultsProcessed: batch(read_model.results_processed),
}
FILES: dict[type[Event], BatchHandler] = {
    LivretExportProduced: batch(read_model.livrets_produced),
    ClassResultsExported: batch(read_model.class_results_exported),
}


def wire(runtime: Runtime) -> None:
    consumers = (
        (runtime.consumer("roster", ELIGIBILITY, parallel_partitions=True), ROSTER),
        (runtime.consumer("sessions", SCHEDULER), SESSIONS),
        (runtime.consumer("progress", FINALISATION), PROGRESS),
        (runtime.consumer("files", EXPORT), FILES),
    )
    for consumer, handlers in consumers:
        for event_cls, handler in handlers.items():
            consumer.on_batch(event_cls, handler)
    # the view keeps no personal data (ids, MEF codes, counts): an erasure is recorded and logged,
    # the confirmation of every service (README, *Erasing a learner*)
    roster = consumers[0][0]
    handle_erasures(roster, "academie", nothing_to_erase, lambda: runtime.clock.now(), guard=False)
