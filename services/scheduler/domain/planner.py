"""Automatic planning proposal: which class sits where, when, watched by whom.

Past 400 lines on purpose: the hard rules and the heuristic below are one algorithm, read top to bottom.

Input: a school's certifiable students by class, its rooms, its staff and their availability, its
hours and closures, and the certification window. Output: 2-hour sessions (105 min of test plus
installation) or a `PlanningError` saying exactly why no plan exists.

Hard rules, always true of a returned plan:
- a room never holds more candidates than working workstations;
- each session has at least ceil(candidates / 20) invigilators, all available that half-day;
- no room and no person is in two overlapping sessions;
- every session is inside the window, on an open school half-day, within its hours;
- every student is placed exactly once;
- a class that fits in the largest usable room is never split.

Heuristic (greedy, documented because "small number of half-days" is an objective, not a rule):
1. Units: a class is one unit; a class larger than the largest usable room is cut into the fewest
   balanced groups that fit (a note says so; it is not an error).
2. Half-days are ranked by how many candidates they can seat (rooms full, limited by the staff
   available: each invigilator covers 20), most first, then chronologically. Half-days are
   independent (slots never cross a half-day), so for divisible demand this order minimises the
   number of half-days; packing classes whole costs a little on top.
3. Each half-day is cut into back-to-back 2-hour slots. In each slot, units are placed largest
   first into the room that needs the fewest extra invigilators, then leaves the fewest empty
   seats (best fit decreasing), within the slot's staff budget.
4. Invigilators are chosen among those available, least-loaded first, then by name, which spreads
   the work across the staff.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum

from services.scheduler.domain.calendar import Window, fr_date
from services.scheduler.domain.errors import DomainError, PlanningError

SLOT_MINUTES = 120
TEST_MINUTES = 105
CANDIDATES_PER_INVIGILATOR = 20


class HalfDay(StrEnum):
    MORNING = "morning"
    AFTERNOON = "afternoon"

    @property
    def label(self) -> str:
        return "matin" if self is HalfDay.MORNING else "après-midi"


@dataclass(frozen=True, slots=True)
class TimeRange:
    start: time
    end: time

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError(f"time range ends before it starts: {self.start} – {self.end}")

    @property
    def minutes(self) -> int:
        return (_minutes(self.end)) - _minutes(self.start)


def _default_open_half_days() -> Mapping[int, frozenset[HalfDay]]:
    both = frozenset(HalfDay)
    # Monday..Friday, Wednesday afternoon off (the usual French secondary timetable).
    return {0: both, 1: both, 2: frozenset({HalfDay.MORNING}), 3: both, 4: both}


@dataclass(frozen=True)
class SchoolHours:
    """When the school is open: hours of each half-day, open half-days per weekday, closures."""

    morning: TimeRange = TimeRange(time(8, 0), time(12, 0))
    afternoon: TimeRange = TimeRange(time(13, 30), time(17, 30))
    #: weekday (0 = Monday) → the half-days the school is open that day.
    open_half_days: Mapping[int, frozenset[HalfDay]] = field(default_factory=_default_open_half_days)
    #: holidays, bank holidays, exam days… (inclusive ranges; a single day is start == end).
    closures: tuple[Window, ...] = ()

    def __post_init__(self) -> None:
        # Slots of the two half-days must never overlap: the planner books them independently.
        if self.afternoon.start < self.morning.end:
            raise ValueError(
                f"l'après-midi ({_hhmm(self.afternoon.start)}) commence avant la fin de la matinée"
                f" ({_hhmm(self.morning.end)})"
            )

    def hours(self, half_day: HalfDay) -> TimeRange:
        return self.morning if half_day is HalfDay.MORNING else self.afternoon

    def is_open(self, day: date, half_day: HalfDay) -> bool:
        if half_day not in self.open_half_days.get(day.weekday(), frozenset()):
            return False
        return not any(closure.contains(day) for closure in self.closures)


@dataclass(frozen=True, slots=True)
class Room:
    name: str
    workstations: int
    site: str = ""


@dataclass(frozen=True, slots=True)
class StaffMember:
    """Someone who can invigilate. `available` = None means whenever the school is open."""

    name: str
    available: frozenset[tuple[date, HalfDay]] | None = None

    def is_available(self, day: date, half_day: HalfDay) -> bool:
        return self.available is None or (day, half_day) in self.available


@dataclass(frozen=True, slots=True)
class ClassGroup:
    """The certifiable students of one class (division), by learner id."""

    name: str
    student_ids: tuple[str, ...]


def classes_to_plan(
    plannable: Mapping[str, Sequence[str]],
    *,
    divisions: Sequence[str] | None,
    school_divisions: Iterable[str],
) -> tuple[ClassGroup, ...]:
    """The classes a plan covers: every class with students to plan, or only the named divisions.

    A roster holds the whole school while only some classes certify (3e in collèges, terminales,
    CAP, BTS in lycées), so the school names them. A name the school does not have is refused
    (``class.unknown``) rather than silently planning nobody. A named class with no one left to plan
    is not an error: its students may all be enrolled already.
    """
    if divisions is None:
        return tuple(ClassGroup(name, tuple(ids)) for name, ids in plannable.items())
    wanted = list(dict.fromkeys(divisions))
    known = set(school_divisions)
    unknown = [name for name in wanted if name not in known]
    if unknown:
        raise DomainError(
            "class.unknown",
            f"classe(s) inconnue(s) dans l'établissement : {', '.join(unknown)}",
            divisions=unknown,
            known=sorted(known),
        )
    chosen = set(wanted)
    return tuple(ClassGroup(name, tuple(ids)) for name, ids in plannable.items() if name in chosen and ids)


@dataclass(frozen=True, slots=True)
class PlanningRequest:
    classes: tuple[ClassGroup, ...]
    rooms: tuple[Room, ...]
    staff: tuple[StaffMember, ...]
    window: Window
    hours: SchoolHours = SchoolHours()
    #: first day that may be planned (usually tomorrow); None = the window start.
    not_before: date | None = None
    #: half-days already holding sessions (rooms and staff booked): never proposed again.
    taken_half_days: frozenset[tuple[date, HalfDay]] = frozenset()


@dataclass(frozen=True, slots=True)
class PlannedSession:
    day: date
    half_day: HalfDay
    start: time
    room: str
    site: str
    invigilators: tuple[str, ...]
    student_ids: tuple[str, ...]
    #: (class name, number of its students in this session), in placement order.
    classes: tuple[tuple[str, int], ...]

    @property
    def starts_at(self) -> datetime:
        return datetime.combine(self.day, self.start)

    @property
    def ends_at(self) -> datetime:
        return self.starts_at + timedelta(minutes=SLOT_MINUTES)

    @property
    def test_ends_at(self) -> datetime:
        return self.starts_at + timedelta(minutes=TEST_MINUTES)

    @property
    def time_text(self) -> str:
        return self.start.strftime("%H:%M")


@dataclass(frozen=True, slots=True)
class Plan:
    """A proposal: nothing is created until someone accepts it."""

    sessions: tuple[PlannedSession, ...]
    half_days: tuple[tuple[date, HalfDay], ...]
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class _Unit:
    class_name: str
    student_ids: tuple[str, ...]

    @property
    def size(self) -> int:
        return len(self.student_ids)


@dataclass(frozen=True, slots=True)
class _HalfDaySlots:
    day: date
    half_day: HalfDay
    starts: tuple[time, ...]
    staff: tuple[str, ...]
    seats_per_slot: int
    invigilators_to_fill_rooms: int


def invigilators_needed(candidates: int) -> int:
    return math.ceil(candidates / CANDIDATES_PER_INVIGILATOR)


def plan_sessions(request: PlanningRequest) -> Plan:
    """Propose sessions for every student of `request`, or raise `PlanningError` saying why not."""
    _check_input(request)
    total = sum(len(group.student_ids) for group in request.classes)
    if total == 0:
        return Plan(sessions=(), half_days=())
    rooms = sorted((r for r in request.rooms if r.workstations > 0), key=lambda r: (-r.workstations, r.name))
    if not rooms:
        raise PlanningError("planner.no_room", "aucune salle avec des postes en état de marche")

    half_days = _half_days(request, rooms)
    max_staff = max(len(h.staff) for h in half_days)
    capacities = sorted(
        (min(r.workstations, max_staff * CANDIDATES_PER_INVIGILATOR) for r in rooms), reverse=True
    )
    units, notes = _units(request.classes, capacities)

    ranked = sorted(
        half_days, key=lambda h: (-h.seats_per_slot * len(h.starts), h.day, h.half_day != "morning")
    )
    load: Counter[str] = Counter()
    sessions: list[PlannedSession] = []
    for slots in ranked:
        if not units:
            break
        for start in slots.starts:
            if not units:
                break
            placed, units = _fill_slot(slots, start, rooms, units, load)
            sessions.extend(placed)

    if units:
        raise _insufficient(request, half_days, units, total)
    sessions.sort(key=lambda s: (s.day, s.start, s.room))
    used = tuple(sorted({(s.day, s.half_day) for s in sessions}, key=lambda k: (k[0], k[1] != "morning")))
    return Plan(sessions=tuple(sessions), half_days=used, notes=tuple(notes))


def _check_input(request: PlanningRequest) -> None:
    seen: Counter[str] = Counter(sid for group in request.classes for sid in group.student_ids)
    duplicates = sorted(sid for sid, count in seen.items() if count > 1)
    if duplicates:
        raise PlanningError(
            "planner.duplicate_student",
            f"élève(s) présent(s) dans plusieurs classes : {', '.join(duplicates[:5])}",
            student_ids=duplicates,
        )
    for label, names in (
        ("salle", [r.name for r in request.rooms]),
        ("surveillant", [s.name for s in request.staff]),
    ):
        twice = sorted(name for name, count in Counter(names).items() if count > 1)
        if twice:
            raise PlanningError(
                f"planner.duplicate_{'room' if label == 'salle' else 'staff'}",
                f"{label} en double : {', '.join(twice)}",
            )


def _half_days(request: PlanningRequest, rooms: Sequence[Room]) -> list[_HalfDaySlots]:
    """Every open half-day of the window with at least one 2-hour slot and one available invigilator."""
    window = request.window
    first = max(window.start, request.not_before) if request.not_before else window.start
    open_half_days: list[tuple[date, HalfDay]] = []
    day = first
    while day <= window.end:
        open_half_days.extend(
            (day, hd)
            for hd in HalfDay
            if request.hours.is_open(day, hd) and (day, hd) not in request.taken_half_days
        )
        day += timedelta(days=1)
    if not open_half_days:
        raise PlanningError(
            "planner.no_school_day",
            f"aucun jour de classe dans la fenêtre {fr_date(first)} – {fr_date(window.end)}"
            " (jours d'ouverture, fermetures et demi-journées déjà occupées comprises)",
        )
    result: list[_HalfDaySlots] = []
    too_short: set[HalfDay] = set()
    without_staff = 0
    for day, hd in open_half_days:
        hours = request.hours.hours(hd)
        count = hours.minutes // SLOT_MINUTES
        if count == 0:
            too_short.add(hd)
            continue
        staff = tuple(sorted(s.name for s in request.staff if s.is_available(day, hd)))
        if not staff:
            without_staff += 1
            continue
        starts = tuple(_add(hours.start, k * SLOT_MINUTES) for k in range(count))
        result.append(
            _HalfDaySlots(
                day,
                hd,
                starts,
                staff,
                _seats(rooms, len(staff)),
                sum(invigilators_needed(r.workstations) for r in rooms),
            )
        )
    if not result and too_short and not without_staff:
        spans = ", ".join(
            f"{hd.label} {_hhmm(request.hours.hours(hd).start)}–{_hhmm(request.hours.hours(hd).end)}"
            for hd in HalfDay
            if hd in too_short
        )
        raise PlanningError("planner.no_slot", f"les horaires ({spans}) ne laissent aucun créneau de 2 h")
    if not result:
        raise PlanningError(
            "planner.no_invigilator",
            f"aucun surveillant disponible sur les {without_staff} demi-journée(s) de classe de la fenêtre"
            f" {fr_date(first)} – {fr_date(window.end)}",
        )
    return result


def _seats(rooms: Sequence[Room], staff: int) -> int:
    """Candidates one slot can seat with `staff` invigilators (largest rooms first)."""
    seats = 0
    for room in rooms:
        if staff <= 0:
            break
        take = min(room.workstations, staff * CANDIDATES_PER_INVIGILATOR)
        seats += take
        staff -= invigilators_needed(take)
    return seats


def _units(classes: Iterable[ClassGroup], capacities: Sequence[int]) -> tuple[list[_Unit], list[str]]:
    """One unit per class; a class larger than the largest usable room is cut to fit the rooms."""
    largest = capacities[0]
    units: list[_Unit] = []
    notes: list[str] = []
    for group in classes:
        ids = group.student_ids
        if not ids:
            continue
        if len(ids) <= largest:
            units.append(_Unit(group.name, ids))
            continue
        sizes = _split(len(ids), capacities)
        notes.append(
            f"classe {group.name} ({len(ids)} élèves) plus grande que la plus grande salle utilisable"
            f" ({largest} places) : répartie en {len(sizes)} groupes ({' + '.join(map(str, sizes))})"
        )
        position = 0
        for size in sizes:
            units.append(_Unit(group.name, ids[position : position + size]))
            position += size
    units.sort(key=lambda u: -u.size)  # stable: equal sizes keep the input order
    return units, notes


def _split(size: int, capacities: Sequence[int]) -> list[int]:
    """Fewest pieces that fit the largest rooms (reused as further slots), as even as the rooms allow.

    Water-filling: pieces are min(room, level) for the lowest level that seats everyone, so 38
    students over rooms of 30 and 18 give 20 + 18 (one slot, 2 invigilators), not 30 + 8.
    """
    chosen: list[int] = []
    while sum(chosen) < size:
        chosen.append(capacities[len(chosen) % len(capacities)])
    level = math.ceil(size / len(chosen))
    while sum(min(c, level) for c in chosen) < size:
        level += 1
    pieces = [min(c, level) for c in chosen]
    surplus = sum(pieces) - size
    for index in sorted(range(len(pieces)), key=lambda i: -pieces[i]):
        if surplus == 0:
            break
        pieces[index] -= 1
        surplus -= 1
    return sorted(pieces, reverse=True)


def _fill_slot(
    slots: _HalfDaySlots, start: time, rooms: Sequence[Room], units: list[_Unit], load: Counter[str]
) -> tuple[list[PlannedSession], list[_Unit]]:
    budget = len(slots.staff)
    content: dict[str, list[_Unit]] = {room.name: [] for room in rooms}
    seated: dict[str, int] = dict.fromkeys(content, 0)
    left: list[_Unit] = []
    for unit in units:  # largest first
        best: tuple[int, int, int] | None = None
        best_room: Room | None = None
        for index, room in enumerate(rooms):
            after = seated[room.name] + unit.size
            if after > room.workstations:
                continue
            extra = invigilators_needed(after) - invigilators_needed(seated[room.name])
            if extra > budget:
                continue
            key = (extra, room.workstations - after, index)
            if best is None or key < best:
                best, best_room = key, room
        if best is None or best_room is None:
            left.append(unit)
            continue
        budget -= best[0]
        content[best_room.name].append(unit)
        seated[best_room.name] += unit.size

    free = sorted(slots.staff, key=lambda name: (load[name], name))
    sessions: list[PlannedSession] = []
    for room in rooms:
        if not content[room.name]:
            continue
        count = invigilators_needed(seated[room.name])
        chosen, free = tuple(sorted(free[:count])), free[count:]
        load.update(chosen)
        sessions.append(
            PlannedSession(
                day=slots.day,
                half_day=slots.half_day,
                start=start,
                room=room.name,
                site=room.site,
                invigilators=chosen,
                student_ids=tuple(sid for unit in content[room.name] for sid in unit.student_ids),
                classes=tuple((unit.class_name, unit.size) for unit in content[room.name]),
            )
        )
    return sessions, left


def _insufficient(
    request: PlanningRequest, half_days: Sequence[_HalfDaySlots], units: Sequence[_Unit], total: int
) -> PlanningError:
    missing = sum(unit.size for unit in units)
    seats = sum(h.seats_per_slot * len(h.starts) for h in half_days)
    reasons = [
        f"{fr_date(h.day)} {h.half_day.label} : {h.invigilators_to_fill_rooms} surveillants nécessaires,"
        f" {len(h.staff)} disponible(s)"
        for h in sorted(half_days, key=lambda h: (h.day, h.half_day != "morning"))
        if len(h.staff) < h.invigilators_to_fill_rooms
    ]
    if not reasons:
        reasons.append(
            f"toutes les salles sont pleines sur les {len(half_days)} demi-journée(s) utilisables"
            f" ({seats} places en tout)"
        )
    shown = "; ".join(reasons[:3]) + (f"; … (+{len(reasons) - 3})" if len(reasons) > 3 else "")
    return PlanningError(
        "planner.insufficient_capacity",
        f"{missing} élève(s) sur {total} sans place dans la fenêtre {request.window.describe()} : {shown}",
        reasons=tuple(reasons),
        unplaced=missing,
        seats=seats,
    )


def _minutes(moment: time) -> int:
    return moment.hour * 60 + moment.minute


def _add(moment: time, minutes: int) -> time:
    total = _minutes(moment) + minutes
    return time(total // 60, total % 60)


def _hhmm(moment: time) -> str:
    return moment.strftime("%H:%M")
