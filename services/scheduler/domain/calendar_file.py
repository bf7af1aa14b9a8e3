"""The calendar file's schema: what an operator may write in calendar.json, checked before it is used.

The calendar is data an académie maintains (a new year, an extension, a corrected opening date), so
a mistake in it must stop the scheduler at start-up with the file, the school year and the field —
not surface months later as a session refused or, worse, accepted on the wrong day. The rules: the
school year key is ``YYYY-YYYY+1``; every date lies in that school year (1 September – 31 August);
a window ends on or after its start; the catch-up week starts after the window ends; the first
announced end (``initial_end``) lies inside the window; Pix Certif opens on or before the window's
first day; a provisional year says why in a ``note``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import PydanticCustomError

YEAR_KEY = re.compile(r"^(\d{4})-(\d{4})$")


class CalendarFileError(ValueError):
    """A calendar file that cannot be used; ``str()`` names the file, the school year and the field."""

    def __init__(self, path: Path | str, problems: list[str]) -> None:
        self.path = str(path)
        self.problems = problems
        super().__init__(f"calendar file {path}: " + "; ".join(problems))


def _bad(field: str, text: str) -> PydanticCustomError:
    """A rule broken at ``field`` (dotted path under the object being validated)."""
    return PydanticCustomError("calendar", "{field}: {text}", {"field": field, "text": text})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WindowIn(_Strict):
    start: date
    end: date

    @model_validator(mode="after")
    def _ordered(self) -> WindowIn:
        if self.end < self.start:
            raise _bad("end", f"{self.end} is before start {self.start}")
        return self


class TrackIn(_Strict):
    """One track (collège or lycée) of one school year."""

    window: WindowIn
    catch_up: WindowIn | None = None
    initial_end: date | None = None
    pix_certif_opening: date | None = None
    pix_certif_opening_estimated: bool = False
    source: str = ""

    @model_validator(mode="after")
    def _consistent(self) -> TrackIn:
        if self.catch_up is not None and self.catch_up.start <= self.window.end:
            raise _bad(
                "catch_up.start",
                f"the catch-up week ({self.catch_up.start}) must start after the window ends"
                f" ({self.window.end}); it overlaps the window",
            )
        if self.initial_end is not None and not self.window.start <= self.initial_end <= self.window.end:
            raise _bad("initial_end", f"{self.initial_end} is outside the window")
        if self.pix_certif_opening is not None and self.pix_certif_opening > self.window.start:
            raise _bad(
                "pix_certif_opening",
                f"Pix Certif opens ({self.pix_certif_opening}) after the window starts ({self.window.start})",
            )
        if self.pix_certif_opening_estimated and self.pix_certif_opening is None:
            raise _bad("pix_certif_opening_estimated", "an estimated opening needs pix_certif_opening")
        return self

    def dates(self) -> Iterator[tuple[str, date]]:
        yield "window.start", self.window.start
        yield "window.end", self.window.end
        if self.catch_up is not None:
            yield "catch_up.start", self.catch_up.start
            yield "catch_up.end", self.catch_up.end
        if self.initial_end is not None:
            yield "initial_end", self.initial_end
        if self.pix_certif_opening is not None:
            yield "pix_certif_opening", self.pix_certif_opening


class YearIn(_Strict):
    """One school year: its tracks, and whether its dates are official."""

    provisional: bool = Field(default=False, description="true while the official dates are not published")
    note: str = ""
    lycee: TrackIn | None = None
    college: TrackIn | None = None

    @model_validator(mode="after")
    def _explained(self) -> YearIn:
        if self.provisional and not self.note.strip():
            raise _bad("note", "a provisional year says why in a note")
        if self.lycee is None and self.college is None:
            raise _bad("lycee", "a year has at least one track (lycee or college)")
        return self

    def tracks(self) -> Iterator[tuple[str, TrackIn]]:
        for name in ("lycee", "college"):
            track = getattr(self, name)
            if track is not None:
                yield name, track


class CalendarFileIn(_Strict):
    """The whole file: ``{"_comment": …, "years": {"2025-2026": {…}, …}}``."""

    comment: str = Field(default="", alias="_comment")
    years: dict[str, YearIn]

    @model_validator(mode="after")
    def _inside_their_year(self) -> CalendarFileIn:
        for key, year in self.years.items():
            match = YEAR_KEY.match(key)
            if match is None or int(match[2]) != int(match[1]) + 1:
                raise _bad(
                    f"years.{key}",
                    "a school year is written YYYY-YYYY with consecutive years, e.g. 2026-2027",
                )
            first, last = date(int(match[1]), 9, 1), date(int(match[2]), 8, 31)
            for name, track in year.tracks():
                for field, day in track.dates():
                    if not first <= day <= last:
                        raise _bad(
                            f"years.{key}.{name}.{field}",
                            f"{day} is outside the school year {key} ({first} – {last})",
                        )
        return self


def read_calendar_file(path: Path) -> CalendarFileIn:
    """The validated calendar file at ``path``, or ``CalendarFileError`` naming year and field."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise CalendarFileError(path, [f"cannot be read ({error.strerror or error})"]) from None
    except json.JSONDecodeError as error:
        raise CalendarFileError(path, [f"line {error.lineno}: not JSON ({error.msg})"]) from None
    return parse_calendar(raw, path)


def parse_calendar(raw: Any, path: Path | str = "<calendar>") -> CalendarFileIn:
    try:
        return CalendarFileIn.model_validate(raw)
    except ValidationError as error:
        raise CalendarFileError(path, [_describe(e) for e in error.errors()]) from None


def _describe(error: Mapping[str, Any]) -> str:
    """'year 2025-2026, field lycee.catch_up.start: …' from one pydantic error."""
    location = [str(part) for part in error["loc"]]
    context = error.get("ctx") or {}
    if error["type"] == "calendar":
        location.append(str(context["field"]))
        text = str(context["text"])
    else:
        text = error["msg"]
    path = ".".join(location)
    if path.startswith("years."):
        path = path.removeprefix("years.")
        year, _, field = path.partition(".")
        return f"year {year}, field {field or '(the year itself)'}: {text}"
    return f"field {path}: {text}"
