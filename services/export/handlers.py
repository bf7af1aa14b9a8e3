"""Event handlers of the export service: keep the read model, rebuild files when results arrive.

Every handler is a batch handler (``EventConsumer.on_batch``): it gets the consecutive fresh
events of one type of one partition's run (a list of one when a record is retried alone) and
applies them with set-based SQL, the latest snapshot of each row winning
(:mod:`services.export.usecases.read_model`).

* eligibility (roster) and scheduler (sessions, enrolments) events only update the read model and
  mark the classes whose files they can change (a moved learner's old class too; a session: the
  school's livret); the rebuild job (:func:`rebuild_stale_schools`) renders those classes, and
  only those, a few seconds later, once for all the changes since its last round. Marking instead
  of rebuilding keeps a 1 000-learner roster import from rebuilding a school 1 000 times, and
  covers events read in any order across topics.
* ``ResultsProcessed`` stores the results (published, by decision: Pix publishes a session before
  a school can export it) and rebuilds at once, once per school of the run, the school's livret,
  the classes the results reached and the classes marked stale (so no class file lags the
  livret, even for learners whose roster entry came after their results)
  (:func:`services.export.usecases.rebuild.export_results`). A duplicate (same results, new event
  id) renders the same bytes, so nothing is rewritten or announced.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from services.export import store_erasure
from services.export.store import ExportStore, StoreWork
from services.export.usecases import read_model
from services.export.usecases.rebuild import export_results
from shared.consumer import BatchHandler, Delivery
from shared.contracts.events import (
    CandidatesEnrolled,
    CandidateUnenrolled,
    Event,
    LearnerDeactivated,
    LearnerRegistered,
    LearnerUpdated,
    ResultsProcessed,
    SessionCancelled,
    SessionCreated,
    SessionCreatedV1,
    SessionUpdated,
    SessionUpdatedV1,
)
from shared.contracts.topics import ELIGIBILITY, FINALISATION, SCHEDULER
from shared.erasure import handle_erasures, keep_erasures
from shared.outbox import UnitOfWork
from shared.service import Runtime


def _work(uow: UnitOfWork) -> StoreWork:
    return StoreWork(uow, ExportStore(uow.conn))


def _events(deliveries: Sequence[Delivery]) -> list:
    return [delivery.event for delivery in deliveries]


class ExportHandlers:
    """Batch handlers bound to the running service (for its clock and output directory); each
    applies a run of events in the consumer's unit of work."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    @property
    def output_dir(self) -> Path:
        return Path(self.runtime.settings.export_output_dir)

    # -- roster ------------------------------------------------------------------------------

    async def on_learners_saved(self, uow: UnitOfWork, deliveries: Sequence[Delivery]) -> None:
        await read_model.save_learners(_work(uow), _events(deliveries))

    async def on_learners_deactivated(self, uow: UnitOfWork, deliveries: Sequence[Delivery]) -> None:
        await read_model.deactivate_learners(_work(uow), _events(deliveries))

    # -- sessions and enrolments -------------------------------------------------------------

    async def on_sessions_saved(self, uow: UnitOfWork, deliveries: Sequence[Delivery]) -> None:
        await read_model.save_sessions(_work(uow), _events(deliveries))

    async def on_sessions_cancelled(self, uow: UnitOfWork, deliveries: Sequence[Delivery]) -> None:
        await read_model.cancel_sessions(_work(uow), _events(deliveries))

    async def on_candidates_enrolled(self, uow: UnitOfWork, deliveries: Sequence[Delivery]) -> None:
        await read_model.enrol_candidates(_work(uow), _events(deliveries))

    async def on_candidates_unenrolled(self, uow: UnitOfWork, deliveries: Sequence[Delivery]) -> None:
        await read_model.unenrol_candidates(_work(uow), _events(deliveries))

    # -- results -----------------------------------------------------------------------------

    async def on_results_processed(self, uow: UnitOfWork, deliveries: Sequence[Delivery]) -> None:
        await export_results(
            _work(uow), _events(deliveries), output_dir=self.output_dir, now=self.runtime.clock.now()
        )

    # -- by consumer -------------------------------------------------------------------------

    def roster(self) -> dict[type[Event], BatchHandler]:
        return {
            LearnerRegistered: self.on_learners_saved,
            LearnerUpdated: self.on_learners_saved,
            LearnerDeactivated: self.on_learners_deactivated,
        }

    def sessions(self) -> dict[type[Event], BatchHandler]:
        return {
            SessionCreated: self.on_sessions_saved,
            SessionUpdated: self.on_sessions_saved,
            SessionCreatedV1: self.on_sessions_saved,  # records written before v2
            SessionUpdatedV1: self.on_sessions_saved,
            SessionCancelled: self.on_sessions_cancelled,
            CandidatesEnrolled: self.on_candidates_enrolled,
            CandidateUnenrolled: self.on_candidates_unenrolled,
        }

    def results(self) -> dict[type[Event], BatchHandler]:
        return {ResultsProcessed: self.on_results_processed}

    def every_event(self) -> dict[type[Event], BatchHandler]:
        """All of them: what a test consumer reading every kind from one topic registers."""
        return self.roster() | self.sessions() | self.results()


def wire(runtime: Runtime) -> None:
    handlers = ExportHandlers(runtime)
    # the roster's partitions side by side: learners are keyed by learner_id (a learner's rows
    # never change in two partitions) and the stale marks are appended, never updated
    roster = runtime.consumer("roster", ELIGIBILITY, parallel_partitions=True)
    # sessions and enrolments in turn: a candidate can move to a session of another partition
    sessions = runtime.consumer("sessions", SCHEDULER)
    # results in turn: two sessions of one school rebuild the same files and exports rows
    results = runtime.consumer("results", FINALISATION)
    for consumer, batch_handlers in (
        (roster, handlers.roster()),
        (sessions, handlers.sessions()),
        (results, handlers.results()),
    ):
        for event_cls, handler in batch_handlers.items():
            consumer.on_batch(event_cls, handler)
    # erasures (README, *Erasing a learner*): on the roster's consumer, keyed by learner like the
    # learner events; every consumer's events that carry personal data leave an erased learner erased
    handle_erasures(roster, "export", store_erasure.erase_tables, lambda: runtime.clock.now())
    keep_erasures(sessions, store_erasure.erase_tables)
    keep_erasures(results, store_erasure.erase_tables)
