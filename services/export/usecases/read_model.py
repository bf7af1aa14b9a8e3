"""Applying runs of roster, session and enrolment events to the read model, and marking the
classes whose files they can change.

The consumers hand over the consecutive fresh events of one type of one partition (shared/
consumer.py ``on_batch``), or a list of one when a record is retried alone; each function here
applies such a run with one statement per table, the latest snapshot of each row winning as if the
events had been applied one by one, and marks in the same transaction the classes
(``stale_classes``) the rebuild must render again — not the whole school:

* a learner's snapshot: their class before the run and every class the run puts them in (a
  learner who moves leaves their old class's files behind too), in the old and the new school;
* a deactivation: the learner's class;
* a session: the livret of its school (the level LSU/LSL comes from the sessions), of its old
  school too when it moved; a cancellation changes no file;
* an enrolment or unenrolment: only when the candidate already has results (enrolment comes
  first as a rule), the classes of the learners a result can move between.

The marks are appended rows (``ExportStore.mark_stale``): no two partitions' runs ever update the
same row, which is what lets the roster's partitions be applied side by side.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from services.export.domain.selection import division_key
from services.export.domain.uai import normalise_uai
from services.export.usecases import Work
from shared.contracts.events import (
    CandidatesEnrolled,
    CandidateUnenrolled,
    LearnerDeactivated,
    LearnerSnapshot,
    LearnerUpdated,
    SessionCancelled,
    SessionFields,
)

#: the mark of a school's livret alone (its classes' files do not depend on sessions)
LIVRET_ONLY = ""


def class_marks(classes: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    """``(uai, division)`` pairs as marks ``(uai, division_key)``."""
    return {(normalise_uai(uai), division_key(division)) for uai, division in classes}


def _active(learner: LearnerSnapshot) -> bool:
    """A registration is active; an update says whether the learner is (a reactivation, or not)."""
    return learner.active if isinstance(learner, LearnerUpdated) else True


async def save_learners(work: Work, learners: Sequence[LearnerSnapshot]) -> None:
    """Registrations or updates, in offset order: each learner's last snapshot is stored."""
    latest = {learner.learner_id: learner for learner in learners}
    before = await work.store.learner_classes(list(latest))
    await work.store.upsert_learners([(learner, _active(learner)) for learner in latest.values()])
    await work.store.mark_stale(class_marks([*before, *((x.uai, x.division) for x in learners)]))


async def deactivate_learners(work: Work, events: Sequence[LearnerDeactivated]) -> None:
    """Learners gone from the roster: they leave their class's files."""
    left = await work.store.deactivate_learners(list(dict.fromkeys(e.learner_id for e in events)))
    await work.store.mark_stale(class_marks(left))


async def save_sessions(work: Work, sessions: Sequence[SessionFields]) -> None:
    """Creations or updates, in offset order: each session's last details are stored."""
    latest = {session.session_id: session for session in sessions}
    before = await work.store.session_schools(list(latest))
    await work.store.upsert_sessions(list(latest.values()))
    schools = {*before, *(s.uai for s in sessions)}
    await work.store.mark_stale((uai, LIVRET_ONLY) for uai in schools)


async def cancel_sessions(work: Work, events: Sequence[SessionCancelled]) -> None:
    """Cancelled sessions (the readiness reads it; no file shows it)."""
    await work.store.cancel_sessions(list(dict.fromkeys(e.session_id for e in events)))


async def enrol_candidates(work: Work, events: Sequence[CandidatesEnrolled]) -> None:
    """Enrolments, in offset order: each candidate's last enrolment is stored (enrolled again)."""
    latest = {
        c.candidate_id: (c.candidate_id, c.learner_id, event.session_id, event.uai)
        for event in events
        for c in event.candidates
    }
    before = await work.store.classes_of_candidates_results(list(latest))
    await work.store.enrol_candidates(list(latest.values()))
    await _mark_result_moves(work, list(latest), before)


async def unenrol_candidates(work: Work, events: Sequence[CandidateUnenrolled]) -> None:
    """Unenrolments, in offset order: each candidate keeps the last time."""
    latest: dict[str, datetime] = {e.candidate_id: e.unenrolled_at for e in events}
    before = await work.store.classes_of_candidates_results(list(latest))
    await work.store.unenrol_candidates(list(latest.items()))
    await _mark_result_moves(work, list(latest), before)


async def _mark_result_moves(work: Work, candidate_ids: list[str], before: list[tuple[str, str]]) -> None:
    """Mark the classes the candidates' results could be attached to before the write and after
    (two indexed lookups that find nothing when the candidates have no result yet)."""
    after = await work.store.classes_of_candidates_results(candidate_ids)
    await work.store.mark_stale(class_marks([*before, *after]))
