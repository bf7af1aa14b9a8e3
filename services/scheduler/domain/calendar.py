"""Certification windows per school year and level, read from calendar.json.

The dates are data because they change every year by ministerial note: a new year is a new entry in
calendar.json, never a code change. Collèges have their own track; lycées (general, professional),
CAP, BTS, CPGE, agricultural schools and AEFE schools all follow the lycée track, as Pix Certif does.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Any

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
        return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CertificationCalendar:
        entries: dict[tuple[str, Track], TrackCalendar] = {}
        for school_year, tracks in data["years"].items():
            for track_name, raw in tracks.items():
                track = Track(track_name)
                entries[(school_year, track)] = TrackCalendar(
                    school_year=school_year,
                    track=track,
                    window=_window(raw["window"]),
                    catch_up=_window(raw["catch_up"]) if raw.get("catch_up") else None,
                    pix_certif_opening=_day(raw.get("pix_certif_opening")),
                    initial_end=_day(raw.get("initial_end")),
                    source=raw.get("source", ""),
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


def school_year_of(day: date) -> str:
    """French school years run from 1 September to 31 August: 2024-03-14 → "2023-2024"."""
    first = day.year if day.month >= 9 else day.year - 1
    return f"{first}-{first + 1}"


def fr_date(day: date) -> str:
    return day.strftime("%d/%m/%Y")


def _day(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def _window(raw: Mapping[str, str]) -> Window:
    return Window(date.fromisoformat(raw["start"]), date.fromisoformat(raw["end"]))
