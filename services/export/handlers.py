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
  and the attestations of the classes those learners are in or whose CSV changed. A duplicate
  (same results, new event id) renders the same bytes, so nothing is rewritten or announced.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import structlog

from services.export import store
from services.export.rebuild import rebuild_school
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

log = structlog.get_logger(__name__)


class ExportHandlers:
    """Handlers bound to the running service (for its clock and output directory)."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    @property
    def output_dir(self) -> Path:
        return Path(self.runtime.settings.export_output_dir)

    # -- roster ------------------------------------------------------------------------------

    async def on_learner_registered(self, uow: UnitOfWork, event: LearnerRegistered, _: Envelope) -> None:
        previous_uai = await store.upsert_learner(uow.conn, event, active=True)
        await store.mark_stale(uow.conn, [event.uai, previous_uai])

    async def on_learner_updated(self, uow: UnitOfWork, event: LearnerUpdated, _: Envelope) -> None:
        previous_uai = await store.upsert_learner(uow.conn, event, active=event.active)
        await store.mark_stale(uow.conn, [event.uai, previous_uai])

    async def on_learner_deactivated(self, uow: UnitOfWork, event: LearnerDeactivated, _: Envelope) -> None:
        uai = await store.deactivate_learner(uow.conn, event.learner_id)
        await store.mark_stale(uow.conn, [uai])

    # -- sessions and enrolments -------------------------------------------------------------

    async def on_session_saved(
        self, uow: UnitOfWork, event: SessionCreated | SessionUpdated, _: Envelope
    ) -> None:
        await store.upsert_session(uow.conn, event)
        await store.mark_stale(uow.conn, [event.uai])

    async def on_session_cancelled(self, uow: UnitOfWork, event: SessionCancelled, _: Envelope) -> None:
        await store.cancel_session(uow.conn, event.session_id)

    async def on_candidates_enrolled(self, uow: UnitOfWork, event: CandidatesEnrolled, _: Envelope) -> None:
        await store.enrol_candidates(uow.conn, event)

    async def on_candidate_unenrolled(self, uow: UnitOfWork, event: CandidateUnenrolled, _: Envelope) -> None:
        await store.unenrol_candidate(uow.conn, event.candidate_id, event.unenrolled_at)

    # -- results -----------------------------------------------------------------------------

    async def on_results_processed(self, uow: UnitOfWork, event: ResultsProcessed, _: Envelope) -> None:
        await store.upsert_results(uow.conn, event)
        classes = await store.classes_of_learners(uow.conn, [r.learner_id for r in event.results])
        classes.setdefault(store.normalise_uai(event.uai), set())
        now = self.runtime.clock.now()
        for uai in sorted(classes):  # one order everywhere: school locks never deadlock
            report = await rebuild_school(uow, uai, output_dir=self.output_dir, now=now, touched=classes[uai])
            log.info(
                "results exported",
                uai=uai,
                classes=len(classes[uai]),
                changed=report.changed,
                announced=len(report.events),
            )


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


# -- the rebuild job ---------------------------------------------------------------------------


async def rebuild_stale_schools(runtime: Runtime, limit: int = 50) -> int:
    """One tick of the job: rebuild every school marked stale (up to ``limit``); return how many."""
    pending = await store.stale_schools(runtime.pool, limit)
    output_dir = Path(runtime.settings.export_output_dir)
    for uai, generation in pending:
        async with runtime.unit_of_work() as uow:
            await rebuild_school(uow, uai, output_dir=output_dir, now=runtime.clock.now())
            await store.clear_stale(uow.conn, uai, generation)
    return len(pending)


async def stale_schools_job(runtime: Runtime) -> None:
    """Every ``EXPORT_REBUILD_INTERVAL_SECONDS``, rebuild the schools whose roster or sessions moved."""
    while True:
        try:
            while await rebuild_stale_schools(runtime):
                pass
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("rebuilding stale schools failed; will retry")
        await asyncio.sleep(runtime.settings.export_rebuild_interval_seconds)
