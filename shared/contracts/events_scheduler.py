"""The events the scheduler publishes: sessions created, changed, cancelled; candidates; convocations.

Part of the v1 catalogue (``shared.contracts.events``, where consumers import them from).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts.event_base import Event, personal, routed
from shared.contracts.topics import SCHEDULER

SchoolLevel = Literal["college", "lycee"]


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


@routed("scheduler", SCHEDULER, "session_created", "session_id", version=2)
class SessionCreated(SessionDetails, Event):
    created_at: datetime


@routed("scheduler", SCHEDULER, "session_updated", "session_id", version=2)
class SessionUpdated(SessionDetails, Event):
    changed_fields: list[str] = Field(default_factory=list)
    updated_at: datetime


@routed("scheduler", SCHEDULER, "session_created", "session_id")
class SessionCreatedV1(SessionDetailsV1, Event):
    """Retired (no longer published, docs/adr/0007): read only from records written before v2."""

    created_at: datetime


@routed("scheduler", SCHEDULER, "session_updated", "session_id")
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


@routed("scheduler", SCHEDULER, "session_cancelled", "session_id")
class SessionCancelled(Event):
    session_id: str
    uai: str
    reason: str | None = None
    cancelled_at: datetime


class CandidateIdentity(BaseModel):
    """Who a candidate is, as enrolled: what the enrolment and the finalisation events both carry."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    candidate_id: str
    learner_id: str
    ine: str | None = personal()
    first_name: str = personal()
    last_name: str = personal()
    birthdate: date = personal()
    division: str


class EnrolledCandidate(CandidateIdentity):
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


@routed("scheduler", SCHEDULER, "candidates_enrolled", "session_id")
class CandidatesEnrolled(Event):
    session_id: str
    uai: str
    candidates: list[EnrolledCandidate] = personal()
    enrolled_at: datetime


@routed("scheduler", SCHEDULER, "candidate_unenrolled", "session_id")
class CandidateUnenrolled(Event):
    session_id: str
    uai: str
    candidate_id: str
    learner_id: str
    unenrolled_at: datetime


@routed("scheduler", SCHEDULER, "candidate_updated", "session_id")
class CandidateUpdated(Event):
    """A candidate's extra time or adapted conditions corrected, until the session is finalised.

    The whole candidate travels, so a read model upserts it as it does an enrolment."""

    session_id: str
    uai: str
    candidate: EnrolledCandidate = personal()
    changed_fields: list[str] = Field(description="extra_time_percentage and/or adapted_conditions")
    updated_at: datetime


@routed("scheduler", SCHEDULER, "convocations_issued", "session_id")
class ConvocationsIssued(Event):
    session_id: str
    uai: str
    candidate_ids: list[str]
    bundle_file: str
    bundle_sha256: str
    issued_at: datetime
