"""Read-model records the export works from.

They mirror what the export service keeps from other services' events (learner roster from
eligibility, enrolments from the scheduler, results from finalisation). Identifiers follow the
event contracts: learner, candidate and session ids are strings, certification ids integers.
Records are frozen so a snapshot handed to a renderer cannot change underneath it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from types import MappingProxyType

from shared.contracts.events import ResultStatus


@dataclass(frozen=True, slots=True)
class Learner:
    """A learner of the current roster (SIECLE import); the source of names and INE for the livret,
    and of the class CSV's birthplace when the certification result has none (``birth_city``)."""

    id: str
    uai: str
    ine: str | None
    first_name: str
    middle_name: str | None
    third_name: str | None
    last_name: str
    birthdate: date
    division: str
    active: bool = True
    birth_city: str | None = None


@dataclass(frozen=True, slots=True)
class Candidate:
    """An enrolment of a learner into a session: the link from a result back to the roster."""

    id: str
    learner_id: str
    session_id: str


_NO_LEVELS: Mapping[str, int | None] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class CertificationResult:
    """One certification course and its result.

    Names, birth date and birth place are those recorded on the course (what the CSV and the
    attestation show); the livret uses the roster instead. ``competence_levels`` maps a competence
    id ("1.1") to its level (−1..8); a missing id or ``None`` means "not tested".
    ``published_at`` is the session's publication time (the livret's ``deliveredAt``).
    """

    certification_id: int
    candidate_id: str
    session_id: str
    session_number: int
    status: ResultStatus
    published: bool
    pix_score: int | None
    taken_at: datetime
    first_name: str
    last_name: str
    birthdate: date
    certification_center: str
    verification_code: str | None = None
    published_at: datetime | None = None
    birthplace: str | None = None
    external_id: str | None = None
    jury_comment_for_organization: str | None = None
    rejected_automatically: bool = False
    competence_levels: Mapping[str, int | None] = field(default_factory=lambda: _NO_LEVELS)

    def level_of(self, competence_id: str) -> int | None:
        """The level for a competence, or None when it was not tested."""
        return self.competence_levels.get(competence_id)
