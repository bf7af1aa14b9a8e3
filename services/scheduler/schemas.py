"""Request and response bodies of the scheduler's HTTP API (what OpenAPI documents).

Business validation (times, windows, overlaps…) is left to the domain so that it answers with its
own codes (``session.invalid_time``…) rather than a generic ``request.invalid``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from services.scheduler.domain.calendar import SchoolLevel

HalfDayName = Literal["morning", "afternoon"]
Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
WEEKDAYS: tuple[str, ...] = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class RoomIn(_In):
    name: str = Field(min_length=1, max_length=100, description="Nom de la salle")
    workstations: int = Field(ge=0, le=1000, description="working workstations (postes en état de marche)")
    site: str = Field(default="", max_length=200, description="Nom du site; defaults to the school's site")


class AvailabilityIn(_In):
    date: dt.date
    half_day: HalfDayName


class StaffIn(_In):
    name: str = Field(min_length=1, max_length=100)
    availability: list[AvailabilityIn] | None = Field(
        default=None, description="half-days this person can invigilate; null = whenever the school is open"
    )


class TimeRangeIn(_In):
    start: str = Field(examples=["08:00"])
    end: str = Field(examples=["12:00"])


class ClosureIn(_In):
    start: dt.date
    end: dt.date
    label: str = ""


def _default_open() -> dict[str, list[HalfDayName]]:
    both: list[HalfDayName] = ["morning", "afternoon"]
    return {"monday": both, "tuesday": both, "wednesday": ["morning"], "thursday": both, "friday": both}


class HoursIn(_In):
    morning: TimeRangeIn = TimeRangeIn(start="08:00", end="12:00")
    afternoon: TimeRangeIn = TimeRangeIn(start="13:30", end="17:30")
    open_half_days: dict[Weekday, list[HalfDayName]] = Field(default_factory=_default_open)
    closures: list[ClosureIn] = Field(default_factory=list, description="holidays, exams… (inclusive)")


class SchoolIn(_In):
    name: str = Field(min_length=1, max_length=200)
    level: SchoolLevel
    city: str = ""
    site: str = Field(default="", description="default Nom du site of its sessions")
    rooms: list[RoomIn] = Field(default_factory=list)
    staff: list[StaffIn] = Field(default_factory=list)
    hours: HoursIn = Field(default_factory=HoursIn)


class ClassOut(BaseModel):
    division: str
    learners: int
    certifiable: int


class SchoolOut(BaseModel):
    uai: str
    name: str
    level: SchoolLevel
    city: str
    site: str
    rooms: list[RoomIn]
    staff: list[StaffIn]
    hours: HoursIn
    classes: list[ClassOut] = Field(description="from the learners read model (eligibility events)")
    updated_at: dt.datetime


class CalendarOut(BaseModel):
    """The school's calendar for one school year (its track: collège or lycée)."""

    school_year: str
    track: Literal["college", "lycee"]
    state: Literal["published", "provisional", "missing"] = Field(
        description="missing: no calendar (sessions refused); provisional: official dates not published"
    )
    window: dict[str, dt.date] | None = None
    catch_up: dict[str, dt.date] | None = None
    pix_certif_opening: dt.date | None = Field(
        default=None, description="no session of the year may be created before this day"
    )
    pix_certif_opening_estimated: bool = False
    note: str = ""
    source: str = ""


class ChecklistClassOut(BaseModel):
    division: str
    mef_code: str = Field(description="the most frequent MEF code of its active learners ('' when none)")
    level: str = Field(description="the level the MEF code says, e.g. '3e', 'BTS en 2 ans, 2e année'")
    certifying: bool = Field(
        description="planned by default (3e; terminale, CAP, BTS 2e année, CPGE 2e année)"
    )
    learners: int
    certifiable: int


class ChecklistOut(BaseModel):
    uai: str
    calendar: CalendarOut
    warnings: list[str] = Field(description="what to settle before planning; empty when all is set")
    certifying_divisions: list[str]
    classes: list[ChecklistClassOut]


class PlanIn(_In):
    school_year: str | None = Field(
        default=None, pattern=r"^\d{4}-\d{4}$", description="defaults to the current school year"
    )
    not_before: dt.date | None = Field(
        default=None, description="first day to plan; at the earliest tomorrow"
    )
    divisions: list[Annotated[str, Field(min_length=1, max_length=100)]] | None = Field(
        default=None,
        min_length=1,
        description="plan only these classes (SIECLE labels, e.g. 3A, TG2); default: the certifying"
        " classes by their students' MEF code (3e; terminale, CAP, BTS 2e année, CPGE 2e année)",
        examples=[["3A", "3B"]],
    )
    catch_up: bool = Field(
        default=False,
        description="plan in the calendar's catch-up week: the learners no session holds, the absent"
        " and aborted of finalised sessions among them (refused when the year has none)",
    )


class PlannedClassOut(BaseModel):
    division: str
    students: int


class PlannedSessionOut(BaseModel):
    date: dt.date
    half_day: HalfDayName
    time: str
    room: str
    site: str
    invigilators: list[str]
    classes: list[PlannedClassOut]
    learner_ids: list[str]


class PlanError(BaseModel):
    code: str
    message: str
    reasons: list[str]


class PlanOut(BaseModel):
    plan_id: uuid.UUID
    uai: str
    school_year: str
    status: Literal["proposed", "impossible", "confirmed"]
    window: dict[str, dt.date]
    students: int
    divisions: list[str] | None = Field(
        default=None, description="the classes asked for; None: every class of the school"
    )
    sessions: list[PlannedSessionOut]
    half_days: list[dict[str, Any]]
    notes: list[str]
    warnings: list[str] = Field(
        default_factory=list,
        description="classes asked for by name in divisions whose MEF is not a certifying level",
    )
    error: PlanError | None = Field(default=None, description="why no plan exists (status impossible)")
    created_at: dt.datetime
    confirmed_at: dt.datetime | None = None
    session_ids: list[uuid.UUID] = Field(default_factory=list, description="sessions created on confirm")
    catch_up: bool = Field(default=False, description="planned in the calendar's catch-up week")


class SessionIn(_In):
    room: str
    invigilators: list[str] = Field(min_length=1)
    date: dt.date
    time: str = Field(description="HH:MM, local time of the school", examples=["08:30"])
    site: str | None = Field(default=None, description="Nom du site; defaults to the room's or school's")
    observations: str = ""


class SessionPatch(_In):
    room: str | None = None
    invigilators: list[str] | None = None
    date: dt.date | None = None
    time: str | None = None
    site: str | None = None
    observations: str | None = None


class CandidateOut(BaseModel):
    candidate_id: uuid.UUID
    learner_id: str
    ine: str | None
    first_name: str
    last_name: str
    birthdate: dt.date
    division: str
    extra_time_percentage: int
    override_reason: str | None
    adapted_conditions: str | None = None


class DocumentOut(BaseModel):
    kind: str
    file_name: str
    sha256: str
    size_bytes: int
    candidates: int
    issued_at: dt.datetime


class SessionOut(BaseModel):
    session_id: uuid.UUID
    session_number: int
    uai: str
    certification_center: str
    site: str
    room: str
    invigilators: list[str]
    date: dt.date
    time: str
    observations: str
    access_code: str
    pix_session_number: int | None = Field(
        default=None, description="the session's number in Pix Certif, once the school recorded it"
    )
    pix_access_code: str | None = Field(default=None, description="Pix Certif's access code, once recorded")
    status: Literal["scheduled", "cancelled"]
    started: bool
    finalised_at: dt.datetime | None
    plan_id: uuid.UUID | None
    candidates_count: int
    lifecycle: Literal[
        "planned", "convoked", "started", "finalised", "results_received", "exported", "cancelled"
    ] = Field(default="planned", description="the furthest step reached (issue 16)")
    convoked_at: dt.datetime | None = None
    started_at: dt.datetime | None = Field(default=None, description="the first test's start")
    results_received_at: dt.datetime | None = None
    exported_at: dt.datetime | None = Field(default=None, description="a livret produced after the results")


class SessionDetailOut(SessionOut):
    invigilator_password: str = Field(
        description="as printed on the kit and typed: C-XXXXXX (Pix Certif's once recorded)"
    )
    candidates: list[CandidateOut]
    documents: list[DocumentOut]


class EnrolmentIn(_In):
    division: str | None = Field(default=None, description="enrol the whole class (SIECLE label)")
    learner_ids: list[str] | None = Field(default=None, description="or these learners")
    overrides: dict[str, str] = Field(
        default_factory=dict, description="learner id → why a non-certifiable learner is enrolled anyway"
    )
    extra_time: dict[str, int] = Field(default_factory=dict, description="learner id → extra time in %")
    adapted_conditions: dict[str, str] = Field(
        default_factory=dict,
        description="learner id → adapted conditions (accessibility), printed on the invigilator kit",
    )


class CandidatePatch(_In):
    """A correction until finalisation; a field left out is unchanged (adapted_conditions null clears them)."""

    extra_time_percentage: int | None = Field(default=None, description="extra time in %, 0 for none")
    adapted_conditions: str | None = Field(default=None, description="accessibility arrangements")


class RefusalOut(BaseModel):
    learner_id: str
    code: str
    message: str


class EnrolmentOut(BaseModel):
    session_id: uuid.UUID
    enrolled: list[CandidateOut]
    already_enrolled: list[str]
    refused: list[RefusalOut]


class ConvocationsOut(BaseModel):
    session_id: uuid.UUID
    candidate_ids: list[uuid.UUID]
    bundle_file: str
    bundle_sha256: str
    issued_at: dt.datetime


class PixCertifIn(_In):
    """A session's values as Pix Certif shows them in its session list."""

    session_number: int = Field(description="Pix's N° de session", examples=[12345])
    access_code: str = Field(description="Pix's code d'accès (4 letters, 2 digits)", examples=["FMKP39"])
    invigilator_password: str = Field(
        description="Pix's mot de passe de session, with or without its C- prefix", examples=["C-b7K?2x"]
    )


class PixCertifImportOut(BaseModel):
    uai: str
    file_name: str
    recorded: list[uuid.UUID] = Field(description="sessions whose Pix values the file changed")
    unchanged: list[uuid.UUID] = Field(description="sessions that already had the file's values")
    skipped_lines: list[int] = Field(description="lines whose three Pix cells were empty")
