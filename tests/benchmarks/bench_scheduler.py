"""Benchmark (not a test): planning a 2,000-student lycée, and building one session's PDF bundle.

Run: .venv/bin/python tests/benchmarks/bench_scheduler.py   (targets: planning < 5 s)

With KAFKA_BOOTSTRAP_SERVERS and DATABASE_URL set (``. .local/env``), it also measures the service
path: the same lycée through the scheduler's HTTP API on a scratch schema (learners in the read
model, POST /plans, POST /plans/{id}/confirm with every password hashed and every event written to
the outbox, GET bundle.zip of a 20-candidate session).
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
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


async def service_path(request: PlanningRequest) -> None:
    """The same school through the real service: HTTP, Postgres, outbox (Kafka for the consumers)."""
    import asyncpg
    import httpx

    from services.scheduler.app import definition
    from services.scheduler.store import CertifiabilityRow, LearnerSnapshotRow, SchedulerStore
    from shared.clock import ManualClock
    from shared.db import provision_service
    from shared.service import create_app

    admin = os.environ["DATABASE_URL"]
    schema = f"bench_sched_{uuid.uuid4().hex[:8]}"
    dsn = await provision_service(admin, schema, "bench-pw")
    settings = definition.settings_class(
        database_url=dsn,
        database_schema=schema,
        kafka_bootstrap_servers=os.environ["KAFKA_BOOTSTRAP_SERVERS"],
        consumer_group_prefix=schema,
        log_level="WARNING",
    )
    app = create_app(definition, settings)
    uai = "0870045P"
    try:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as http,
        ):
            runtime = app.state.runtime
            runtime.clock = ManualClock(datetime(2023, 10, 2, 7, 0, tzinfo=UTC))
            async with runtime.unit_of_work() as uow:
                store = SchedulerStore(uow.conn)
                now = runtime.clock.now()
                learners = [
                    (group.name, k, learner_id)
                    for group in request.classes
                    for k, learner_id in enumerate(group.student_ids)
                ]
                await store.upsert_learners(
                    [
                        LearnerSnapshotRow(
                            learner_id=learner_id,
                            uai=uai,
                            ine=None,
                            first_name="Zoé",
                            last_name=f"Nom {learner_id}",
                            birthdate=date(2006, 1 + k % 12, 1 + k % 28),
                            division=division,
                            active=True,
                            at=now,
                        )
                        for division, k, learner_id in learners
                    ]
                )
                await store.upsert_certifiabilities(
                    [
                        CertifiabilityRow(learner_id, uai, "certifiable", 6, now)
                        for _, _, learner_id in learners
                    ]
                )
            school = {
                "name": "Lycée Gay-Lussac",
                "level": "lycee",
                "city": "Limoges",
                "site": "Site principal",
                "rooms": [{"name": r.name, "workstations": r.workstations} for r in request.rooms],
                "staff": [
                    {
                        "name": m.name,
                        "availability": [
                            {"date": d.isoformat(), "half_day": h.value} for d, h in m.available or ()
                        ],
                    }
                    for m in request.staff
                ],
                "hours": {
                    "closures": [
                        {"start": c.start.isoformat(), "end": c.end.isoformat()}
                        for c in request.hours.closures
                    ]
                },
            }
            assert (await http.put(f"/schools/{uai}", json=school)).status_code == 201

            started = time.perf_counter()
            plan = (await http.post(f"/schools/{uai}/plans", json={"school_year": "2023-2024"})).json()
            proposing = time.perf_counter() - started
            assert plan["status"] == "proposed", plan["error"]
            started = time.perf_counter()
            confirmed = await http.post(f"/plans/{plan['plan_id']}/confirm")
            confirming = time.perf_counter() - started
            assert confirmed.status_code == 200, confirmed.text
            sessions = confirmed.json()["session_ids"]
            print(
                f"service: POST /plans {proposing:.3f} s ({len(plan['sessions'])} sessions proposed for"
                f" {plan['students']} students), POST /confirm {confirming:.3f} s"
                f" ({len(sessions)} sessions created, passwords hashed, events in the outbox)"
            )

            async with runtime.pool.acquire() as conn:
                twenty = await conn.fetchval(
                    "SELECT session_id FROM candidates GROUP BY session_id HAVING count(*) >= 20 LIMIT 1"
                )
                extra = await conn.fetch(
                    "SELECT candidate_id FROM candidates WHERE session_id = $1 ORDER BY candidate_id OFFSET 20",
                    twenty,
                )
                await conn.execute(
                    "DELETE FROM candidates WHERE candidate_id = ANY($1::uuid[])", [r[0] for r in extra]
                )
            started = time.perf_counter()
            bundle = await http.get(f"/sessions/{twenty}/bundle.zip")
            bundling = time.perf_counter() - started
            assert bundle.status_code == 200
            print(f"service: GET bundle.zip {bundling:.3f} s for 20 candidates ({len(bundle.content)} bytes)")
    finally:
        conn = await asyncpg.connect(admin)
        try:
            await conn.execute(f"DROP SCHEMA {schema} CASCADE")
            await conn.execute(f"DROP ROLE certibus_{schema}")
        finally:
            await conn.close()


if __name__ == "__main__":
    main()
    if os.environ.get("DATABASE_URL") and os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        asyncio.run(service_path(lycee_request(random.Random(2024))))
    else:
        print("service path skipped: set KAFKA_BOOTSTRAP_SERVERS and DATABASE_URL (. .local/env)")
