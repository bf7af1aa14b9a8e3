"""Session finalisation by the centre (pix-domain §5.2 – §5.4).

The referent accounts for every enrolled candidate, transcribes the PV d'incident as issue reports
and comments on the session; the result is the `SessionFinalised` fact the processing side (Pix, or
our sandbox) needs, including whether the session can be published without a jury look.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from services.finalisation.domain.invigilation import CandidateSeat, SessionRoom, TestState
from services.finalisation.domain.issue_reports import IssueReport, require_room_level
from shared.errors import DomainError

GLOBAL_COMMENT_MAX_LENGTH = 500


class AbortReason(StrEnum):
    """Why a present candidate has no completed test: "Abandon" or "Problème technique"."""

    CANDIDATE = "candidate"
    TECHNICAL = "technical"


class IncidentSource(StrEnum):
    """Where a room-level incident comes from: written live, or transcribed from the paper PV."""

    INVIGILATOR_SPACE = "invigilator_space"
    FINALISATION = "finalisation"


@dataclass(frozen=True, slots=True)
class SessionIncident:
    """An entry of the PV d'incident for the whole room (power cut, network down, fire alarm…)."""

    report: IssueReport
    recorded_at: datetime
    source: IncidentSource

    def to_payload(self) -> dict[str, Any]:
        return {
            **self.report.to_payload(),
            "recorded_at": self.recorded_at.isoformat(),
            "source": self.source.value,
        }


@dataclass(frozen=True, slots=True)
class CandidateReport:
    """What the referent declares for one enrolled candidate."""

    candidate_id: str
    present: bool
    abort_reason: AbortReason | str | None = None
    issue_reports: tuple[IssueReport, ...] = ()


@dataclass(frozen=True, slots=True)
class FinalisationRequest:
    """The finalisation form: one report per enrolled candidate, comment and the two checkboxes.

    `session_incidents` are room-level entries of the paper PV transcribed by the referent; they add
    to those the invigilator recorded live (an entry identical to a live one is that same incident).
    """

    candidate_reports: Sequence[CandidateReport]
    has_incident: bool
    has_joining_issue: bool
    examiner_global_comment: str | None = None
    session_incidents: Sequence[IssueReport] = ()


@dataclass(frozen=True, slots=True)
class FinalisedCandidate:
    candidate_id: str
    learner_id: str | None
    division: str | None
    ine: str | None
    first_name: str
    last_name: str
    birthdate: date
    present: bool
    test_state: TestState
    abort_reason: AbortReason | None
    issue_reports: tuple[IssueReport, ...]
    extra_time_percentage: int
    started_at: datetime | None
    ended_at: datetime | None

    @property
    def completed(self) -> bool:
        return self.test_state is TestState.COMPLETED

    @property
    def has_unfinished_test(self) -> bool:
        return self.test_state not in (TestState.NOT_STARTED, TestState.COMPLETED)

    def to_payload(self) -> dict[str, Any]:
        return {
            "candidate_id": self.candidate_id,
            "learner_id": self.learner_id,
            "division": self.division,
            "ine": self.ine,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "birthdate": self.birthdate.isoformat(),
            "present": self.present,
            "test_state": self.test_state.value,
            "completed": self.completed,
            "abort_reason": self.abort_reason.value if self.abort_reason else None,
            "issue_reports": [report.to_payload() for report in self.issue_reports],
            "extra_time_percentage": self.extra_time_percentage,
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "ended_at": self.ended_at.isoformat() if self.ended_at else None,
        }


@dataclass(frozen=True, slots=True)
class SessionFinalised:
    """Everything processing needs about a finalised session (the SessionFinalised event's data)."""

    session_id: str
    session_number: int
    session_date: date
    finalised_at: datetime
    examiner_global_comment: str | None
    has_incident: bool
    has_joining_issue: bool
    had_invigilator_access: bool
    candidates: tuple[FinalisedCandidate, ...] = field(default_factory=tuple)
    session_incidents: tuple[SessionIncident, ...] = ()

    @property
    def has_examiner_global_comment(self) -> bool:
        return self.examiner_global_comment is not None

    @property
    def is_publishable(self) -> bool:
        return is_publishable(self.examiner_global_comment, self.candidates, self.session_incidents)

    def to_payload(self) -> dict[str, Any]:
        """JSON-ready dict (ISO dates) for the event contract in shared/."""
        return {
            "session_id": self.session_id,
            "session_number": self.session_number,
            "session_date": self.session_date.isoformat(),
            "finalised_at": self.finalised_at.isoformat(),
            "examiner_global_comment": self.examiner_global_comment,
            "has_examiner_global_comment": self.has_examiner_global_comment,
            "has_incident": self.has_incident,
            "has_joining_issue": self.has_joining_issue,
            "had_invigilator_access": self.had_invigilator_access,
            "is_publishable": self.is_publishable,
            "candidates": [candidate.to_payload() for candidate in self.candidates],
            "session_incidents": [incident.to_payload() for incident in self.session_incidents],
        }


def is_publishable(
    examiner_global_comment: str | None,
    candidates: Sequence[FinalisedCandidate],
    session_incidents: Sequence[SessionIncident] = (),
) -> bool:
    """Pix's rule (§5.4): no global comment, no unresolved impactful report, no unfinished test.

    At finalisation no report is resolved yet, so any impactful report blocks automatic publication,
    whether it names one candidate or the whole room (then it may concern every candidate's test).
    """
    if examiner_global_comment is not None:
        return False
    if any(incident.report.is_impactful for incident in session_incidents):
        return False
    for candidate in candidates:
        if candidate.has_unfinished_test:
            return False
        if any(report.is_impactful for report in candidate.issue_reports):
            return False
    return True


def normalise_global_comment(comment: str | None) -> str | None:
    """Blank means no comment; more than 500 characters is refused."""
    if comment is None or not comment.strip():
        return None
    text = comment.strip()
    if len(text) > GLOBAL_COMMENT_MAX_LENGTH:
        raise DomainError(
            "finalisation.comment_too_long",
            f"the examiner's global comment has {len(text)} characters (at most {GLOBAL_COMMENT_MAX_LENGTH})",
            length=len(text),
        )
    return text


def finalise_session(room: SessionRoom, request: FinalisationRequest, now: datetime) -> SessionFinalised:
    """Check every finalisation rule, then mark the room finalised and return the SessionFinalised data.

    Nothing changes in `room` when a rule refuses (the call is all or nothing).
    """
    if room.is_finalised:
        raise DomainError("session.finalised", f"session {room.session_number} is already finalised")
    finalised = finalisation_of(room, request, now)
    room._mark_finalised(now)
    return finalised


def finalisation_of(room: SessionRoom, request: FinalisationRequest, now: datetime) -> SessionFinalised:
    """The finalisation `request` gives `room`, every rule checked; the room is left unchanged.

    Shared by the first finalisation and its amendment (domain/amendment.py), which runs the very
    same rules on a room already finalised.
    """
    if not room.has_started_test:
        raise DomainError(
            "finalisation.no_started_test",
            f"no test started in session {room.session_number}: nothing to finalise",
        )
    if not isinstance(request.has_incident, bool) or not isinstance(request.has_joining_issue, bool):
        raise DomainError(
            "finalisation.flags_required", "has_incident and has_joining_issue must be booleans"
        )
    comment = normalise_global_comment(request.examiner_global_comment)

    reports: dict[str, CandidateReport] = {}
    for report in request.candidate_reports:
        if report.candidate_id not in room.seats:
            raise DomainError(
                "candidate.unknown",
                f"candidate {report.candidate_id} is not enrolled in session {room.session_number}",
                candidate_id=report.candidate_id,
            )
        if report.candidate_id in reports:
            raise DomainError(
                "finalisation.duplicate_candidate_report",
                f"candidate {report.candidate_id} is reported twice",
                candidate_id=report.candidate_id,
            )
        reports[report.candidate_id] = report
    unaccounted = sorted(set(room.seats) - set(reports))
    if unaccounted:
        raise DomainError(
            "finalisation.candidates_unaccounted",
            f"{len(unaccounted)} enrolled candidate(s) are neither absent nor accounted for",
            candidate_ids=unaccounted,
        )

    finalised = tuple(
        _finalised_candidate(room.seats[candidate_id], reports[candidate_id])
        for candidate_id in sorted(reports)
    )
    incidents = _session_incidents(room, request.session_incidents, now)
    if incidents and not request.has_incident:
        # the box is the referent's own declaration: refuse rather than tick it behind their back
        raise DomainError(
            "finalisation.incident_not_declared",
            f"{len(incidents)} incident(s) concerned the whole room: has_incident must be true",
            incidents=[incident.to_payload() for incident in incidents],
        )
    return SessionFinalised(
        session_id=room.session_id,
        session_number=room.session_number,
        session_date=room.session_date,
        finalised_at=room.finalised_at or now,
        examiner_global_comment=comment,
        has_incident=request.has_incident,
        has_joining_issue=request.has_joining_issue,
        had_invigilator_access=room.has_invigilator_access,
        candidates=finalised,
        session_incidents=incidents,
    )


def _session_incidents(
    room: SessionRoom, transcribed: Sequence[IssueReport], now: datetime
) -> tuple[SessionIncident, ...]:
    """The room's live incidents, then the transcribed ones that are not one of them already."""
    live = [
        SessionIncident(i.report, i.recorded_at, IncidentSource.INVIGILATOR_SPACE)
        for i in room.incidents
        if i.candidate_id is None
    ]
    not_yet_matched = Counter(incident.report for incident in live)
    added = []
    for report in transcribed:
        require_room_level(report)
        if not_yet_matched[report]:
            not_yet_matched[report] -= 1
            continue
        added.append(SessionIncident(report, now, IncidentSource.FINALISATION))
    return (*live, *added)


def _abort_reason(report: CandidateReport) -> AbortReason | None:
    if report.abort_reason is None:
        return None
    try:
        return AbortReason(report.abort_reason)
    except ValueError:
        raise DomainError(
            "finalisation.abort_reason_unknown",
            f"abort reason {report.abort_reason!r} is not one of {[r.value for r in AbortReason]}",
            candidate_id=report.candidate_id,
        ) from None


def _finalised_candidate(seat: CandidateSeat, report: CandidateReport) -> FinalisedCandidate:
    candidate_id = seat.candidate_id
    reason = _abort_reason(report)
    if not report.present:
        if seat.has_started:
            raise DomainError(
                "finalisation.started_candidate_absent",
                f"candidate {candidate_id} started a test: not absent",
                candidate_id=candidate_id,
            )
        if reason is not None:
            raise DomainError(
                "finalisation.abort_reason_on_absent",
                f"candidate {candidate_id} is absent: no abort reason",
                candidate_id=candidate_id,
            )
        if report.issue_reports:
            raise DomainError(
                "finalisation.issue_report_on_absent",
                f"candidate {candidate_id} is absent: no issue report",
                candidate_id=candidate_id,
            )
    elif seat.test_state is TestState.COMPLETED:
        if reason is not None:
            raise DomainError(
                "finalisation.abort_reason_on_completed_test",
                f"candidate {candidate_id} completed the test: an abort reason is not allowed",
                candidate_id=candidate_id,
            )
    elif reason is None:
        raise DomainError(
            "finalisation.abort_reason_missing",
            f"candidate {candidate_id} was present without completing the test: give an abort reason",
            candidate_id=candidate_id,
        )
    candidate = seat.candidate
    return FinalisedCandidate(
        candidate_id=candidate_id,
        learner_id=candidate.learner_id,
        division=candidate.division,
        ine=candidate.ine,
        first_name=candidate.first_name,
        last_name=candidate.last_name,
        birthdate=candidate.birthdate,
        present=report.present,
        # a test still running ends with the session, as Pix's auto-jury does
        test_state=TestState.ENDED_DUE_TO_FINALISATION if seat.is_in_progress else seat.test_state,
        abort_reason=reason,
        issue_reports=tuple(report.issue_reports),
        extra_time_percentage=candidate.extra_time_percentage,
        started_at=seat.started_at,
        ended_at=seat.ended_at,
    )
