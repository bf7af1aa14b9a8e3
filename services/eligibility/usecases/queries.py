"""What a school reads: certifiability per class and per school, and its list of learners.

Plain reads through the store (no transaction needed); the UAI is checked first (format and mod-23
check letter: ``uai.invalid_format`` / ``uai.invalid_check_letter``), and a class without an active
learner is ``class.not_found``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from services.eligibility.domain.certifiability import CertifiabilityStatus, SchoolSummary, summarise
from services.eligibility.domain.issues import IssueCollector
from services.eligibility.domain.roster import check_school_uai
from services.eligibility.store import EligibilityStore, LearnerCertifiability, StoredLearner
from shared.errors import DomainError


@dataclass(frozen=True, slots=True)
class StudentCertifiability:
    """One student of a class dashboard: their status and what they still need."""

    learner_id: str
    ine: str
    last_name: str
    first_name: str
    status: str
    certifiable_competences: int | None
    competences_needed: int | None
    competences_at_level_zero: list[str]
    shared_at: date | None
    source: str | None
    origin: str | None  # campaign_export / orga_certificability; None: never assessed
    certifiable_at: date | None  # the day Pix Orga computed it (orga_certificability)


@dataclass(frozen=True, slots=True)
class ClassCertifiability:
    uai: str
    division: str
    summary: SchoolSummary
    students: list[StudentCertifiability]


@dataclass(frozen=True, slots=True)
class SchoolCertifiability:
    uai: str
    summary: SchoolSummary


def school_of(uai: str) -> str:
    """The normalised UAI of a school route, or a DomainError naming the broken rule."""
    issues = IssueCollector("")
    school = check_school_uai(uai, issues)
    if issues:
        issue = issues.issues[0]
        raise DomainError(str(issue.rule), issue.message, uai=uai)
    return school


def _summary(rows: list[LearnerCertifiability]) -> SchoolSummary:
    assessments = {r.learner_id: r.assessment for r in rows if r.assessment}
    return summarise(((r.learner_id, r.division) for r in rows), assessments)


def _student(row: LearnerCertifiability) -> StudentCertifiability:
    a = row.assessment
    return StudentCertifiability(
        learner_id=row.learner_id,
        ine=row.ine,
        last_name=row.last_name,
        first_name=row.first_name,
        status=a.status.value if a else CertifiabilityStatus.UNKNOWN.value,
        certifiable_competences=a.certifiable_count if a else None,
        competences_needed=a.competences_needed if a else None,
        competences_at_level_zero=list(a.zero_level_competences) if a else [],
        shared_at=a.shared_at if a else None,
        source=row.source,
        origin=row.origin,
        certifiable_at=row.certifiable_at,
    )


async def class_certifiability(store: EligibilityStore, uai: str, division: str) -> ClassCertifiability:
    """A class's counts and each student's status and how many competences they still need."""
    school = school_of(uai)
    rows = await store.school_certifiability(school, division)
    if not rows:
        raise DomainError("class.not_found", f"no active learner in class {division} of {school}")
    return ClassCertifiability(school, division, _summary(rows), [_student(r) for r in rows])


async def school_certifiability(store: EligibilityStore, uai: str) -> SchoolCertifiability:
    """The school's counts and the same counts per class."""
    school = school_of(uai)
    return SchoolCertifiability(school, _summary(await store.school_certifiability(school)))


async def school_learners(
    store: EligibilityStore, uai: str, division: str | None, include_inactive: bool
) -> tuple[str, list[StoredLearner]]:
    """The school's learners (active ones unless ``include_inactive``), optionally one class."""
    school = school_of(uai)
    return school, await store.list_learners(school, division, include_inactive)
