"""Certification windows per school year and level, read from calendar.json (or the operator's file).

The dates are data because they change every year by ministerial note: a new year is a new entry in
the calendar file, never a code change (calendar_file.py validates it). Collèges have their own
track; lycées (general, professional), CAP, BTS, CPGE, agricultural schools and AEFE schools all
follow the lycée track, as Pix Certif does. Before a track's Pix Certif opening date no session of
that year can be created (Pix Certif is closed to SCO centres until then).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Any

from services.scheduler.domain.calendar_file import (
    CalendarFileIn,
    WindowIn,
    parse_calendar,
    read_calendar_file,
)
from services.scheduler.domain.errors import DomainError

CALENDAR_FILE = Path(__file__).with_name("calendar.json")


class Track(StrEnum):
    """The two calendars Pix runs for schools."""

    COLLEGE = "college"
    LYCEE = "lycee"

    @property
    def label(self) -> str:
        return "collège" if self is Track.COLLEGE else "lycée"


class SchoolLevel(StrEnum):
    """What a school is; decides which track applies (Pix tags COLLEGE, LYCEE, LYCEE PRO, AEFE, AGRICULTURE)."""

    COLLEGE = "college"
    LYCEE = "lycee"
    LYCEE_PRO = "lycee_pro"
    CAP = "cap"
    BTS = "bts"
    CPGE = "cpge"
    AGRICULTURE = "agriculture"
    AEFE = "aefe"

    @property
    def track(self) -> Track:
        return Track.COLLEGE if self is SchoolLevel.COLLEGE else Track.LYCEE


@dataclass(frozen=True, slots=True)
class Window:
    """An inclusive range of days."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"window ends before it starts: {self.start} > {self.end}")

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end

    def describe(self) -> str:
        return f"{fr_date(self.start)} – {fr_date(self.end)}"


@dataclass(frozen=True, slots=True)
class TrackCalendar:
    """The certification calendar of one track for one school year."""

    school_year: str
    track: Track
    window: Window
    catch_up: Window | None = None
    pix_certif_opening: date | None = None
    initial_end: date | None = None
    source: str = ""
    #: the year's official dates are not published: these are a model (``note`` says which)
    provisional: bool = False
    note: str = ""
    #: Pix never published the opening date: ``pix_certif_opening`` is an estimate
    opening_estimated: bool = False

    def allows(self, day: date) -> bool:
        """True when a session may take place on `day` (main window or catch-up week)."""
        return self.window.contains(day) or (self.catch_up is not None and self.catch_up.contains(day))

    def describe(self) -> str:
        text = f"fenêtre de certification {self.track.label} {self.school_year} ({self.window.describe()}"
        if self.catch_up is not None:
            text += f", rattrapage {self.catch_up.describe()}"
        return text + ")"

    def is_pix_certif_open(self, on: date) -> bool:
        """Pix Certif is closed to SCO centres before the opening date; unknown opening = open."""
        return self.pix_certif_opening is None or on >= self.pix_certif_opening

    def check_pix_certif_open(self, today: date) -> None:
        """Refuse creating a session of this year before Pix Certif opens, naming the date."""
        if not self.is_pix_certif_open(today):
            assert self.pix_certif_opening is not None
            estimated = " (date estimée)" if self.opening_estimated else ""
            raise DomainError(
                "session.before_pix_certif_opening",
                f"Pix Certif n'ouvre aux centres {self.track.label} qu'à partir du"
                f" {fr_date(self.pix_certif_opening)}{estimated} : aucune session {self.school_year}"
                " ne peut être créée avant",
                pix_certif_opening=self.pix_certif_opening.isoformat(),
                school_year=self.school_year,
                track=self.track.value,
            )

    def check_session_date(self, day: date) -> None:
        """Refuse a session date outside the window, naming the window in the message."""
        if not self.allows(day):
            raise DomainError(
                "session.outside_window",
                f"{fr_date(day)} est hors de la {self.describe()}",
                day=day.isoformat(),
                school_year=self.school_year,
                track=self.track.value,
            )


@dataclass(frozen=True, slots=True)
class CertificationCalendar:
    """Every known year; look up by (school year, level) or by a date."""

    entries: Mapping[tuple[str, Track], TrackCalendar]

    @classmethod
    def load(cls, path: Path = CALENDAR_FILE) -> CertificationCalendar:
        """The calendar of ``path``; ``CalendarFileError`` (file, year, field) when it is not valid."""
        return cls.from_file(read_calendar_file(path))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CertificationCalendar:
        return cls.from_file(parse_calendar(data))

    @classmethod
    def from_file(cls, data: CalendarFileIn) -> CertificationCalendar:
        entries: dict[tuple[str, Track], TrackCalendar] = {}
        for school_year, year in data.years.items():
            for track_name, raw in year.tracks():
                track = Track(track_name)
                entries[(school_year, track)] = TrackCalendar(
                    school_year=school_year,
                    track=track,
                    window=_window(raw.window),
                    catch_up=_window(raw.catch_up) if raw.catch_up else None,
                    pix_certif_opening=raw.pix_certif_opening,
                    initial_end=raw.initial_end,
                    source=raw.source,
                    provisional=year.provisional,
                    note=year.note,
                    opening_estimated=raw.pix_certif_opening_estimated,
                )
        return cls(entries)

    def school_years(self) -> tuple[str, ...]:
        return tuple(sorted({year for year, _ in self.entries}))

    def for_level(self, school_year: str, level: SchoolLevel | Track) -> TrackCalendar:
        track = level.track if isinstance(level, SchoolLevel) else level
        try:
            return self.entries[(school_year, track)]
        except KeyError:
            raise DomainError(
                "calendar.unknown",
                f"aucune fenêtre de certification {track.label} connue pour {school_year}",
                school_year=school_year,
                track=track.value,
            ) from None

    def for_date(self, day: date, level: SchoolLevel | Track) -> TrackCalendar:
        """The calendar of the school year `day` belongs to."""
        return self.for_level(school_year_of(day), level)

    def check_session_date(self, day: date, level: SchoolLevel | Track) -> None:
        self.for_date(day, level).check_session_date(day)

    def status(self, school_year: str, level: SchoolLevel | Track) -> YearStatus:
        """What the calendar knows of ``school_year`` for ``level``: published, provisional or missing."""
        track = level.track if isinstance(level, SchoolLevel) else level
        return YearStatus(school_year, track, self.entries.get((school_year, track)))


class CalendarState(StrEnum):
    PUBLISHED = "published"
    PROVISIONAL = "provisional"
    MISSING = "missing"


@dataclass(frozen=True, slots=True)
class YearStatus:
    """One track's calendar for one school year, as the start-up log and a school's checklist say it."""

    school_year: str
    track: Track
    calendar: TrackCalendar | None

    @property
    def state(self) -> CalendarState:
        if self.calendar is None:
            return CalendarState.MISSING
        return CalendarState.PROVISIONAL if self.calendar.provisional else CalendarState.PUBLISHED

    def warnings(self, today: date) -> tuple[str, ...]:
        """What a school must know before planning (empty: a published calendar, Pix Certif open)."""
        label, year, cal = self.track.label, self.school_year, self.calendar
        if cal is None:
            return (
                f"aucun calendrier de certification {label} pour {year} : les sessions de cette année"
                " sont refusées (calendar.unknown) tant que l'opérateur n'a pas chargé ce calendrier",
            )
        found: list[str] = []
        if cal.provisional:
            found.append(
                f"calendrier {label} {year} provisoire (dates officielles non publiées) : {cal.note}"
            )
        if cal.pix_certif_opening is not None and cal.opening_estimated:
            found.append(
                f"date d'ouverture de Pix Certif {label} {year} estimée ({fr_date(cal.pix_certif_opening)}),"
                " non publiée par Pix"
            )
        if not cal.is_pix_certif_open(today):
            assert cal.pix_certif_opening is not None
            found.append(
                f"Pix Certif n'ouvre qu'à partir du {fr_date(cal.pix_certif_opening)} : aucune session"
                " ne peut être créée avant"
            )
        return tuple(found)


def school_year_of(day: date) -> str:
    """French school years run from 1 September to 31 August: 2024-03-14 → "2023-2024"."""
    first = day.year if day.month >= 9 else day.year - 1
    return f"{first}-{first + 1}"


def fr_date(day: date) -> str:
    return day.strftime("%d/%m/%Y")


def _window(raw: WindowIn) -> Window:
    return Window(raw.start, raw.end)
