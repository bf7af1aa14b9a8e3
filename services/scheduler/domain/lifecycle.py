"""A session's lifecycle as a school follows it, and what finalisation frees (issue 16 items 2, 3).

planned → convoked → started → finalised → results received → exported (or cancelled). The
scheduler dates each step from what it does (convocations) or learns (SessionStarted,
SessionFinalised, ResultsProcessed, LivretExportProduced); the status is the furthest step dated,
whatever the order the events arrived in. Pix itself only stores created / finalized / processed
(pix-domain §1.4); the finer steps are what a school's checklist needs.

At finalisation, the absent and aborted candidates are *released*: they no longer hold the learner,
who may be enrolled again (a catch-up session). Until finalisation the candidates of a session may
still change (Pix lets SCO centres enrol until the session is finalised, pix-domain §1.5).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from services.scheduler.domain.calendar import TrackCalendar
from services.scheduler.domain.enrolment import Candidate, set_extra_time
from services.scheduler.domain.errors import DomainError

#: the longest adapted-conditions text kept (the event's limit)
MAX_ADAPTED_CONDITIONS = 500


class Lifecycle(StrEnum):
    PLANNED = "planned"
    CONVOKED = "convoked"
    STARTED = "started"
    FINALISED = "finalised"
    RESULTS_RECEIVED = "results_received"
    EXPORTED = "exported"
    CANCELLED = "cancelled"


class Outcome(StrEnum):
    """A candidate's day as the finalisation recorded it."""

    COMPLETED = "completed"
    ABSENT = "absent"
    ABORTED = "aborted"

    @property
    def releases(self) -> bool:
        """Absent or aborted: the learner is free to sit again (catch-up)."""
        return self is not Outcome.COMPLETED


@dataclass(frozen=True, slots=True)
class LifecycleDates:
    """When each step was reached (None: not yet)."""

    convoked_at: datetime | None = None
    started_at: datetime | None = None
    finalised_at: datetime | None = None
    results_received_at: datetime | None = None
    exported_at: datetime | None = None

    def status(self, *, cancelled: bool = False) -> Lifecycle:
        """The furthest step reached: a late event never moves a session back."""
        if cancelled:
            return Lifecycle.CANCELLED
        steps = (
            (self.exported_at, Lifecycle.EXPORTED),
            (self.results_received_at, Lifecycle.RESULTS_RECEIVED),
            (self.finalised_at, Lifecycle.FINALISED),
            (self.started_at, Lifecycle.STARTED),
            (self.convoked_at, Lifecycle.CONVOKED),
        )
        return next((step for at, step in steps if at is not None), Lifecycle.PLANNED)


def outcome_of(*, present: bool, abort_reason: str | None) -> Outcome:
    """Absent when not present; aborted when the test was ended for a reason; else completed."""
    if not present:
        return Outcome.ABSENT
    return Outcome.ABORTED if abort_reason is not None else Outcome.COMPLETED


def ensure_not_finalised(number: int, finalised_at: datetime | None, action: str) -> None:
    """Candidates change until finalisation, never after (``session.finalised``): Pix processes
    what was finalised."""
    if finalised_at is not None:
        raise DomainError(
            "session.finalised",
            f"la session {number} est finalisée : {action} impossible",
            number=number,
        )


def clean_adapted_conditions(text: str | None) -> str | None:
    """Stripped text, None for none; longer than 500 characters is ``candidate.invalid_adapted_conditions``."""
    if text is None or not text.strip():
        return None
    text = " ".join(text.split())
    if len(text) > MAX_ADAPTED_CONDITIONS:
        raise DomainError(
            "candidate.invalid_adapted_conditions",
            f"conditions adaptées trop longues : {len(text)} caractères (au plus {MAX_ADAPTED_CONDITIONS})",
            length=len(text),
        )
    return text


#: fields of a candidate a school may correct until finalisation, as CandidateUpdated names them
CORRECTABLE = ("extra_time_percentage", "adapted_conditions")


def correct_candidate(
    candidate: Candidate,
    *,
    extra_time_percentage: int | None = None,
    adapted_conditions: str | None = None,
    set_adapted_conditions: bool = False,
) -> tuple[Candidate, list[str]]:
    """The corrected candidate and the fields that changed (none: nothing to tell anyone).

    ``extra_time_percentage`` None keeps it; the adapted conditions change only when
    ``set_adapted_conditions`` (so that None can clear them)."""
    changed = candidate
    if extra_time_percentage is not None:
        changed = set_extra_time(changed, extra_time_percentage)
    if set_adapted_conditions:
        changed = replace(changed, adapted_conditions=clean_adapted_conditions(adapted_conditions))
    return changed, [f for f in CORRECTABLE if getattr(changed, f) != getattr(candidate, f)]


def catch_up_track(track: TrackCalendar) -> TrackCalendar:
    """The track as a catch-up plan sees it: its catch-up week is the window to plan in (the
    learners to plan are those no session holds, the absent and aborted released at finalisation
    among them); a year without a catch-up week is ``plan.no_catch_up_week``."""
    if track.catch_up is None:
        raise DomainError(
            "plan.no_catch_up_week",
            f"le calendrier {track.track.label} {track.school_year} n'a pas de semaine de rattrapage",
            school_year=track.school_year,
            track=track.track.value,
        )
    return replace(track, window=track.catch_up, catch_up=None)
