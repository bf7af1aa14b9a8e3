"""The scheduler's sessions as finalisation keeps them, and a finalised session as it was recorded.

Typed values the store returns and the use cases read (never a database row): ``ScheduledSession``
is the read model built from SessionCreated/SessionUpdated/SessionCancelled, ``RecordedFinalisation``
the SessionFinalised payload kept for matching results and building ResultsProcessed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class ScheduledSession:
    """A session planned by the scheduler (latest snapshot), with its invigilator password hash."""

    session_id: str
    session_number: int
    uai: str
    certification_center: str
    session_date: date
    session_time: str
    invigilator_password_hash: str
    address: str = ""
    room: str = ""
    examiners: tuple[str, ...] | list[str] = field(default_factory=tuple)
    cancelled_at: datetime | None = None
    #: Pix Certif's number once the school recorded it: what the invigilator types and sees
    pix_session_number: int | None = None

    @property
    def shown_number(self) -> int:
        """The number the kit printed: Pix Certif's once recorded, else certibus's."""
        return self.pix_session_number or self.session_number

    @property
    def is_cancelled(self) -> bool:
        return self.cancelled_at is not None


@dataclass(frozen=True, slots=True)
class RecordedFinalisation:
    """A finalised session: when, and the SessionFinalised event as raised (JSON payload)."""

    session_id: str
    finalised_at: datetime
    payload: dict[str, Any]
    #: who submitted the form (the token's subject), None when unknown
    finalised_by: str | None = None
    #: how many times the referent amended it, the latest amendment's time and author
    amendments: int = 0
    amended_at: datetime | None = None
    amended_by: str | None = None
