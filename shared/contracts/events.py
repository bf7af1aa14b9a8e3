"""The v1 event catalogue: every event certibus publishes, as pydantic models.

Each class names its CloudEvents type (with the version suffix), its owning service and topic,
and which field is the aggregate id (the Kafka key and ``ce_subject``). Consumers ignore fields
they do not know, so adding an optional field is a compatible change; anything else needs a new
type (``….v2``) published alongside the old one while consumers move (see docs/events/README.md).
Past 400 lines on purpose: the whole public contract in one file, as the catalogue lists it.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from shared.contracts.topics import ELIGIBILITY, EXPORT, FINALISATION, SCHEDULER

#: JSON Schema keyword marking a field whose value is personal data (docs/events, docs/asyncapi)
PERSONAL_DATA = "x-personal-data"


def personal(default: object = ..., *, description: str | None = None, **kwargs: object) -> Any:
    """A pydantic Field marked as personal data: a subscriber must erase it on LearnerErasureRequested."""
    return Field(default, description=description, json_schema_extra={PERSONAL_DATA: True}, **kwargs)  # type: ignore[call-overload]


def personal_fields(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Dotted paths of the fields marked personal in ``model`` and the models it nests."""
    found = []
    for name, info in model.model_fields.items():
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        if extra.get(PERSONAL_DATA):
            found.append(prefix + name)
        for nested in _models_in(info.annotation):
            found += personal_fields(nested, f"{prefix}{name}.")
    return found


def _models_in(annotation: object) -> list[type[BaseModel]]:
    """The pydantic models an annotation names (``list[X]``, ``X | None``, ``dict[str, X]``…)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in get_args(annotation) for m in _models_in(arg)]


CertifiabilityStatus = Literal["certifiable", "not_certifiable", "unknown"]
SchoolLevel = Literal["college", "lycee"]


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


class Event(BaseModel):
    """Base of every event: immutable, tolerant of unknown fields when read."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    event_type: ClassVar[str]
    source_service: ClassVar[str]
    topic: ClassVar[str]
    subject_field: ClassVar[str]
    #: dotted paths of the fields holding personal data (empty: the event carries none)
    personal_data: ClassVar[tuple[str, ...]]

    def subject(self) -> str:
        """The aggregate id: Kafka key and ``ce_subject``."""
        return str(getattr(self, self.subject_field))


def _event(service: str, topic: str, name: str, subject: str, version: int = 1):
    """Class decorator filling the routing metadata of an event type."""

    def apply(cls: type[Event]) -> type[Event]:
        cls.event_type = f"certibus.{service}.{name}.v{version}"
        cls.source_service = service
        cls.topic = topic
        cls.subject_field = subject
        cls.personal_data = tuple(personal_fields(cls))
        return cls

    return apply


# --------------------------------------------------------------------------------------------
# eligibility


class LearnerSnapshot(BaseModel):
    """A learner as imported from SIECLE / Pix Orga; the whole record travels on every change."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    learner_id: str = Field(description="certibus id of the learner (stable across re-imports)")
    uai: str = Field(description="school UAI, 7 digits + check letter")
    ine: str | None = personal(description="national student id (INE), 11 characters")
    first_name: str = personal()
    middle_name: str | None = personal(None)
    third_name: str | None = personal(None)
    last_name: str = personal(description="birth name (Nom de famille)")
    preferred_last_name: str | None = personal(None, description="Nom d'usage")
    birthdate: date = personal()
    sex: Literal["M", "F"] | None = personal(None)
    birth_city: str | None = personal(None)
    birth_city_code: str | None = personal(None)
    birth_department_code: str | None = personal(None)
    birth_country_code: str | None = personal(None)
    mef_code: str | None = None
    division: str = Field(description="class label from SIECLE, e.g. '3A'")
    status: str | None = Field(default=None, description="SIECLE Statut column (ST, AP, …)")


@_event("eligibility", ELIGIBILITY, "learners_imported", "uai")
class LearnersImported(Event):
    uai: str
    import_id: str
    file_name: str
    file_format: Literal["pix_orga_csv", "siecle_xml"]
    total: int
    registered: int
    updated: int
    deactivated: int
    reactivated: int = 0
    imported_at: datetime


@_event("eligibility", ELIGIBILITY, "learner_registered", "learner_id")
class LearnerRegistered(LearnerSnapshot, Event):
    pass


@_event("eligibility", ELIGIBILITY, "learner_updated", "learner_id")
class LearnerUpdated(LearnerSnapshot, Event):
    changed_fields: list[str] = Field(default_factory=list)
    active: bool = True


@_event("eligibility", ELIGIBILITY, "learner_deactivated", "learner_id")
class LearnerDeactivated(Event):
    learner_id: str
    uai: str
    division: str
    reason: str = "absent_from_latest_roster"
    deactivated_at: datetime


@_event("eligibility", ELIGIBILITY, "learner_erasure_requested", "learner_id")
class LearnerErasureRequested(Event):
    """A learner's personal data is erased: every subscriber erases it from what it stores, keeping counts.

    Raised by eligibility once it has erased its own copy (README, *Erasing a learner*); it names
    the learner by id only. Events about the learner published before it may still be replayed:
    a subscriber keeps the erasure and does not let them bring the data back.
    """

    learner_id: str
    uai: str
    requested_by: str = Field(description="who asked: the operator's token subject (no name)")
    requested_at: datetime


@_event("eligibility", ELIGIBILITY, "certifiability_assessed", "learner_id")
class CertifiabilityAssessed(Event):
    learner_id: str
    uai: str
    division: str
    status: CertifiabilityStatus
    certifiable_competences: int | None = Field(description="competences at level ≥ 1; None when unknown")
    competences_needed: int | None = Field(description="max(0, 5 - certifiable_competences)")
    competence_levels: dict[str, int] = Field(default_factory=dict, description="level per competence id")
    pix_total: int | None = None
    shared_at: datetime | None = None
    source: str = Field(description="where the assessment comes from, e.g. the campaign file name")
    assessed_at: datetime
    origin: Literal["campaign_export", "orga_certificability"] | None = Field(
        default=None,
        description=(
            "what kind of file the assessment comes from: a profile-collection campaign export (levels,"
            " dated by shared_at) or Pix Orga's nightly certificability (dated by certifiable_at);"
            " absent from events published before it existed (campaign exports)"
        ),
    )
    certifiable_at: date | None = Field(
        default=None, description="the day Pix Orga computed the certificability (orga_certificability only)"
    )


class MissingCompetences(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    learner_id: str
    division: str
    status: CertifiabilityStatus
    certifiable_competences: int | None
    competences_needed: int | None
    competences_at_level_zero: list[str] = Field(default_factory=list)


@_event("eligibility", ELIGIBILITY, "remediation_requested", "session_id")
class RemediationRequested(Event):
    session_id: str
    uai: str
    session_date: date
    due_date: date
    learners: list[MissingCompetences]
    requested_at: datetime


# --------------------------------------------------------------------------------------------
# scheduler


class SessionFields(BaseModel):
    """A certification session as Pix Certif models it (pix-domain §1.1), without its secret."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    session_id: str
    session_number: int = Field(description="public session number (N° de session)")
    uai: str
    certification_center: str = Field(description="school name")
    school_level: SchoolLevel
    address: str = Field(description="Nom du site")
    room: str
    examiners: list[str] = personal(description="invigilators' names")
    date: date
    time: str = Field(pattern=r"^(0[0-9]|1[0-9]|2[0-3]):[0-5][0-9]$")
    duration_minutes: int = 120
    test_minutes: int = 105
    description: str | None = None
    access_code: str = Field(pattern=r"^[BCDFGHJKMPQRTVWXY]{4}[2346789]{2}$")


class SessionDetails(SessionFields):
    """A session as v2 announces it: the invigilator password as a verifier only keyed services check.

    Once the school recorded the session's Pix Certif values (issue 16), ``pix_session_number`` and
    ``pix_access_code`` are Pix's, and the verifier is that of Pix's password: the one the kit prints
    and the invigilator types. Both stay None (and the verifier certibus's own password's) before.
    """

    invigilator_password_verifier: str = Field(
        description="HMAC-SHA256 of the password under INVIGILATOR_PASSWORD_KEY (shared.password_hash),"
        " which only scheduler and finalisation hold: no guess can be tested without it. Pix Certif's"
        " password once recorded (pix_session_number set), else the one certibus drew"
    )
    pix_session_number: int | None = Field(
        default=None,
        ge=1,
        description="the session's number in Pix Certif (N° de session), once the school recorded it;"
        " what candidates, invigilators and Pix's result files use",
    )
    pix_access_code: str | None = Field(
        default=None,
        pattern=r"^[BCDFGHJKMPQRTVWXY]{4}[2346789]{2}$",
        description="Pix Certif's access code (code d'accès) of the session, once recorded",
    )


class SessionDetailsV1(SessionFields):
    """A session as v1 announced it: with the password's scrypt hash, which anyone can test guesses on."""

    invigilator_password_hash: str = Field(description="salted hash; the password never travels in clear")

    @property
    def invigilator_password_verifier(self) -> str:
        """The v1 hash, verified as such (shared.password_hash reads either kind)."""
        return self.invigilator_password_hash


@_event("scheduler", SCHEDULER, "session_created", "session_id", version=2)
class SessionCreated(SessionDetails, Event):
    created_at: datetime


@_event("scheduler", SCHEDULER, "session_updated", "session_id", version=2)
class SessionUpdated(SessionDetails, Event):
    changed_fields: list[str] = Field(default_factory=list)
    updated_at: datetime


@_event("scheduler", SCHEDULER, "session_created", "session_id")
class SessionCreatedV1(SessionDetailsV1, Event):
    """Retired (no longer published, docs/adr/0007): read only from records written before v2."""

    created_at: datetime


@_event("scheduler", SCHEDULER, "session_updated", "session_id")
class SessionUpdatedV1(SessionDetailsV1, Event):
    """Retired (no longer published, docs/adr/0007): read only from records written before v2."""

    changed_fields: list[str] = Field(default_factory=list)
    updated_at: datetime


#: a session's announcement, whichever version carried it (what the consumers' read models take)
AnySessionDetails = SessionDetails | SessionDetailsV1
#: the retired type each current one replaces: consumers register the same handler for both
RETIRED_SESSION_EVENTS: dict[type[Event], type[Event]] = {
    SessionCreated: SessionCreatedV1,
    SessionUpdated: SessionUpdatedV1,
}


@_event("scheduler", SCHEDULER, "session_cancelled", "session_id")
class SessionCancelled(Event):
    session_id: str
    uai: str
    reason: str | None = None
    cancelled_at: datetime


class EnrolledCandidate(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    candidate_id: str
    learner_id: str
    ine: str | None = personal()
    first_name: str = personal()
    last_name: str = personal()
    birthdate: date = personal()
    division: str
    extra_time_percentage: int = Field(default=0, ge=0, lt=1000)
    override_reason: str | None = Field(
        default=None, description="why a learner who is not certifiable was enrolled anyway"
    )
    adapted_conditions: str | None = Field(
        default=None,
        max_length=500,
        description="adapted conditions (accessibility) the candidate sits with, printed on the"
        " invigilator kit and the attendance sheet; None: none",
    )


@_event("scheduler", SCHEDULER, "candidates_enrolled", "session_id")
class CandidatesEnrolled(Event):
    session_id: str
    uai: str
    candidates: list[EnrolledCandidate] = personal()
    enrolled_at: datetime


@_event("scheduler", SCHEDULER, "candidate_unenrolled", "session_id")
class CandidateUnenrolled(Event):
    session_id: str
    uai: str
    candidate_id: str
    learner_id: str
    unenrolled_at: datetime


@_event("scheduler", SCHEDULER, "candidate_updated", "session_id")
class CandidateUpdated(Event):
    """A candidate's extra time or adapted conditions corrected, until the session is finalised.

    The whole candidate travels, so a read model upserts it as it does an enrolment."""

    session_id: str
    uai: str
    candidate: EnrolledCandidate = personal()
    changed_fields: list[str] = Field(description="extra_time_percentage and/or adapted_conditions")
    updated_at: datetime


@_event("scheduler", SCHEDULER, "convocations_issued", "session_id")
class ConvocationsIssued(Event):
    session_id: str
    uai: str
    candidate_ids: list[str]
    bundle_file: str
    bundle_sha256: str
    issued_at: datetime


# --------------------------------------------------------------------------------------------
# finalisation


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


class FinalisedCandidate(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    candidate_id: str
    learner_id: str
    ine: str | None = personal()
    first_name: str = personal()
    last_name: str = personal()
    birthdate: date = personal()
    division: str
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


@_event("finalisation", FINALISATION, "session_finalised", "session_id")
class SessionFinalised(FinalisationFields, Event):
    pass


@_event("finalisation", FINALISATION, "session_finalisation_amended", "session_id")
class SessionFinalisationAmended(FinalisationFields, Event):
    """The referent corrected a finalisation (README, *Phase 3 walkthrough*, corrections): the whole
    form again, as amended; ``finalised_at`` stays the first finalisation's. Allowed only within
    ``FINALISATION_AMENDMENT_HOURS`` of it and before any result arrived; presence never changes."""

    amended_at: datetime
    amendment: int = Field(ge=1, description="1 for the first amendment of the session, then 2…")
    amended_by: str | None = Field(default=None, description="who amended: the token's subject (no name)")


@_event("finalisation", FINALISATION, "session_started", "session_id")
class SessionStarted(Event):
    """The session's first test started: raised once per session, with that first start.

    From then on the session may no longer be edited, deleted or have its enrolment changed.
    """

    session_id: str
    uai: str
    session_number: int
    started_at: datetime = Field(description="when the first candidate's test started")
    first_candidate_id: str | None = Field(default=None, description="the candidate who started first")


@_event("finalisation", FINALISATION, "session_finalisation_overdue", "session_id")
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


@_event("finalisation", FINALISATION, "results_processed", "session_id")
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


@_event("finalisation", FINALISATION, "result_assigned", "session_id")
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


# --------------------------------------------------------------------------------------------
# export


@_event("export", EXPORT, "livret_export_produced", "uai")
class LivretExportProduced(Event):
    uai: str
    level: Literal["LSU", "LSL"]
    file_name: str
    sha256: str
    certifications: int
    validated: int
    rejected: int
    pending: int
    produced_at: datetime


@_event("export", EXPORT, "class_results_exported", "uai")
class ClassResultsExported(Event):
    uai: str
    division: str
    file_name: str
    sha256: str
    rows: int
    exported_at: datetime


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
