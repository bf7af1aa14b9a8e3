"""Applying runs of the other services' events to the académie read model.

The consumers hand over the consecutive fresh events of one type of one partition (shared/
consumer.py ``on_batch``), or a list of one when a record is retried alone. Each function keeps
one row per id (the last event of the run for a snapshot; the store keeps the earliest time a
step was reached) and writes it with one statement, so a run applied twice, or an event raised
twice by its producer, leaves the read model as it was.
"""

from __future__ import annotations

from collections.abc import Sequence

from services.academie.store import SessionDetailsRow
from services.academie.usecases import Work
from shared.contracts.events import (
    AnySessionDetails,
    CandidatesEnrolled,
    CandidateUnenrolled,
    CertifiabilityAssessed,
    ClassResultsExported,
    ConvocationsIssued,
    LearnerDeactivated,
    LearnerSnapshot,
    LearnerUpdated,
    LivretExportProduced,
    ResultsProcessed,
    SessionCancelled,
    SessionCreated,
    SessionCreatedV1,
    SessionFinalisationOverdue,
    SessionFinalised,
    SessionStarted,
)
from shared.contracts.identifiers import normalise_identifier as uai_of


def _last(rows: list[tuple]) -> list[tuple]:
    """One row per key (the first column), the last one of the run winning."""
    return list({row[0]: row for row in rows}.values())


# -- scheduler ---------------------------------------------------------------------------------


async def save_sessions(work: Work, events: Sequence[AnySessionDetails]) -> None:
    """Creations or updates: each session's latest details, and when it was created (an update
    seen without its creation stands for it until the creation is read; the earliest time wins)."""
    rows: dict[str, SessionDetailsRow] = {}
    for e in events:
        moment = e.created_at if isinstance(e, SessionCreated | SessionCreatedV1) else e.updated_at  # type: ignore[attr-defined]
        previous = rows.get(e.session_id)
        created = min(previous.created_at, moment) if previous and previous.created_at else moment
        rows[e.session_id] = SessionDetailsRow(
            session_id=e.session_id,
            uai=uai_of(e.uai),
            session_number=e.session_number,
            certification_center=e.certification_center,
            school_level=e.school_level,
            session_date=e.date,
            created_at=created,
            details_at=moment,
        )
    await work.store.upsert_session_details(list(rows.values()))


async def cancel_sessions(work: Work, events: Sequence[SessionCancelled]) -> None:
    await work.store.cancel_sessions(_last([(e.session_id, uai_of(e.uai), e.cancelled_at) for e in events]))


async def enrol_candidates(work: Work, events: Sequence[CandidatesEnrolled]) -> None:
    rows = [(c.candidate_id, e.session_id, uai_of(e.uai)) for e in events for c in e.candidates]
    await work.store.enrol_candidates(_last(rows))


async def unenrol_candidates(work: Work, events: Sequence[CandidateUnenrolled]) -> None:
    rows = [(e.candidate_id, e.session_id, uai_of(e.uai), e.unenrolled_at) for e in events]
    await work.store.unenrol_candidates(_last(rows))


def _first(rows: list[tuple]) -> list[tuple]:
    """One row per key (the first column), the earliest time (the last column) kept."""
    kept: dict[str, tuple] = {}
    for row in rows:
        if row[0] not in kept or row[-1] < kept[row[0]][-1]:
            kept[row[0]] = row
    return list(kept.values())


async def convocations_issued(work: Work, events: Sequence[ConvocationsIssued]) -> None:
    rows = [(e.session_id, uai_of(e.uai), None, e.issued_at) for e in events]
    await work.store.mark_sessions("convoked_at", _first(rows))


# -- finalisation ------------------------------------------------------------------------------


async def sessions_started(work: Work, events: Sequence[SessionStarted]) -> None:
    rows = [(e.session_id, uai_of(e.uai), e.session_number, e.started_at) for e in events]
    await work.store.mark_sessions("started_at", _first(rows))


async def sessions_finalised(work: Work, events: Sequence[SessionFinalised]) -> None:
    rows = [(e.session_id, uai_of(e.uai), e.session_number, e.finalised_at) for e in events]
    await work.store.mark_sessions("finalised_at", _first(rows))


async def finalisations_overdue(work: Work, events: Sequence[SessionFinalisationOverdue]) -> None:
    rows = [(e.session_id, uai_of(e.uai), e.session_date, e.due_at, e.detected_at) for e in events]
    await work.store.record_overdue(_last(rows))


async def results_processed(work: Work, events: Sequence[ResultsProcessed]) -> None:
    """The session's latest results (their count); the store keeps the first processing time."""
    first: dict[str, object] = {}
    for e in events:
        first[e.session_id] = min(first.get(e.session_id, e.processed_at), e.processed_at)  # type: ignore[type-var]
    rows = [
        (e.session_id, uai_of(e.uai), e.session_number, len(e.results), first[e.session_id]) for e in events
    ]
    await work.store.record_results(_last(rows))


# -- eligibility -------------------------------------------------------------------------------


async def save_learners(work: Work, events: Sequence[LearnerSnapshot]) -> None:
    """Registrations or updates: each learner's latest school, MEF code and whether active."""
    rows = [
        (e.learner_id, uai_of(e.uai), e.mef_code, e.active if isinstance(e, LearnerUpdated) else True)
        for e in events
    ]
    await work.store.upsert_learners(_last(rows))


async def deactivate_learners(work: Work, events: Sequence[LearnerDeactivated]) -> None:
    await work.store.deactivate_learners(_last([(e.learner_id, uai_of(e.uai)) for e in events]))


async def assess_learners(work: Work, events: Sequence[CertifiabilityAssessed]) -> None:
    """The most recent assessment of each learner of the run (the store keeps the most recent)."""
    latest: dict[str, CertifiabilityAssessed] = {}
    for e in events:
        if e.learner_id not in latest or latest[e.learner_id].assessed_at <= e.assessed_at:
            latest[e.learner_id] = e
    rows = [(e.learner_id, uai_of(e.uai), e.status, e.assessed_at) for e in latest.values()]
    await work.store.assess_learners(rows)


# -- export ------------------------------------------------------------------------------------


async def livrets_produced(work: Work, events: Sequence[LivretExportProduced]) -> None:
    latest: dict[tuple[str, str], LivretExportProduced] = {}
    for e in events:
        key = (uai_of(e.uai), e.level)
        if key not in latest or latest[key].produced_at <= e.produced_at:
            latest[key] = e
    rows = [(uai, level, e.file_name, e.certifications, e.produced_at) for (uai, level), e in latest.items()]
    await work.store.record_livrets(rows)


async def class_results_exported(work: Work, events: Sequence[ClassResultsExported]) -> None:
    latest: dict[tuple[str, str], ClassResultsExported] = {}
    for e in events:
        key = (uai_of(e.uai), e.division)
        if key not in latest or latest[key].exported_at <= e.exported_at:
            latest[key] = e
    rows = [(uai, division, e.rows, e.exported_at) for (uai, division), e in latest.items()]
    await work.store.record_class_exports(rows)
