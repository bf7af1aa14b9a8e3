"""Upstream events as eligibility, the scheduler, finalisation and export raise them, with sensible defaults,
for any service's tests (a fresh UAI per test: topics are shared with every other test)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from shared.contracts.events import (
    CandidatesEnrolled,
    CertifiabilityAssessed,
    CertificationResult,
    ClassResultsExported,
    ConvocationsIssued,
    EnrolledCandidate,
    LearnerRegistered,
    LivretExportProduced,
    ResultsProcessed,
    SessionCreated,
    SessionFinalisationOverdue,
    SessionFinalised,
    SessionStarted,
)

TAKEN_AT = datetime(2025, 3, 17, 8, 30, tzinfo=UTC)
PUBLISHED_AT = datetime(2025, 3, 28, 10, 0, tzinfo=UTC)


def new_uai() -> str:
    """A fresh UAI per test: topics are shared with every other test."""
    return f"{uuid.uuid4().int % 10**7:07d}Z"


def learner(uai: str, key: str, division: str = "3A", **overrides: Any) -> LearnerRegistered:
    values: dict[str, Any] = {
        "learner_id": f"{uai}-{key}",
        "uai": uai,
        "ine": f"{abs(hash(key)) % 10**9:09d}AB",
        "first_name": f"Prénom{key}",
        "last_name": f"Nom{key}",
        "birthdate": date(2011, 4, 2),
        "division": division,
    }
    values.update(overrides)
    return LearnerRegistered(**values)


def certifiability(
    registered: LearnerRegistered, assessed_at: datetime, certifiable: bool = True
) -> CertifiabilityAssessed:
    """What eligibility raises for a learner once their campaign results are in."""
    return CertifiabilityAssessed(
        learner_id=registered.learner_id,
        uai=registered.uai,
        division=registered.division,
        status="certifiable" if certifiable else "not_certifiable",
        certifiable_competences=6 if certifiable else 2,
        competences_needed=0 if certifiable else 3,
        source="campagne.csv",
        assessed_at=assessed_at,
    )


def certifiable_class(uai: str, division: str, size: int, assessed_at: datetime) -> list:
    """LearnerRegistered then CertifiabilityAssessed for each of ``size`` fresh certifiable learners."""
    events: list = []
    for i in range(size):
        registered = learner(
            uai, uuid.uuid4().hex[:12], division, birthdate=date(2008, 1 + i % 12, 1 + i % 28)
        )
        events += [registered, certifiability(registered, assessed_at)]
    return events


def session(uai: str, number: int = 1, school_level: str = "college", **overrides: Any) -> SessionCreated:
    values: dict[str, Any] = {
        "session_id": f"{uai}-S{number}",
        "session_number": number,
        "uai": uai,
        "certification_center": "Collège Jean Moulin",
        "school_level": school_level,
        "address": "Bâtiment A",
        "room": "B12",
        "examiners": ["M. Martin"],
        "date": date(2025, 3, 17),
        "time": "09:00",
        "access_code": "BCDF23",
        "invigilator_password_verifier": "hmac_sha256$k$x$y",
        "created_at": datetime(2025, 1, 10, tzinfo=UTC),
    }
    values.update(overrides)
    return SessionCreated(**values)


def candidate_id(session_event: SessionCreated, learner_event: LearnerRegistered) -> str:
    return f"{session_event.session_id}-{learner_event.learner_id}"


def enrolled(session_event: SessionCreated, *learners: LearnerRegistered) -> CandidatesEnrolled:
    return CandidatesEnrolled(
        session_id=session_event.session_id,
        uai=session_event.uai,
        candidates=[
            EnrolledCandidate(
                candidate_id=candidate_id(session_event, lr),
                learner_id=lr.learner_id,
                ine=lr.ine,
                first_name=lr.first_name,
                last_name=lr.last_name,
                birthdate=lr.birthdate,
                division=lr.division,
            )
            for lr in learners
        ],
        enrolled_at=datetime(2025, 2, 1, tzinfo=UTC),
    )


def enrolled_from_roster(
    session_event: SessionCreated, learners, ids: dict[str, str], enrolled_at: datetime
) -> CandidatesEnrolled:
    """The scheduler enrolling learners of a roster file (deploy/local/generator.py) by the ids eligibility
    gave them (``ids`` by INE); candidate ids ``c0``, ``c1``, … in the order of ``learners``."""
    return CandidatesEnrolled(
        session_id=session_event.session_id,
        uai=session_event.uai,
        candidates=[
            EnrolledCandidate(
                candidate_id=f"c{i}",
                learner_id=ids[x.ine],
                ine=x.ine,
                first_name=x.first_name,
                last_name=x.last_name,
                birthdate=x.birth_date,
                division=x.division,
            )
            for i, x in enumerate(learners)
        ],
        enrolled_at=enrolled_at,
    )


@dataclass
class Outcome:
    learner: LearnerRegistered
    certification_id: int
    status: str = "validated"
    pix_score: int | None = 320
    levels: dict[str, int | None] = field(default_factory=lambda: {"1.1": 3, "2.1": 2, "5.2": -1})
    jury_comment: str | None = None
    verification_code: str | None = None
    birthplace: str | None = None


def results(session_event: SessionCreated, *outcomes: Outcome, **overrides: Any) -> ResultsProcessed:
    values: dict[str, Any] = {
        "session_id": session_event.session_id,
        "session_number": session_event.session_number,
        "uai": session_event.uai,
        "certification_center": session_event.certification_center,
        "source": "livret_json",
        "results_sha256": "0" * 64,
        "results": [
            CertificationResult(
                certification_id=o.certification_id,
                candidate_id=candidate_id(session_event, o.learner),
                learner_id=o.learner.learner_id,
                ine=o.learner.ine,
                first_name=o.learner.first_name,
                last_name=o.learner.last_name,
                birthdate=o.learner.birthdate,
                birthplace=o.birthplace,
                status=o.status,
                pix_score=o.pix_score,
                competence_levels=o.levels,
                verification_code=o.verification_code
                or f"P-{o.certification_id % 10**8:08d}".replace("0", "A"),
                taken_at=TAKEN_AT,
                published_at=PUBLISHED_AT,
                jury_comment=o.jury_comment,
            )
            for o in outcomes
        ],
        "processed_at": datetime(2025, 3, 28, 11, 0, tzinfo=UTC),
    }
    values.update(overrides)
    return ResultsProcessed(**values)


def certification_ids(count: int) -> list[int]:
    """Certification ids unlikely to meet another test's (they are global keys)."""
    base = uuid.uuid4().int % 10**9 * 100
    return [base + i for i in range(count)]


# -- the session's life after enrolment, as the scheduler, finalisation and export announce it


def convoked(session_event: SessionCreated, issued_at: datetime, *candidate_ids: str) -> ConvocationsIssued:
    return ConvocationsIssued(
        session_id=session_event.session_id,
        uai=session_event.uai,
        candidate_ids=list(candidate_ids),
        bundle_file=f"convocations-{session_event.session_number}.zip",
        bundle_sha256="0" * 64,
        issued_at=issued_at,
    )


def started(session_event: SessionCreated, started_at: datetime) -> SessionStarted:
    return SessionStarted(
        session_id=session_event.session_id,
        uai=session_event.uai,
        session_number=session_event.session_number,
        started_at=started_at,
    )


def finalised(session_event: SessionCreated, finalised_at: datetime) -> SessionFinalised:
    """A finalisation without candidates' details (what a read model of progress needs)."""
    return SessionFinalised(
        session_id=session_event.session_id,
        session_number=session_event.session_number,
        uai=session_event.uai,
        certification_center=session_event.certification_center,
        session_date=session_event.date,
        session_time=session_event.time,
        finalised_at=finalised_at,
        has_incident=False,
        has_joining_issue=False,
        is_publishable=True,
        candidates=[],
    )


def overdue(
    session_event: SessionCreated, due_at: datetime, detected_at: datetime
) -> SessionFinalisationOverdue:
    return SessionFinalisationOverdue(
        session_id=session_event.session_id,
        uai=session_event.uai,
        session_date=session_event.date,
        due_at=due_at,
        detected_at=detected_at,
    )


def livret_produced(
    uai: str, produced_at: datetime, certifications: int, level: str = "LSU"
) -> LivretExportProduced:
    return LivretExportProduced(
        uai=uai,
        level=level,
        file_name=f"{uai}_{level}.json",
        sha256="0" * 64,
        certifications=certifications,
        validated=certifications,
        rejected=0,
        pending=0,
        produced_at=produced_at,
    )


def class_exported(uai: str, division: str, rows: int, exported_at: datetime) -> ClassResultsExported:
    return ClassResultsExported(
        uai=uai,
        division=division,
        file_name=f"resultats_{division}.csv",
        sha256="0" * 64,
        rows=rows,
        exported_at=exported_at,
    )
