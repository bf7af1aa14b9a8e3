"""The v1 event catalogue: every event certibus publishes, as pydantic models.

Each class names its CloudEvents type (with the version suffix), its owning service and topic,
and which field is the aggregate id (the Kafka key and ``ce_subject``). Consumers ignore fields
they do not know, so adding an optional field is a compatible change; anything else needs a new
type (``….v2``) published alongside the old one while consumers move (see docs/events/README.md).
The models live beside this module, one file per owning service (``events_<service>.py``, on the
base of ``event_base``); this is the one import path for all of them, in the catalogue's order.
"""

from __future__ import annotations

from shared.contracts.event_base import PERSONAL_DATA, Event, personal, personal_fields, routed
from shared.contracts.events_eligibility import (
    CertifiabilityAssessed,
    CertifiabilityStatus,
    LearnerDeactivated,
    LearnerErasureRequested,
    LearnerRegistered,
    LearnersImported,
    LearnerSnapshot,
    LearnerUpdated,
    MissingCompetences,
    RemediationRequested,
)
from shared.contracts.events_export import ClassResultsExported, LivretExportProduced
from shared.contracts.events_finalisation import (
    CertificationResult,
    FinalisationFields,
    FinalisedCandidate,
    IssueReport,
    ResultAssigned,
    ResultsProcessed,
    ResultStatus,
    SessionFinalisationAmended,
    SessionFinalisationOverdue,
    SessionFinalised,
    SessionIncident,
    SessionStarted,
)
from shared.contracts.events_scheduler import (
    RETIRED_SESSION_EVENTS,
    AnySessionDetails,
    CandidateIdentity,
    CandidatesEnrolled,
    CandidateUnenrolled,
    CandidateUpdated,
    ConvocationsIssued,
    EnrolledCandidate,
    SchoolLevel,
    SessionCancelled,
    SessionCreated,
    SessionCreatedV1,
    SessionDetails,
    SessionDetailsV1,
    SessionFields,
    SessionUpdated,
    SessionUpdatedV1,
)

CATALOGUE: tuple[type[Event], ...] = (
    LearnersImported,
    LearnerRegistered,
    LearnerUpdated,
    LearnerDeactivated,
    LearnerErasureRequested,
    CertifiabilityAssessed,
    RemediationRequested,
    SessionCreated,
    SessionUpdated,
    SessionCreatedV1,
    SessionUpdatedV1,
    SessionCancelled,
    CandidatesEnrolled,
    CandidateUnenrolled,
    CandidateUpdated,
    ConvocationsIssued,
    SessionStarted,
    SessionFinalised,
    SessionFinalisationOverdue,
    SessionFinalisationAmended,
    ResultsProcessed,
    ResultAssigned,
    LivretExportProduced,
    ClassResultsExported,
)

EVENT_TYPES: dict[str, type[Event]] = {cls.event_type: cls for cls in CATALOGUE}

__all__ = [
    "CATALOGUE",
    "EVENT_TYPES",
    "PERSONAL_DATA",
    "RETIRED_SESSION_EVENTS",
    "AnySessionDetails",
    "CandidateIdentity",
    "CandidateUnenrolled",
    "CandidateUpdated",
    "CandidatesEnrolled",
    "CertifiabilityAssessed",
    "CertifiabilityStatus",
    "CertificationResult",
    "ClassResultsExported",
    "ConvocationsIssued",
    "EnrolledCandidate",
    "Event",
    "FinalisationFields",
    "FinalisedCandidate",
    "IssueReport",
    "LearnerDeactivated",
    "LearnerErasureRequested",
    "LearnerRegistered",
    "LearnerSnapshot",
    "LearnerUpdated",
    "LearnersImported",
    "LivretExportProduced",
    "MissingCompetences",
    "RemediationRequested",
    "ResultAssigned",
    "ResultStatus",
    "ResultsProcessed",
    "SchoolLevel",
    "SessionCancelled",
    "SessionCreated",
    "SessionCreatedV1",
    "SessionDetails",
    "SessionDetailsV1",
    "SessionFields",
    "SessionFinalisationAmended",
    "SessionFinalisationOverdue",
    "SessionFinalised",
    "SessionIncident",
    "SessionStarted",
    "SessionUpdated",
    "SessionUpdatedV1",
    "personal",
    "personal_fields",
    "routed",
]
