"""The events finalisation publishes: sessions started, finalised or overdue, and Pix's results.

Part of the v1 catalogue (``shared.contracts.events``, where consumers import them from).
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from shared.contracts.event_base import Event, personal, routed
from shared.contracts.events_scheduler import CandidateIdentity
from shared.contracts.topics import FINALISATION


class ResultStatus(StrEnum):
    """Status of a certification result (Pix ``CertificationResult``), the one definition of it:
    finalisation reads it from Pix's files, the event carries it, the export renders it."""

    VALIDATED = "validated"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    ERROR = "error"
    STARTED = "started"


#: on the wire the status stays the plain string enum the committed v1 schema promises
_ResultStatusField = Annotated[
    ResultStatus,
    WithJsonSchema({"enum": [s.value for s in ResultStatus], "title": "Status", "type": "string"}),
]


class IssueReport(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    category: str = Field(description="Pix category, e.g. NON_BLOCKING_TECHNICAL_ISSUE")
    subcategory: str | None = None
    code: str = Field(description="code on the PV d'incident, C1…C8 / E1…E12")
    description: str | None = None
    question_number: int | None = Field(default=None, ge=1, le=500)


class SessionIncident(IssueReport):
    """An incident that concerned the whole room (power cut, network down for everyone, fire alarm…)."""

    recorded_at: datetime = Field(
        description="when it was written down: live in the invigilator space, or at finalisation"
    )
    source: Literal["invigilator_space", "finalisation"] = Field(
        description="recorded live by the invigilator, or transcribed from the paper PV at finalisation"
    )


class FinalisedCandidate(CandidateIdentity):
    present: bool
    completed: bool
    abort_reason: Literal["candidate", "technical"] | None = None
    extra_time_percentage: int = 0
    started_at: datetime | None = None
    ended_at: datetime | None = None
    issue_reports: list[IssueReport] = Field(default_factory=list)
    test_state: str | None = Field(
        default=None,
        description="not_started, completed, ended_by_invigilator or ended_due_to_finalisation",
    )


class FinalisationFields(BaseModel):
    """What a finalisation says (SessionFinalised, and SessionFinalisationAmended for its correction)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    session_id: str
    session_number: int
    uai: str
    certification_center: str
    session_date: date
    session_time: str
    finalised_at: datetime
    examiner_global_comment: str | None = personal(
        None, max_length=500, description="free text, which may name candidates"
    )
    has_incident: bool
    has_joining_issue: bool
    is_publishable: bool
    candidates: list[FinalisedCandidate] = personal()
    had_invigilator_access: bool | None = Field(
        default=None, description="an invigilator logged in to the session's invigilator space"
    )
    session_incidents: list[SessionIncident] = Field(
        default_factory=list,
        description="the PV d'incident's entries for the whole room (per-candidate ones are in candidates)",
    )
    pix_session_number: int | None = Field(
        default=None,
        ge=1,
        description="the session's number in Pix Certif when the school recorded it (SessionUpdated)",
    )


@routed("finalisation", FINALISATION, "session_finalised", "session_id")
class SessionFinalised(FinalisationFields, Event):
    pass


@routed("finalisation", FINALISATION, "session_finalisation_amended", "session_id")
class SessionFinalisationAmended(FinalisationFields, Event):
    """The referent corrected a finalisation (README, *Phase 3 walkthrough*, corrections): the whole
    form again, as amended; ``finalised_at`` stays the first finalisation's. Allowed only within
    ``FINALISATION_AMENDMENT_HOURS`` of it and before any result arrived; presence never changes."""

    amended_at: datetime
    amendment: int = Field(ge=1, description="1 for the first amendment of the session, then 2…")
    amended_by: str | None = Field(default=None, description="who amended: the token's subject (no name)")


@routed("finalisation", FINALISATION, "session_started", "session_id")
class SessionStarted(Event):
    """The session's first test started: raised once per session, with that first start.

    From then on the session may no longer be edited, deleted or have its enrolment changed.
    """

    session_id: str
    uai: str
    session_number: int
    started_at: datetime = Field(description="when the first candidate's test started")
    first_candidate_id: str | None = Field(default=None, description="the candidate who started first")


@routed("finalisation", FINALISATION, "session_finalisation_overdue", "session_id")
class SessionFinalisationOverdue(Event):
    session_id: str
    uai: str
    session_date: date
    due_at: datetime
    detected_at: datetime


class CertificationResult(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    certification_id: int
    candidate_id: str
    learner_id: str
    ine: str | None = personal(None)
    first_name: str = personal()
    last_name: str = personal()
    birthdate: date = personal()
    birthplace: str | None = personal(None)
    external_id: str | None = personal(None, description="the school's own id of the learner (often the INE)")
    status: _ResultStatusField
    pix_score: int | None = Field(default=None, ge=0, le=1024)
    global_level: str | None = Field(default=None, description="V3 level key, e.g. LEVEL_INDEPENDENT_3")
    competence_levels: dict[str, int | None] = Field(
        default_factory=dict, description="level per competence id; None when not tested"
    )
    verification_code: str | None = Field(default=None, pattern=r"^P-[A-Za-z0-9]{8}$")
    taken_at: datetime
    taken_on: date | None = Field(default=None, description="the day of the test as Pix gives it (France)")
    published_at: datetime | None = None
    jury_comment: str | None = personal(None, description="free text about the candidate")


@routed("finalisation", FINALISATION, "results_processed", "session_id")
class ResultsProcessed(Event):
    session_id: str
    session_number: int
    uai: str
    certification_center: str
    source: Literal["class_results_csv", "livret_json"]
    results_sha256: str
    results: list[CertificationResult] = personal()
    unmatched_rows: int = 0
    processed_at: datetime
    pix_session_number: int | None = Field(
        default=None,
        ge=1,
        description="the session's number in Pix Certif when recorded: what Pix's files (the class"
        " CSV's Session column) show for it",
    )


@routed("finalisation", FINALISATION, "result_assigned", "session_id")
class ResultAssigned(Event):
    """A results row matching left without a candidate was given to one by hand; the session's
    ResultsProcessed follows, with that result in it."""

    session_id: str
    uai: str
    certification_id: int
    candidate_id: str
    learner_id: str
    kind: Literal["unmatched", "ambiguous"] = Field(description="why matching left the row")
    assigned_at: datetime
    assigned_by: str | None = Field(default=None, description="who assigned: the token's subject (no name)")
