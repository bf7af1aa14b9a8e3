"""The invigilator space ("espace surveillant", pix-domain §4) as a pure aggregate.

`SessionRoom` holds one session's enrolled candidates and what happened to each of them on the day.
Every command takes `now` explicitly (no clock inside the domain), raises `DomainError` with a
machine-readable code when a rule refuses it, and returns the events to record in the outbox.
Past 400 lines on purpose: one aggregate, whose rules about a candidate's day only read right together.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum

from services.finalisation.domain.issue_reports import IssueReport, require_room_level
from shared.errors import DomainError

TEST_DURATION = timedelta(minutes=105)
SESSION_EXPIRY = timedelta(hours=24)
PASSWORD_PREFIX = "C-"

PasswordVerifier = Callable[[str, str], bool]


def _default_verifier(plain: str, encoded: str) -> bool:
    """Imported lazily: shared/password_hash.py is written in parallel and must not be needed at import."""
    from shared.password_hash import verify_password

    return verify_password(plain, encoded)


class TestState(StrEnum):
    """Where a candidate's test stands; Pix's assessment states plus "not started"."""

    __test__ = False  # not a pytest test class

    NOT_STARTED = "not_started"
    STARTED = "started"
    COMPLETED = "completed"
    ENDED_BY_INVIGILATOR = "ended_by_invigilator"
    ENDED_DUE_TO_FINALISATION = "ended_due_to_finalisation"


@dataclass(frozen=True, slots=True)
class EnrolledCandidate:
    """A candidate as enrolled by the scheduler; identity is needed downstream to match results."""

    candidate_id: str
    first_name: str
    last_name: str
    birthdate: date
    learner_id: str | None = None
    division: str | None = None
    ine: str | None = None
    extra_time_percentage: int = 0

    def __post_init__(self) -> None:
        if self.extra_time_percentage < 0:
            raise DomainError(
                "candidate.extra_time_invalid",
                "extra time percentage cannot be negative",
                candidate_id=self.candidate_id,
            )


@dataclass(frozen=True, slots=True)
class RecordedIncident:
    """An incident written down during the session; the referent turns it into issue reports later."""

    candidate_id: str | None
    report: IssueReport
    recorded_at: datetime


@dataclass(slots=True)
class CandidateSeat:
    """One candidate's live state in the room."""

    candidate: EnrolledCandidate
    presence_confirmed: bool = False
    authorised_to_start: bool = False
    test_state: TestState = TestState.NOT_STARTED
    started_at: datetime | None = None
    ended_at: datetime | None = None

    @property
    def candidate_id(self) -> str:
        return self.candidate.candidate_id

    @property
    def has_started(self) -> bool:
        return self.test_state is not TestState.NOT_STARTED

    @property
    def is_in_progress(self) -> bool:
        return self.test_state is TestState.STARTED

    @property
    def theoretical_end_at(self) -> datetime | None:
        """Start + 105 min, lengthened by the candidate's extra time ("temps majoré")."""
        if self.started_at is None:
            return None
        return self.started_at + test_duration(self.candidate.extra_time_percentage)

    def is_overtime(self, now: datetime) -> bool:
        end = self.theoretical_end_at
        return self.is_in_progress and end is not None and now > end


def test_duration(extra_time_percentage: int) -> timedelta:
    """105 minutes plus the candidate's extra-time percentage of it."""
    return TEST_DURATION * (1 + extra_time_percentage / 100)


test_duration.__test__ = False  # type: ignore[attr-defined]


# ---- events -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InvigilatorLoggedIn:
    session_id: str
    at: datetime


@dataclass(frozen=True, slots=True)
class PresenceConfirmed:
    session_id: str
    candidate_id: str
    at: datetime


@dataclass(frozen=True, slots=True)
class PresenceCancelled:
    session_id: str
    candidate_id: str
    at: datetime


@dataclass(frozen=True, slots=True)
class TestStarted:
    __test__ = False

    session_id: str
    candidate_id: str
    at: datetime
    theoretical_end_at: datetime


@dataclass(frozen=True, slots=True)
class ResumeAuthorised:
    session_id: str
    candidate_id: str
    at: datetime


@dataclass(frozen=True, slots=True)
class TestCompleted:
    __test__ = False

    session_id: str
    candidate_id: str
    at: datetime


@dataclass(frozen=True, slots=True)
class TestEndedByInvigilator:
    __test__ = False

    session_id: str
    candidate_id: str
    at: datetime


@dataclass(frozen=True, slots=True)
class IncidentRecorded:
    session_id: str
    candidate_id: str | None
    report: IssueReport
    at: datetime


RoomEvent = (
    InvigilatorLoggedIn
    | PresenceConfirmed
    | PresenceCancelled
    | TestStarted
    | ResumeAuthorised
    | TestCompleted
    | TestEndedByInvigilator
    | IncidentRecorded
)


# ---- aggregate ----------------------------------------------------------------------------------


@dataclass(slots=True)
class SessionRoom:
    """One certification session on the day: login, presence, tests, incidents; then finalisation."""

    session_id: str
    session_number: int
    session_date: date
    password_hash: str
    seats: dict[str, CandidateSeat] = field(default_factory=dict)
    first_test_started_at: datetime | None = None
    finalised_at: datetime | None = None
    has_invigilator_access: bool = False
    incidents: list[RecordedIncident] = field(default_factory=list)

    @classmethod
    def open(
        cls,
        session_id: str,
        session_number: int,
        session_date: date,
        password_hash: str,
        candidates: list[EnrolledCandidate] | tuple[EnrolledCandidate, ...] = (),
    ) -> SessionRoom:
        room = cls(session_id, session_number, session_date, password_hash)
        for candidate in candidates:
            room.enrol(candidate)
        return room

    # -- derived state --

    @property
    def is_finalised(self) -> bool:
        return self.finalised_at is not None

    @property
    def has_started_test(self) -> bool:
        return any(seat.has_started for seat in self.seats.values())

    def expires_at(self) -> datetime | None:
        """24 h after the first test started; None while no test has started."""
        if self.first_test_started_at is None:
            return None
        return self.first_test_started_at + SESSION_EXPIRY

    def is_expired(self, now: datetime) -> bool:
        expiry = self.expires_at()
        return expiry is not None and now >= expiry

    def seat(self, candidate_id: str) -> CandidateSeat:
        try:
            return self.seats[candidate_id]
        except KeyError:
            raise DomainError(
                "candidate.unknown",
                f"candidate {candidate_id} is not enrolled in session {self.session_number}",
                candidate_id=candidate_id,
            ) from None

    # -- enrolment (from the scheduler's events) --

    def enrol(self, candidate: EnrolledCandidate) -> None:
        self._require_not_finalised()
        existing = self.seats.get(candidate.candidate_id)
        if existing is not None and existing.has_started:
            raise DomainError(
                "candidate.already_started",
                "cannot re-enrol a candidate whose test started",
                candidate_id=candidate.candidate_id,
            )
        self.seats[candidate.candidate_id] = CandidateSeat(candidate)

    def unenrol(self, candidate_id: str) -> None:
        self._require_not_finalised()
        if self.seat(candidate_id).has_started:
            raise DomainError(
                "candidate.already_started",
                "cannot unenrol a candidate whose test started",
                candidate_id=candidate_id,
            )
        del self.seats[candidate_id]

    # -- invigilator commands --

    def log_in(
        self,
        session_number: int,
        password: str,
        now: datetime,
        verify: PasswordVerifier | None = None,
    ) -> list[RoomEvent]:
        """Invigilator login: session number + password ("C-" prefix optional), while the session is open.

        The password is checked first so that a stranger learns nothing about the session's state.
        """
        verify = verify or _default_verifier
        plain = password.strip()
        if plain.upper().startswith(PASSWORD_PREFIX):
            plain = plain[len(PASSWORD_PREFIX) :]
        if session_number != self.session_number or not plain or not verify(plain, self.password_hash):
            raise DomainError(
                "auth.bad_password", "Le numéro de session et/ou le mot de passe saisis sont incorrects."
            )
        self._require_open(now)
        self.has_invigilator_access = True
        return [InvigilatorLoggedIn(self.session_id, now)]

    def confirm_presence(self, candidate_id: str, now: datetime) -> list[RoomEvent]:
        """ "Confirmer": the candidate may now type the access code."""
        self._require_open(now)
        seat = self.seat(candidate_id)
        if seat.has_started:
            raise DomainError(
                "candidate.already_started",
                "presence is confirmed by the test itself once started",
                candidate_id=candidate_id,
            )
        if seat.presence_confirmed:
            return []
        seat.presence_confirmed = True
        seat.authorised_to_start = True
        return [PresenceConfirmed(self.session_id, candidate_id, now)]

    def cancel_presence(self, candidate_id: str, now: datetime) -> list[RoomEvent]:
        """ "Annuler la confirmation": only before the candidate started."""
        self._require_open(now)
        seat = self.seat(candidate_id)
        if seat.has_started:
            raise DomainError(
                "candidate.already_started",
                "cannot cancel the presence of a candidate who started",
                candidate_id=candidate_id,
            )
        if not seat.presence_confirmed:
            return []
        seat.presence_confirmed = False
        seat.authorised_to_start = False
        return [PresenceCancelled(self.session_id, candidate_id, now)]

    def start_test(self, candidate_id: str, now: datetime) -> list[RoomEvent]:
        """The candidate typed the access code and starts; needs a confirmed presence."""
        self._require_open(now)
        seat = self.seat(candidate_id)
        if seat.has_started:
            raise DomainError(
                "candidate.already_started", "the test already started", candidate_id=candidate_id
            )
        if not seat.authorised_to_start:
            raise DomainError(
                "candidate.not_authorised",
                "the invigilator has not confirmed this candidate's presence",
                candidate_id=candidate_id,
            )
        seat.test_state = TestState.STARTED
        seat.started_at = now
        seat.authorised_to_start = False
        if self.first_test_started_at is None:
            self.first_test_started_at = now
        end = seat.theoretical_end_at
        assert end is not None
        return [TestStarted(self.session_id, candidate_id, now, end)]

    def authorise_resume(self, candidate_id: str, now: datetime) -> list[RoomEvent]:
        """After an interruption (closed browser, crash) the candidate may come back to a running test."""
        self._require_open(now)
        seat = self.seat(candidate_id)
        self._require_in_progress(seat)
        seat.authorised_to_start = True
        return [ResumeAuthorised(self.session_id, candidate_id, now)]

    def complete_test(self, candidate_id: str, now: datetime) -> list[RoomEvent]:
        """The candidate answered the last question (allowed after expiry: the test itself was running)."""
        self._require_not_finalised()
        seat = self.seat(candidate_id)
        self._require_in_progress(seat)
        seat.test_state = TestState.COMPLETED
        seat.ended_at = now
        seat.authorised_to_start = False
        return [TestCompleted(self.session_id, candidate_id, now)]

    def end_test(self, candidate_id: str, now: datetime) -> list[RoomEvent]:
        """ "Terminer le test": the invigilator stops a running test. No-op on a test already over.

        Closed with the space once the session expired: finalisation ends what still runs."""
        self._require_open(now)
        seat = self.seat(candidate_id)
        if seat.test_state in (TestState.COMPLETED, TestState.ENDED_BY_INVIGILATOR):
            return []
        self._require_in_progress(seat)
        seat.test_state = TestState.ENDED_BY_INVIGILATOR
        seat.ended_at = now
        seat.authorised_to_start = False
        return [TestEndedByInvigilator(self.session_id, candidate_id, now)]

    def record_incident(
        self, report: IssueReport, now: datetime, candidate_id: str | None = None
    ) -> list[RoomEvent]:
        """Write an incident down as it happens (the digital PV d'incident); None = the whole room.

        Only while the space is open; afterwards the referent reports issues at finalisation."""
        self._require_open(now)
        if candidate_id is not None:
            self.seat(candidate_id)
        else:
            require_room_level(report)
        self.incidents.append(RecordedIncident(candidate_id, report, now))
        return [IncidentRecorded(self.session_id, candidate_id, report, now)]

    def incidents_for(self, candidate_id: str) -> list[IssueReport]:
        """What was recorded live for a candidate, to pre-fill their issue reports at finalisation."""
        return [i.report for i in self.incidents if i.candidate_id == candidate_id]

    # -- rules shared by commands --

    def _require_not_finalised(self) -> None:
        if self.is_finalised:
            raise DomainError("session.finalised", f"session {self.session_number} is already finalised")

    def require_open(self, now: datetime) -> None:
        """The invigilator space is open: not finalised, not expired (24 h after the first start)."""
        self._require_open(now)

    def _require_open(self, now: datetime) -> None:
        self._require_not_finalised()
        if self.is_expired(now):
            raise DomainError(
                "session.expired",
                f"session {self.session_number} expired 24 hours after its first test started",
                expired_at=self.expires_at(),
            )

    @staticmethod
    def _require_in_progress(seat: CandidateSeat) -> None:
        if not seat.is_in_progress:
            raise DomainError(
                "candidate.test_not_in_progress",
                f"the test is {seat.test_state.value}",
                candidate_id=seat.candidate_id,
            )

    def _mark_finalised(self, now: datetime) -> None:
        """Called by finalisation only, after its rules passed: running tests end with the session."""
        for seat in self.seats.values():
            seat.authorised_to_start = False
            if seat.test_state is TestState.STARTED:
                seat.test_state = TestState.ENDED_DUE_TO_FINALISATION
        self.finalised_at = now
