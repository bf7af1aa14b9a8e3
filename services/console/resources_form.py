"""The rooms-and-staff form of the planning page, read back into the scheduler's school body.

The form has one row per room (name, workstations, site) and per person (name, availability: one
half-day a line, ``04/11/2025 matin``; empty: whenever the school is open; ``jamais``: never); a
row whose name is empty is dropped. What cannot be read is reported by row and field, in French,
and nothing is sent.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

#: typed alone, a person available at no half-day (kept apart from an empty field: any half-day)
NEVER = "jamais"
#: a half-day as typed: ``04/11/2025 matin`` or ``04/11/2025 après-midi`` (apres-midi accepted)
HALF_DAY_LINE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})\s+(matin|apr[eè]s-midi)$", re.IGNORECASE)


@dataclass
class ResourcesForm:
    """What was typed (to show again) and, when all of it reads, the rooms and staff to send."""

    rooms: list[dict[str, str]]
    staff: list[dict[str, str]]
    #: field id → its error message, in French
    errors: dict[str, str] = field(default_factory=dict)

    def body(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(rooms, staff) as the scheduler's SchoolIn takes them (call once ``errors`` is empty)."""
        rooms = [
            {"name": r["name"], "workstations": int(r["workstations"]), "site": r["site"]} for r in self.rooms
        ]
        staff = [{"name": s["name"], "availability": _availability(s["availability"])} for s in self.staff]
        return rooms, staff


def _half_day(line: str) -> dict[str, str] | None:
    found = HALF_DAY_LINE.match(line.strip())
    if not found:
        return None
    day, month, year, half = found.groups()
    try:
        when = dt.date(int(year), int(month), int(day))
    except ValueError:
        return None
    return {"date": when.isoformat(), "half_day": "morning" if half.lower() == "matin" else "afternoon"}


def _availability(text: str) -> list[dict[str, str]] | None:
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return None
    return [half for line in lines if (half := _half_day(line))]


def read_resources_form(
    room_names: Sequence[str],
    room_workstations: Sequence[str],
    room_sites: Sequence[str],
    staff_names: Sequence[str],
    staff_availabilities: Sequence[str],
) -> ResourcesForm:
    """The typed rows, kept in order; each field that does not read gets its message."""
    rooms = [
        {"name": n.strip(), "workstations": w.strip(), "site": s.strip()}
        for n, w, s in zip(room_names, room_workstations, room_sites, strict=False)
    ]
    staff = [
        {"name": n.strip(), "availability": a.strip()}
        for n, a in zip(staff_names, staff_availabilities, strict=False)
    ]
    form = ResourcesForm([r for r in rooms if r["name"]], [s for s in staff if s["name"]])
    for i, room in enumerate(form.rooms, start=1):
        if not room["workstations"].isdigit():
            form.errors[f"room-{i}-workstations"] = (
                f"Salle « {room['name']} » : le nombre de postes doit être un entier (0 ou plus)."
            )
    for i, person in enumerate(form.staff, start=1):
        for number, line in enumerate(person["availability"].splitlines(), start=1):
            if line.strip() and line.strip().lower() != NEVER and _half_day(line) is None:
                form.errors[f"staff-{i}-availability"] = (
                    f"{person['name']}, ligne {number} : « {line.strip()} » n'est pas une demi-journée"
                    " (écrire par exemple « 04/11/2025 matin » ou « 04/11/2025 après-midi »)."
                )
                break
    return form


def typed_rows(school: dict[str, Any]) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """The school's rooms and staff as the form shows them (availability one half-day a line)."""
    rooms = [
        {"name": r["name"], "workstations": str(r["workstations"]), "site": r["site"]}
        for r in school["rooms"]
    ]
    staff = []
    for person in school["staff"]:
        halves = person["availability"]
        lines = [
            f"{dt.date.fromisoformat(h['date']):%d/%m/%Y} {'matin' if h['half_day'] == 'morning' else 'après-midi'}"
            for h in halves or []
        ]
        typed = NEVER if halves == [] else "\n".join(lines)
        staff.append({"name": person["name"], "availability": typed})
    return rooms, staff
