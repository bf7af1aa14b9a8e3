"""Certification sessions as Pix Certif knows them, and the rules for creating, editing and deleting them.

Functions take `now` (local time of the school) instead of reading a clock, so they stay pure.
A session occupies its room for a 2-hour slot (105 min of test + installation); overlaps are judged
on that slot.
"""

from __future__ import annotations

import random
import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta

from services.scheduler.domain.calendar import TrackCalendar, fr_date
from services.scheduler.domain.codes import (
    display_password,
    generate_access_code,
    generate_invigilator_password,
)
from services.scheduler.domain.errors import DomainError
from services.scheduler.domain.planner import SLOT_MINUTES, TEST_MINUTES, Room
from shared.contracts.identifiers import name_key

#: Pix's regex for "Heure de début (heure locale)".
TIME_PATTERN = re.compile(r"^(0[0-9]|1[0-9]|2[0-3]):[0-5][0-9]$")


@dataclass(frozen=True, slots=True)
class PixCertifLink:
    """The session as Pix Certif created it: its number, access code and invigilator password.

    Sessions are created in Pix Certif, which gives them these three; once the school records them
    they are what every document shows and what the invigilator types (certibus's own stay the
    default for a school that has not recorded them yet).
    """

    number: int
    access_code: str
    invigilator_password: str  # without the "C-" prefix


@dataclass(frozen=True, slots=True)
class Session:
    """One sitting: a site, a room, a date and time, invigilators, and the codes to enter it."""

    number: int
    site: str
    room: str
    invigilators: tuple[str, ...]
    day: date
    time: str  # "HH:MM", validated by TIME_PATTERN
    access_code: str
    invigilator_password: str  # without the "C-" prefix; events carry only its hash
    observations: str = ""
    first_test_started_at: datetime | None = None
    pix: PixCertifLink | None = None

    @property
    def starts_at(self) -> datetime:
        return datetime.combine(self.day, parse_session_time(self.time))

    @property
    def ends_at(self) -> datetime:
        """End of the room booking (2-hour slot)."""
        return self.starts_at + timedelta(minutes=SLOT_MINUTES)

    @property
    def theoretical_test_end(self) -> datetime:
        """What Pix shows the invigilator: start + 105 min, extra time not included."""
        return self.starts_at + timedelta(minutes=TEST_MINUTES)

    @property
    def examiner(self) -> str:
        """Pix Certif's single "Surveillant(s)" string."""
        return ", ".join(self.invigilators)

    @property
    def displayed_password(self) -> str:
        return display_password(self.invigilator_password)

    @property
    def has_started(self) -> bool:
        return self.first_test_started_at is not None

    @property
    def password_in_use(self) -> str:
        """The password that opens the invigilator space: Pix's once recorded, else certibus's."""
        return self.pix.invigilator_password if self.pix else self.invigilator_password

    @property
    def printed(self) -> Session:
        """The session as the documents show it: with Pix's number and codes once recorded."""
        if self.pix is None:
            return self
        return replace(
            self,
            number=self.pix.number,
            access_code=self.pix.access_code,
            invigilator_password=self.pix.invigilator_password,
        )


def parse_session_time(text: str) -> time:
    """ "HH:MM" (24 h, two digits each) → time; anything else is `session.invalid_time`."""
    if not isinstance(text, str) or not TIME_PATTERN.match(text):
        raise DomainError(
            "session.invalid_time", f"heure invalide : {text!r} (format attendu HH:MM)", time=text
        )
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def create_session(
    *,
    number: int,
    site: str,
    room: str,
    invigilators: Sequence[str],
    day: date,
    time: str,
    calendar: TrackCalendar,
    rooms: Collection[Room],
    existing: Iterable[Session],
    now: datetime,
    observations: str = "",
    taken_codes: Collection[str] = frozenset(),
    rng: random.Random | None = None,
) -> Session:
    """Validate and build a new session with a fresh access code and invigilator password; refused
    before the Pix Certif opening of its year (``session.before_pix_certif_opening``).

    `existing` = the school's live sessions (for room overlaps); `taken_codes` = access codes of
    live sessions (kept unique although Pix no longer needs it, so a code alone names a session).
    """
    if number <= 0:
        raise DomainError("session.invalid_number", f"numéro de session invalide : {number}")
    session = Session(
        number=number,
        site=site.strip(),
        room=room.strip(),
        invigilators=_clean_names(invigilators),
        day=day,
        time=time,
        access_code=generate_access_code(taken_codes, rng),
        invigilator_password=generate_invigilator_password(rng),
        observations=observations.strip(),
    )
    _validate(session, calendar=calendar, rooms=rooms, existing=existing, now=now)
    calendar.check_pix_certif_open(now.date())  # Pix Certif is closed to SCO centres until then
    return session


def update_session(
    session: Session,
    *,
    calendar: TrackCalendar,
    rooms: Collection[Room],
    existing: Iterable[Session],
    now: datetime,
    site: str | None = None,
    room: str | None = None,
    invigilators: Sequence[str] | None = None,
    day: date | None = None,
    time: str | None = None,
    observations: str | None = None,
) -> Session:
    """Apply the given changes (None = unchanged); refused once a test has started."""
    if session.has_started:
        raise DomainError(
            "session.started",
            f"la session {session.number} ne peut plus être modifiée : un test a commencé",
            number=session.number,
        )
    changed = replace(
        session,
        site=session.site if site is None else site.strip(),
        room=session.room if room is None else room.strip(),
        invigilators=session.invigilators if invigilators is None else _clean_names(invigilators),
        day=session.day if day is None else day,
        time=session.time if time is None else time,
        observations=session.observations if observations is None else observations.strip(),
    )
    moved = (changed.day, changed.time) != (session.day, session.time)
    _validate(changed, calendar=calendar, rooms=rooms, existing=existing, now=now, check_past=moved)
    return changed


def ensure_deletable(session: Session) -> None:
    """Deleting is refused as soon as one test exists (Pix `SessionStartedDeletionError`)."""
    if session.has_started:
        raise DomainError(
            "session.started",
            f"la session {session.number} ne peut pas être supprimée : un test a commencé",
            number=session.number,
        )


def record_test_started(session: Session, at: datetime) -> Session:
    """Remember the first test start; later starts change nothing."""
    return session if session.has_started else replace(session, first_test_started_at=at)


def find_overlap(session: Session, existing: Iterable[Session]) -> Session | None:
    """Another session in the same room whose 2-hour slot intersects this one's."""
    room = name_key(session.room)
    for other in existing:
        if other.number == session.number or name_key(other.room) != room:
            continue
        if other.starts_at < session.ends_at and session.starts_at < other.ends_at:
            return other
    return None


def _validate(
    session: Session,
    *,
    calendar: TrackCalendar,
    rooms: Collection[Room],
    existing: Iterable[Session],
    now: datetime,
    check_past: bool = True,
) -> None:
    existing = tuple(existing)
    if not session.site:
        raise DomainError("session.site_required", "le nom du site est obligatoire")
    if not session.invigilators:
        raise DomainError("session.invigilator_required", "au moins un surveillant est obligatoire")
    start = datetime.combine(session.day, parse_session_time(session.time))
    if check_past and start < now:
        raise DomainError(
            "session.in_past",
            f"la session du {fr_date(session.day)} à {session.time} est dans le passé",
            day=session.day.isoformat(),
            time=session.time,
        )
    calendar.check_session_date(session.day)
    if name_key(session.room) not in {name_key(r.name) for r in rooms}:
        raise DomainError("room.unknown", f"salle inconnue : {session.room!r}", room=session.room)
    clash = find_overlap(session, existing)
    if clash is not None:
        raise DomainError(
            "session.overlap",
            f"la salle {session.room} est déjà occupée le {fr_date(clash.day)} de {clash.time}"
            f" à {clash.ends_at:%H:%M} (session {clash.number})",
            other=clash.number,
        )
    busy = _busy_invigilator(session, existing)
    if busy is not None:
        name, other = busy
        raise DomainError(
            "invigilator.busy",
            f"{name} surveille déjà la session {other.number} le {fr_date(other.day)} à {other.time}",
            invigilator=name,
            other=other.number,
        )


def _busy_invigilator(session: Session, existing: Iterable[Session]) -> tuple[str, Session] | None:
    names = {name_key(n): n for n in session.invigilators}
    for other in existing:
        if other.number == session.number:
            continue
        if not (other.starts_at < session.ends_at and session.starts_at < other.ends_at):
            continue
        for name in other.invigilators:
            if name_key(name) in names:
                return names[name_key(name)], other
    return None


def _clean_names(names: Sequence[str]) -> tuple[str, ...]:
    if isinstance(names, str):
        names = [names]
    return tuple(dict.fromkeys(n.strip() for n in names if n.strip()))


def room_capacity(rooms: Iterable[Room], room: str) -> int | None:
    """Workstations of the room named exactly ``room`` (a session stores the school's spelling)."""
    return next((r.workstations for r in rooms if r.name == room), None)


def check_room_capacity(session: Session, rooms: Iterable[Room], enrolled: int) -> None:
    """A session moved to another room must still seat its ``enrolled`` candidates."""
    capacity = room_capacity(rooms, session.room) or 0
    if enrolled > capacity:
        raise DomainError(
            "room.capacity_exceeded",
            f"la salle {session.room} compte {capacity} postes pour {enrolled} candidat(s) inscrit(s)",
            capacity=capacity,
            enrolled=enrolled,
        )
