"""The scheduler's proposed plan as weeks to read: each week's half-days (rows) × the rooms (columns).

Presentation only: the plan itself (who goes where) is the scheduler's; this arranges its
``sessions`` so that a week can be read at a glance, empty half-days included.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

DAY_NAMES = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
HALF_DAY_NAMES = {"morning": "matin", "afternoon": "après-midi"}


@dataclass(frozen=True)
class HalfDayRow:
    day: dt.date
    half_day: str
    #: room → the plan's sessions in that room on that half-day (by time)
    cells: dict[str, list[Mapping[str, Any]]]
    #: the school is not open then (its opening hours): nothing can be planned
    closed: bool = False

    @property
    def label(self) -> str:
        return (
            f"{DAY_NAMES[self.day.weekday()].capitalize()} {self.day:%d/%m} {HALF_DAY_NAMES[self.half_day]}"
        )


@dataclass(frozen=True)
class Week:
    monday: dt.date
    rows: list[HalfDayRow]


WEEKDAY_KEYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def plan_weeks(
    sessions: Sequence[Mapping[str, Any]],
    rooms: Iterable[str],
    open_half_days: Mapping[str, Sequence[str]] | None = None,
) -> tuple[list[str], list[Week]]:
    """(the rooms as columns, the weeks holding a session), each week Monday to Friday — or to the
    last day a session of it falls on — morning and afternoon; a half-day outside
    ``open_half_days`` (the scheduler's weekday → half-days the school is open) is marked closed."""
    columns = list(dict.fromkeys([*rooms, *(s["room"] for s in sessions)]))
    by_slot: dict[tuple[dt.date, str, str], list[Mapping[str, Any]]] = {}
    for s in sorted(sessions, key=lambda s: (s["date"], s["time"])):
        day = dt.date.fromisoformat(str(s["date"]))
        by_slot.setdefault((day, s["half_day"], s["room"]), []).append(s)
    mondays = sorted({day - dt.timedelta(days=day.weekday()) for day, _, _ in by_slot})
    weeks = []
    for monday in mondays:
        last = max([4, *(d.weekday() for d, _, _ in by_slot if d - dt.timedelta(days=d.weekday()) == monday)])
        rows = [
            HalfDayRow(
                day,
                half,
                {room: by_slot.get((day, half, room), []) for room in columns},
                closed=open_half_days is not None
                and half not in open_half_days.get(WEEKDAY_KEYS[day.weekday()], ()),
            )
            for day in (monday + dt.timedelta(days=n) for n in range(last + 1))
            for half in HALF_DAY_NAMES
        ]
        weeks.append(Week(monday, rows))
    return columns, weeks
