"""Event handlers of the export service: keep the read model, rebuild files when results arrive.

* eligibility (roster) and scheduler (sessions, enrolments) events only update the read model;
  roster and session changes mark the school stale, and the rebuild job
  (:func:`rebuild_stale_schools`) brings its files up to date a few seconds later (names and INE
  come from the current roster; the level LSU/LSL from the school's sessions). Marking instead
  of rebuilding keeps a 1 000-learner roster import from rebuilding a school 1 000 times, and
  covers events read in any order across topics.
* ``ResultsProcessed`` stores the results (published, by decision: Pix publishes a session before
  a school can export it) and rebuilds at once the school's livret and every class CSV (so no
  class file lags the livret, even for learners whose roster entry came after their results),
  and the attestations of the classes those learners are in or whose CSV changed
  (:func:`services.export.usecases.rebuild.export_results`). A duplicate (same results, new event
  id) renders the same bytes, so nothing is rewritten or announced.
"""

from __future__ import annotations

from pathlib import Path

from services.export.store import ExportStore, StoreWork
from services.export.usecases.rebuild import export_results
from shared.contracts.envelope import Envelope
from shared.contracts.events import (
    CandidatesEnrolled,
    CandidateUnenrolled,
    LearnerDeactivated,
    LearnerRegistered,
    LearnerUpdated,
    ResultsProcessed,
    SessionCancelled,
    SessionCreated,
    SessionUpdated,
)
from shared.contracts.topics import ELIGIBILITY, FINALISATION, SCHEDULER
from shared.outbox import UnitOfWork
from shared.service import Runtime


class ExportHandlers:
    """Handlers bound to the running service (for its clock and output directory); each applies one
    event in the consumer's unit of work."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    @property
    def output_dir(self) -> Path:
        return Path(self.runtime.settings.export_output_dir)

    # -- roster ------------------------------------------------------------------------------

    async def on_learner_registered(self, uow: UnitOfWork, event: LearnerRegistered, _: Envelope) -> None:
        store = ExportStore(uow.conn)
        await store.mark_stale([event.uai, await store.upsert_learner(event, active=True)])

    async def on_learner_updated(self, uow: UnitOfWork, event: LearnerUpdated, _: Envelope) -> None:
        store = ExportStore(uow.conn)
        await store.mark_stale([event.uai, await store.upsert_learner(event, active=event.active)])

    async def on_learner_deactivated(self, uow: UnitOfWork, event: LearnerDeactivated, _: Envelope) -> None:
        store = ExportStore(uow.conn)
        await store.mark_stale([await store.deactivate_learner(event.learner_id)])

    # -- sessions and enrolments -------------------------------------------------------------

    async def on_session_saved(
        self, uow: UnitOfWork, event: SessionCreated | SessionUpdated, _: Envelope
    ) -> None:
        store = ExportStore(uow.conn)
        await store.upsert_session(event)
        await store.mark_stale([event.uai])

    async def on_session_cancelled(self, uow: UnitOfWork, event: SessionCancelled, _: Envelope) -> None:
        await ExportStore(uow.conn).cancel_session(event.session_id)

    async def on_candidates_enrolled(self, uow: UnitOfWork, event: CandidatesEnrolled, _: Envelope) -> None:
        await ExportStore(uow.conn).enrol_candidates(event)

    async def on_candidate_unenrolled(self, uow: UnitOfWork, event: CandidateUnenrolled, _: Envelope) -> None:
        await ExportStore(uow.conn).unenrol_candidate(event.candidate_id, event.unenrolled_at)

    # -- results -----------------------------------------------------------------------------

    async def on_results_processed(self, uow: UnitOfWork, event: ResultsProcessed, _: Envelope) -> None:
        work = StoreWork(uow, ExportStore(uow.conn))
        await export_results(work, event, output_dir=self.output_dir, now=self.runtime.clock.now())


def wire(runtime: Runtime) -> None:
    handlers = ExportHandlers(runtime)
    roster = runtime.consumer("roster", ELIGIBILITY)
    roster.on(LearnerRegistered, handlers.on_learner_registered)
    roster.on(LearnerUpdated, handlers.on_learner_updated)
    roster.on(LearnerDeactivated, handlers.on_learner_deactivated)
    sessions = runtime.consumer("sessions", SCHEDULER)
    sessions.on(SessionCreated, handlers.on_session_saved)
    sessions.on(SessionUpdated, handlers.on_session_saved)
    sessions.on(SessionCancelled, handlers.on_session_cancelled)
    sessions.on(CandidatesEnrolled, handlers.on_candidates_enrolled)
    sessions.on(CandidateUnenrolled, handlers.on_candidate_unenrolled)
    runtime.consumer("results", FINALISATION).on(ResultsProcessed, handlers.on_results_processed)
