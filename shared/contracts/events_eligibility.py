"""The events eligibility publishes: learners imported, changed, erased; certifiability assessed.

Part of the v1 catalogue (``shared.contracts.events``, where consumers import them from).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts.event_base import Event, personal, routed
from shared.contracts.topics import ELIGIBILITY

CertifiabilityStatus = Literal["certifiable", "not_certifiable", "unknown"]


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


@routed("eligibility", ELIGIBILITY, "learners_imported", "uai")
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


@routed("eligibility", ELIGIBILITY, "learner_registered", "learner_id")
class LearnerRegistered(LearnerSnapshot, Event):
    pass


@routed("eligibility", ELIGIBILITY, "learner_updated", "learner_id")
class LearnerUpdated(LearnerSnapshot, Event):
    changed_fields: list[str] = Field(default_factory=list)
    active: bool = True


@routed("eligibility", ELIGIBILITY, "learner_deactivated", "learner_id")
class LearnerDeactivated(Event):
    learner_id: str
    uai: str
    division: str
    reason: str = "absent_from_latest_roster"
    deactivated_at: datetime


@routed("eligibility", ELIGIBILITY, "learner_erasure_requested", "learner_id")
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


@routed("eligibility", ELIGIBILITY, "certifiability_assessed", "learner_id")
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


@routed("eligibility", ELIGIBILITY, "remediation_requested", "session_id")
class RemediationRequested(Event):
    session_id: str
    uai: str
    session_date: date
    due_date: date
    learners: list[MissingCompetences]
    requested_at: datetime
