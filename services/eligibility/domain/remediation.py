"""The one-month check: before a session, every enrolled student's profile must be certifiable.

Not a Pix rule (schools-lsu-calendar §3.6: no "one month before" rule was found) but the académie's
practice, hence the configurable lead. Students whose status is unknown are asked to share their
profile; those not certifiable are told which competences are still at level 0.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from services.eligibility.domain.certifiability import (
    CertifiabilityAssessment,
    CertifiabilityStatus,
    unknown,
)

DEFAULT_CHECK_LEAD_DAYS = 30


def check_due_date(session_date: date, lead_days: int = DEFAULT_CHECK_LEAD_DAYS) -> date:
    """The date by which the session's students must be checked."""
    if lead_days < 0:
        raise ValueError("lead_days must be ≥ 0")
    return session_date - timedelta(days=lead_days)


def is_check_due(today: date, session_date: date, lead_days: int = DEFAULT_CHECK_LEAD_DAYS) -> bool:
    """True from the due date up to the session itself."""
    return check_due_date(session_date, lead_days) <= today <= session_date


@dataclass(frozen=True, slots=True)
class RemediationRequested:
    """One student who is not (known to be) certifiable by the check date."""

    learner_id: str
    session_id: str
    session_date: date
    due_date: date
    status: CertifiabilityStatus  # NOT_CERTIFIABLE or UNKNOWN
    competences_certifiable: int | None  # None when unknown (profile never shared)
    competences_missing: int | None  # max(0, 5 - certifiable); None when unknown
    zero_level_competences: tuple[str, ...]  # competence ids at level 0; () when unknown


def remediation_requests(
    session_id: str,
    session_date: date,
    learner_ids: Iterable[str],
    assessments: Mapping[str, CertifiabilityAssessment],
    lead_days: int = DEFAULT_CHECK_LEAD_DAYS,
) -> tuple[RemediationRequested, ...]:
    """One request per enrolled student who is not certifiable or unknown, in the given order."""
    due = check_due_date(session_date, lead_days)
    requests: list[RemediationRequested] = []
    for learner_id in learner_ids:
        assessment = assessments.get(learner_id) or unknown(learner_id)
        if assessment.status is CertifiabilityStatus.CERTIFIABLE:
            continue
        requests.append(
            RemediationRequested(
                learner_id=learner_id,
                session_id=session_id,
                session_date=session_date,
                due_date=due,
                status=assessment.status,
                competences_certifiable=assessment.certifiable_count,
                competences_missing=assessment.competences_needed,
                zero_level_competences=assessment.zero_level_competences,
            )
        )
    return tuple(requests)
