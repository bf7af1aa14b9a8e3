"""Enrolling a school's students into a session, class by class (Pix SCO enrolment, pix-domain §2.4).

Rules: only learners of the session's school; one person once per session (normalised names +
birth date, like Pix's duplicate rule); a learner who is not certifiable is refused unless the
school overrides with a reason, which is kept; the room's workstations are never exceeded, nor one
invigilator for 20 candidates.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date

from services.scheduler.domain.errors import DomainError
from services.scheduler.domain.planner import CANDIDATES_PER_INVIGILATOR, invigilators_needed

#: Pix stores extra time as a ratio 0 ≤ x < 10; files and screens carry a whole percentage.
MAX_EXTRA_TIME_PERCENTAGE = 999

_LIGATURES = str.maketrans(
    {
        "œ": "oe",
        "Œ": "oe",
        "æ": "ae",
        "Æ": "ae",
        "ß": "ss",
        "ø": "o",
        "Ø": "o",
        "ł": "l",
        "Ł": "l",
        "đ": "d",
        "Đ": "d",
    }
)


@dataclass(frozen=True, slots=True)
class Learner:
    """A student as imported from SIECLE by the eligibility service."""

    id: str
    school_id: str  # UAI
    last_name: str
    first_name: str
    birthdate: date
    division: str
    certifiable: bool


@dataclass(frozen=True, slots=True)
class Candidate:
    """A learner enrolled in one session."""

    learner_id: str
    session_number: int
    last_name: str
    first_name: str
    birthdate: date
    division: str
    extra_time_percentage: int = 0
    #: why a non-certifiable learner was enrolled anyway (None when certifiable).
    certifiability_override: str | None = None
    #: adapted conditions (accessibility) printed on the kit and the attendance sheet; None: none
    adapted_conditions: str | None = None

    @property
    def extra_time_ratio(self) -> float:
        return self.extra_time_percentage / 100

    @property
    def identity_key(self) -> tuple[str, str, date]:
        return identity_key(self.first_name, self.last_name, self.birthdate)


@dataclass(frozen=True, slots=True)
class Refusal:
    learner_id: str
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class EnrolmentResult:
    enrolled: tuple[Candidate, ...]
    #: learners already in the session (same person): skipped, as Pix does.
    already_enrolled: tuple[str, ...]
    refused: tuple[Refusal, ...]


def normalise_name(name: str) -> str:
    """Case, accents, ligatures, spaces, hyphens and apostrophes do not distinguish two people."""
    decomposed = unicodedata.normalize("NFKD", name.translate(_LIGATURES))
    return "".join(ch for ch in decomposed.casefold() if ch.isalnum())


def identity_key(first_name: str, last_name: str, birthdate: date) -> tuple[str, str, date]:
    return normalise_name(first_name), normalise_name(last_name), birthdate


def check_extra_time(percentage: int) -> int:
    if (
        isinstance(percentage, bool)
        or not isinstance(percentage, int)
        or not (0 <= percentage <= MAX_EXTRA_TIME_PERCENTAGE)
    ):
        raise DomainError(
            "candidate.invalid_extra_time",
            f"temps majoré invalide : {percentage!r} (pourcentage entier de 0 à {MAX_EXTRA_TIME_PERCENTAGE})",
            value=percentage,
        )
    return percentage


def enrol_class(
    *,
    division: str,
    session_number: int,
    school_id: str,
    room_capacity: int,
    learners: Iterable[Learner],
    existing: Sequence[Candidate],
    overrides: Mapping[str, str] | None = None,
    extra_time: Mapping[str, int] | None = None,
) -> EnrolmentResult:
    """Enrol every learner of `division` (exact SIECLE label); see `enrol_learners` for the rules."""
    return enrol_learners(
        session_number=session_number,
        school_id=school_id,
        room_capacity=room_capacity,
        learners=[learner for learner in learners if learner.division == division],
        existing=existing,
        overrides=overrides,
        extra_time=extra_time,
    )


def enrol_learners(
    *,
    session_number: int,
    school_id: str,
    room_capacity: int,
    learners: Sequence[Learner],
    existing: Sequence[Candidate],
    overrides: Mapping[str, str] | None = None,
    extra_time: Mapping[str, int] | None = None,
    invigilators: int | None = None,
) -> EnrolmentResult:
    """Enrol `learners` into the session whose candidates are `existing`.

    - a learner of another school refuses the whole request (`enrolment.foreign_learner`);
    - an invalid extra time refuses the whole request (`candidate.invalid_extra_time`);
    - an override without a reason refuses the whole request (`enrolment.override_reason_required`);
    - a learner already enrolled (same normalised names and birth date) is skipped;
    - a non-certifiable learner without override is refused alone (`candidate.not_certifiable`);
    - if the accepted learners do not fit the room, the whole request is refused
      (`room.capacity_exceeded`) so a class is never half-enrolled; likewise when the session's
      `invigilators` (if given) are fewer than one per 20 candidates (`session.invigilators_short`).
    """
    overrides = overrides or {}
    extra_time = extra_time or {}
    foreign = [le.id for le in learners if le.school_id != school_id]
    if foreign:
        raise DomainError(
            "enrolment.foreign_learner",
            f"{len(foreign)} élève(s) n'appartiennent pas à l'établissement {school_id}",
            learner_ids=foreign,
        )
    for learner_id, percentage in extra_time.items():
        try:
            check_extra_time(percentage)
        except DomainError as error:
            error.details["learner_id"] = learner_id
            raise
    blank = [lid for lid, reason in overrides.items() if not reason or not reason.strip()]
    if blank:
        raise DomainError(
            "enrolment.override_reason_required",
            "inscrire un élève non certifiable demande un motif",
            learner_ids=blank,
        )

    seen = {candidate.identity_key for candidate in existing}
    enrolled: list[Candidate] = []
    already: list[str] = []
    refused: list[Refusal] = []
    for learner in learners:
        key = identity_key(learner.first_name, learner.last_name, learner.birthdate)
        if key in seen:
            already.append(learner.id)
            continue
        override = overrides.get(learner.id)
        if not learner.certifiable and override is None:
            refused.append(
                Refusal(
                    learner.id,
                    "candidate.not_certifiable",
                    f"{learner.first_name} {learner.last_name} ({learner.division}) n'est pas certifiable",
                )
            )
            continue
        seen.add(key)
        enrolled.append(
            Candidate(
                learner_id=learner.id,
                session_number=session_number,
                last_name=learner.last_name.strip(),
                first_name=learner.first_name.strip(),
                birthdate=learner.birthdate,
                division=learner.division,
                extra_time_percentage=extra_time.get(learner.id, 0),
                certifiability_override=None if learner.certifiable or override is None else override.strip(),
            )
        )
    if len(existing) + len(enrolled) > room_capacity:
        raise DomainError(
            "room.capacity_exceeded",
            f"la salle compte {room_capacity} postes : {len(existing)} inscrit(s) + {len(enrolled)} demandé(s)",
            capacity=room_capacity,
            enrolled=len(existing),
            requested=len(enrolled),
        )
    if invigilators is not None:
        check_invigilators(len(existing) + len(enrolled), invigilators)
    return EnrolmentResult(tuple(enrolled), tuple(already), tuple(refused))


def check_invigilators(candidates: int, invigilators: int) -> None:
    """A session needs at least ceil(candidates / 20) invigilators."""
    needed = invigilators_needed(candidates)
    if invigilators < needed:
        raise DomainError(
            "session.invigilators_short",
            f"{candidates} candidat(s) demandent au moins {needed} surveillant(s)"
            f" (un pour {CANDIDATES_PER_INVIGILATOR}) : la session en compte {invigilators}",
            candidates=candidates,
            needed=needed,
            invigilators=invigilators,
        )


def set_extra_time(candidate: Candidate, percentage: int) -> Candidate:
    return replace(candidate, extra_time_percentage=check_extra_time(percentage))
