"""A school as the scheduler describes it: its UAI, hours, rooms and staff, and the checks on them.

The API stores a school's description as given (hours as JSON); these rules say whether it is
acceptable (``school.*`` codes) and turn it into the planner's values. Names of rooms and people
compare as ``sessions.name_key`` says, everywhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any

from services.scheduler.domain.calendar import Window
from services.scheduler.domain.errors import DomainError
from services.scheduler.domain.planner import HalfDay, Room, SchoolHours, StaffMember, TimeRange
from services.scheduler.domain.sessions import Session, name_key, parse_session_time
from shared.contracts.identifiers import normalise_identifier

#: how the stored hours name weekdays (index = ``date.weekday()``)
WEEKDAYS: tuple[str, ...] = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
UAI_LENGTH = 8


def normalise_uai(uai: str) -> str:
    """The UAI upper-cased; refused unless 7 digits and a letter.

    Only the shape is checked here (not shared.contracts.identifiers' département range or mod-23
    letter): the scheduler has always accepted any 7 digits + letter, and schools already stored
    under such UAIs must stay reachable.
    """
    uai = normalise_identifier(uai)
    if len(uai) != UAI_LENGTH or not uai[:7].isdigit() or not uai[7].isalpha():
        raise DomainError("school.invalid_uai", f"UAI invalide : {uai!r} (7 chiffres et une lettre)", uai=uai)
    return uai


def school_hours(hours: Mapping[str, Any]) -> SchoolHours:
    """The stored JSON (schemas.HoursIn) as the planner's SchoolHours."""
    open_half_days = {
        WEEKDAYS.index(day): frozenset(HalfDay(h) for h in halves)
        for day, halves in hours["open_half_days"].items()
    }
    return SchoolHours(
        morning=_time_range(hours["morning"]),
        afternoon=_time_range(hours["afternoon"]),
        open_half_days=open_half_days,
        closures=tuple(
            Window(date.fromisoformat(c["start"]), date.fromisoformat(c["end"])) for c in hours["closures"]
        ),
    )


def _time_range(raw: Mapping[str, str]) -> TimeRange:
    return TimeRange(parse_session_time(raw["start"]), parse_session_time(raw["end"]))


def check_school(hours: Mapping[str, Any], rooms: Sequence[str], staff: Sequence[str]) -> None:
    """A school description is refused for unreadable hours, a closure ending before it starts, or
    a room or person named twice (ignoring case and spacing)."""
    try:
        school_hours(hours)
    except (DomainError, ValueError) as error:
        message = error.message if isinstance(error, DomainError) else str(error)
        raise DomainError("school.invalid_hours", f"horaires invalides : {message}") from None
    for closure in hours["closures"]:
        if date.fromisoformat(closure["end"]) < date.fromisoformat(closure["start"]):
            raise DomainError(
                "school.invalid_hours", f"fermeture qui finit avant de commencer : {_closure_text(closure)}"
            )
    for label, code, names in (
        ("salle", "school.duplicate_room", rooms),
        ("surveillant", "school.duplicate_staff", staff),
    ):
        keys = [name_key(n) for n in names]
        twice = sorted({n for n, k in zip(names, keys, strict=True) if keys.count(k) > 1})
        if twice:
            raise DomainError(code, f"{label} en double : {', '.join(twice)}", names=twice)


def _closure_text(closure: Mapping[str, Any]) -> str:
    """As the API model printed it: ``start=… end=… label='…'``."""
    start, end = date.fromisoformat(closure["start"]), date.fromisoformat(closure["end"])
    return f"start={start!r} end={end!r} label={closure.get('label', '')!r}"


def check_rooms_kept(rooms: Iterable[str], sessions: Iterable[Session], *, today: date) -> None:
    """A new description may not drop a room that a session from ``today`` on still uses."""
    kept = {name_key(r) for r in rooms}
    in_use = sorted({s.room for s in sessions if s.day >= today and name_key(s.room) not in kept})
    if in_use:
        raise DomainError(
            "room.in_use",
            f"salle(s) utilisée(s) par des sessions à venir : {', '.join(in_use)}",
            rooms=in_use,
        )


def room_name(rooms: Iterable[Room], room: str) -> str:
    """The room's name as the school wrote it (matching ignores case and spacing)."""
    key = name_key(room)
    return next((r.name for r in rooms if name_key(r.name) == key), room)


def site_for(rooms: Iterable[Room], room: str, site: str | None, school_site: str) -> str:
    """A session's site: the one given, else its room's, else the school's."""
    if site:
        return site
    key = name_key(room)
    for r in rooms:
        if name_key(r.name) == key and r.site:
            return r.site
    return school_site


def staff_members(staff: Iterable[tuple[str, Sequence[Mapping[str, str]] | None]]) -> tuple[StaffMember, ...]:
    """(name, stored availability) pairs as the planner's StaffMembers (None = whenever open)."""
    return tuple(
        StaffMember(
            name,
            None
            if availability is None
            else frozenset((date.fromisoformat(a["date"]), HalfDay(a["half_day"])) for a in availability),
        )
        for name, availability in staff
    )
