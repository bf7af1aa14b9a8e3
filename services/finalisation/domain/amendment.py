"""Amending a finalisation: what certibus allows the referent after submitting the form, and why.

Pix Certif never reopens a finalised session: a school that finds a mistake writes to Pix's
certification support. certibus keeps its own record of the form, and results are matched and
published from it, so it lets the referent correct a transcription mistake (an issue report, the
comment, the two checkboxes, an abort reason) for a bounded delay after finalising and only while
no result of the session has arrived: once Pix has processed the session, or the delay is over, the
record must stay what Pix received. Presence is never amended: at finalisation the absent and
aborted candidates were released for the catch-up sessions (the scheduler), and a student who was
re-enrolled elsewhere cannot be made present here after the fact.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from services.finalisation.domain.finalisation import (
    FinalisationRequest,
    SessionFinalised,
    finalisation_of,
)
from services.finalisation.domain.invigilation import SessionRoom
from shared.errors import DomainError

TOO_LATE = "finalisation.amendment_too_late"
RESULTS_RECEIVED = "finalisation.results_received"
PRESENCE_CHANGED = "finalisation.amendment_changes_presence"
NOT_FINALISED = "finalisation.unknown"


def amendable_until(finalised_at: datetime, window: timedelta) -> datetime:
    """The last moment the referent may amend a finalisation made at `finalised_at`."""
    return finalised_at + window


def require_amendable(
    finalised_at: datetime, now: datetime, window: timedelta, *, results_received: bool
) -> None:
    """Refuse an amendment once a result arrived or once the delay after finalisation is over."""
    if results_received:
        raise DomainError(
            RESULTS_RECEIVED,
            "results have arrived for this session: its finalisation is what Pix processed and can no"
            " longer be amended (write to Pix's certification support)",
        )
    deadline = amendable_until(finalised_at, window)
    if now > deadline:
        raise DomainError(
            TOO_LATE,
            f"a finalisation can be amended until {deadline.isoformat()}"
            f" ({window.total_seconds() / 3600:g} h after it was made)",
            amendable_until=deadline.isoformat(),
        )


def _changed_presence(previous: Iterable[Mapping[str, Any]], amended: SessionFinalised) -> list[str]:
    was_present = {c["candidate_id"]: bool(c["present"]) for c in previous}
    return sorted(c.candidate_id for c in amended.candidates if was_present.get(c.candidate_id) != c.present)


def amend_finalisation(
    room: SessionRoom,
    previous_candidates: Iterable[Mapping[str, Any]],
    request: FinalisationRequest,
    now: datetime,
    window: timedelta,
    *,
    results_received: bool,
) -> SessionFinalised:
    """The amended finalisation of a finalised `room`: the first finalisation's rules, plus the
    amendment's own (the delay, no result yet, the same presence for every candidate)."""
    if room.finalised_at is None:
        raise DomainError(NOT_FINALISED, f"session {room.session_number} is not finalised yet")
    require_amendable(room.finalised_at, now, window, results_received=results_received)
    amended = finalisation_of(room, request, now)
    changed = _changed_presence(previous_candidates, amended)
    if changed:
        raise DomainError(
            PRESENCE_CHANGED,
            f"{len(changed)} candidate(s) would change presence: an amendment keeps who was present"
            " (the absent were released for catch-up at finalisation)",
            candidate_ids=changed,
        )
    return amended
