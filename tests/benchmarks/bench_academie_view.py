"""Benchmark (not a test): the académie view's writes and reads at the size of an académie.

Fills the service's real read model (a scratch schema) through its store, one consumer-sized run
at a time (500 learners, their assessments; 10 sessions a school with 20 candidates each and
every step), then times the reads the operator's page makes: ``GET /academie/schools`` (the whole
list derived, filtered, a page), the CSV of every school and the summary — each loads every school
and derives its card, by design (services/academie/usecases/views.py).

    . .local/env && .venv/bin/python tests/benchmarks/bench_academie_view.py [--schools N] [--learners N]

Target: a read under 1 s for 400 schools and 200 000 learners. Needs DATABASE_URL (an admin URL).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid
from datetime import UTC, datetime, timedelta

from services.academie.app import definition
from services.academie.domain.schools import SchoolFilter
from services.academie.store import SessionDetailsRow, transactions
from services.academie.usecases import views
from shared.db import create_pool, migrate, provision_service
from shared.outbox import unit_of_work

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


async def fill(begin, schools: int, learners: int) -> None:
    per_school = learners // schools
    for school in range(schools):
        uai = f"{1_000_000 + school:07d}X"
        mef = "10310019110" if school % 3 else "20212012110"
        async with begin() as work:
            ids = [f"{uai}-L{i}" for i in range(per_school)]
            await work.store.upsert_learners([(i, uai, mef, True) for i in ids])
            await work.store.assess_learners(
                [(i, uai, "certifiable" if n % 7 else "unknown", T0) for n, i in enumerate(ids)]
            )
            sessions = [f"{uai}-S{n}" for n in range(10)]
            await work.store.upsert_session_details(
                [
                    SessionDetailsRow(
                        s, uai, school * 10 + n, f"École {school}", "college", T0.date(), T0, T0
                    )
                    for n, s in enumerate(sessions)
                ]
            )
            await work.store.enrol_candidates([(f"{s}-C{c}", s, uai) for s in sessions for c in range(20)])
            steps = 1 + school % 4  # schools at every stage
            for column in ("convoked_at", "started_at", "finalised_at")[:steps]:
                await work.store.mark_sessions(
                    column, [(s, uai, None, T0 + timedelta(days=3)) for s in sessions]
                )
            if steps == 4:
                await work.store.record_results([(s, uai, 1, 20, T0 + timedelta(days=9)) for s in sessions])
                await work.store.record_livrets([(uai, "LSU", "livret.json", 200, T0 + timedelta(days=10))])


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schools", type=int, default=400)
    parser.add_argument("--learners", type=int, default=200_000)
    args = parser.parse_args()
    schema = f"bench_academie_{uuid.uuid4().hex[:6]}"
    dsn = await provision_service(os.environ["DATABASE_URL"], schema, "bench-pw")
    pool = await create_pool(dsn, schema, 4)
    try:
        async with pool.acquire() as conn:
            await migrate(conn, schema, definition.migrations)
        begin = transactions(lambda: unit_of_work(pool, "academie"))
        started = time.perf_counter()
        await fill(begin, args.schools, args.learners)
        print(
            f"fill: {args.schools} schools, {args.learners:,} learners in {time.perf_counter() - started:.1f} s"
        )
        for what, read in (
            ("list (page of 100)", lambda: views.list_schools(begin, SchoolFilter(), limit=100, offset=0)),
            (
                "list step=results",
                lambda: views.list_schools(begin, SchoolFilter(step="results"), limit=100, offset=0),
            ),
            ("CSV of every school", lambda: views.schools_csv(begin, SchoolFilter())),
            ("summary", lambda: views.summary(begin)),
        ):
            timings = []
            for _ in range(5):
                t = time.perf_counter()
                await read()
                timings.append(time.perf_counter() - t)
            print(f"{what:24} median {sorted(timings)[2] * 1000:7.1f} ms  (min {min(timings) * 1000:.1f})")
    finally:
        await pool.close()
        async with (await create_pool(os.environ["DATABASE_URL"], "public", 1)).acquire() as conn:
            await conn.execute(f"DROP SCHEMA {schema} CASCADE")


if __name__ == "__main__":
    asyncio.run(main())
