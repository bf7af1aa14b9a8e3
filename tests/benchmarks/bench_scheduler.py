"""Benchmark (not a test): planning a 2,000-student lycée, and building one session's PDF bundle.

Run: .venv/bin/python tests/benchmarks/bench_scheduler.py   (targets: planning < 5 s)
"""

from __future__ import annotations

import random
import sys
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from services.scheduler.domain.calendar import CertificationCalendar, SchoolLevel, Window
from services.scheduler.domain.documents import School, build_session_bundle
from services.scheduler.domain.enrolment import Candidate
from services.scheduler.domain.planner import (
    ClassGroup,
    HalfDay,
    PlanningRequest,
    Room,
    SchoolHours,
    StaffMember,
    plan_sessions,
)
from services.scheduler.domain.sessions import Session

STUDENTS = 2000
ROOMS = 6
STAFF = 40


def lycee_request(rng: random.Random) -> PlanningRequest:
    calendar = CertificationCalendar.load().for_level("2023-2024", SchoolLevel.LYCEE)
    window = calendar.window
    sizes: list[int] = []
    while sum(sizes) < STUDENTS:
        sizes.append(min(rng.randint(24, 38), STUDENTS - sum(sizes)))
    classes = tuple(
        ClassGroup(f"T{k + 1:02d}", tuple(f"T{k + 1:02d}-{i}" for i in range(size)))
        for k, size in enumerate(sizes)
    )
    rooms = tuple(Room(f"Salle {k + 1}", rng.choice([24, 28, 30, 32, 35])) for k in range(ROOMS))
    days = [window.start + timedelta(days=d) for d in range((window.end - window.start).days + 1)]
    half_days = [(d, hd) for d in days for hd in HalfDay]
    staff = tuple(
        StaffMember(f"Prof {k + 1:02d}", frozenset(rng.sample(half_days, k=len(half_days) // 3)))
        for k in range(STAFF)
    )
    holidays = (
        Window(date(2023, 12, 23), date(2024, 1, 7)),
        Window(date(2024, 2, 10), date(2024, 2, 25)),
    )
    return PlanningRequest(classes, rooms, staff, window, SchoolHours(closures=holidays))


def main() -> None:
    rng = random.Random(2024)
    request = lycee_request(rng)
    started = time.perf_counter()
    plan = plan_sessions(request)
    planning = time.perf_counter() - started
    placed = sum(len(s.student_ids) for s in plan.sessions)
    print(
        f"planning: {planning:.3f} s for {placed} students, {len(request.classes)} classes, {ROOMS} rooms,"
        f" {STAFF} staff -> {len(plan.sessions)} sessions over {len(plan.half_days)} half-days"
        f" ({len(plan.notes)} classes split)"
    )

    session = Session(
        1234,
        "Site principal",
        "Salle 1",
        ("Mme Lefèvre", "M. Cœur"),
        date(2024, 3, 14),
        "08:00",
        "BCDF23",
        "kjHv!7",
    )
    candidates = [
        Candidate(
            f"l{i}", 1234, f"Nom{i:02d}", "Zoé", date(2006, 1 + i % 12, 1 + i), "T01", 33 if i == 3 else 0
        )
        for i in range(20)
    ]
    school = School("Lycée Gay-Lussac", "0870045P", "Limoges")
    started = time.perf_counter()
    bundle = build_session_bundle(school, session, candidates)
    rendering = time.perf_counter() - started
    print(f"documents: {rendering:.3f} s for the PDF bundle of 20 candidates ({len(bundle)} bytes zipped)")


if __name__ == "__main__":
    main()
