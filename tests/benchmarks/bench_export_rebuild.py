"""Benchmark (not a test): rebuild every livret file and class CSV of an académie from Postgres.

Loads 200 000 learners in ~250 schools, a session per school, their enrolments and results into
the export service's real read model (a scratch schema, with COPY), then times the service's own
rebuild (:func:`services.export.usecases.rebuild.rebuild_school`, one transaction per school: lock, load,
render, compare digests, atomic write with fsync, exports log, events in the outbox) for every
school. A second pass over unchanged data shows the cost when nothing has to be written; a third
changes one result in each school and times the rebuild a ``ResultsProcessed`` runs (the classes
the results touched).

    . .local/env && .venv/bin/python tests/benchmarks/bench_export_rebuild.py \
        [--learners N] [--schools N] [--attestations] [--output DIR] [--keep]

Target: the first full rebuild (livret + class CSVs) in under 60 s. ``--attestations`` also
renders the class PDFs (not part of the target). Needs DATABASE_URL (an admin URL).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from services.export.app import definition
from services.export.store import competence_array, transactions
from services.export.usecases.rebuild import rebuild_school
from shared.contracts.referential import COMPETENCE_IDS
from shared.db import create_pool, migrate, provision_service
from shared.logging import configure_logging
from shared.outbox import unit_of_work

FIRST = ["Zoé", "Léa", "Chloé", "Emma", "Inès", "Lucas", "Hugo", "Théo", "Noé", "Adèle", "Jules", "Maël"]
LAST = ["Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Lefèvre", "Mercier"]
DIVISIONS = [f"{level}{letter}" for level in ("6", "5", "4", "3") for letter in "ABCDEFG"] + ["2nde B"]


def build_rows(learners_count: int, schools: int, seed: int = 42):
    """Rows for COPY: learners, sessions, candidates, results (≈ 1.05 results per learner)."""
    rng = random.Random(seed)
    learners, sessions, candidates, results = [], [], [], []
    base = datetime(2025, 3, 17, 8, 0, tzinfo=UTC)
    per_school = learners_count // schools
    certification_id = 0
    for school in range(schools):
        uai = f"{1_000_000 + school:07d}X"
        level = "college" if school % 3 else "lycee"
        center = f"Établissement n°{school}"
        for attempt in range(2):
            sessions.append(
                (
                    f"S-{school}-{attempt}",
                    school * 10 + attempt,
                    uai,
                    center,
                    level,
                    date(2025, 3, 17 + attempt * 14),
                )
            )
        for n in range(per_school):
            learner_id = f"{uai}-{n}"
            first, last = rng.choice(FIRST), f"{rng.choice(LAST)}{n % 97}"
            birthdate = date(2010, 1, 1) + timedelta(days=rng.randrange(365))
            learners.append(
                (
                    learner_id,
                    uai,
                    None if rng.random() < 0.01 else f"{rng.randrange(10**9):09d}AB",
                    first,
                    rng.choice([None, "Marie", "Jean"]),
                    None,
                    last,
                    birthdate,
                    DIVISIONS[n % len(DIVISIONS)],
                    rng.random() > 0.02,
                )
            )
            for attempt in range(1 if rng.random() < 0.9 else 2):
                if rng.random() < 0.05:
                    continue  # enrolled, absent
                session_id = f"S-{school}-{attempt}"
                candidate_id = f"{learner_id}-c{attempt}"
                candidates.append((candidate_id, learner_id, session_id, uai))
                certification_id += 1
                roll = rng.random()
                status = "validated" if roll < 0.85 else "rejected" if roll < 0.95 else "cancelled"
                taken = base + timedelta(days=attempt * 14, minutes=n)
                levels = {cid: rng.randrange(-1, 7) for cid in COMPETENCE_IDS if rng.random() < 0.8}
                results.append(
                    (
                        certification_id,
                        session_id,
                        school * 10 + attempt,
                        candidate_id,
                        learner_id,
                        uai,
                        center,
                        status,
                        rng.randrange(64, 700),
                        competence_array(levels),
                        f"P-{certification_id:08d}",
                        first,
                        last,
                        birthdate,
                        "Lille",
                        f"EXT{n}",
                        None,
                        taken,
                        taken + timedelta(days=10),
                        taken + timedelta(days=10),
                    )
                )
    return learners, sessions, candidates, results


COLUMNS = {
    "learners": [
        "learner_id", "uai", "ine", "first_name", "middle_name", "third_name", "last_name",
        "birthdate", "division", "active",
    ],
    "sessions": ["session_id", "session_number", "uai", "certification_center", "school_level", "session_date"],
    "candidates": ["candidate_id", "learner_id", "session_id", "uai"],
    "results": [
        "certification_id", "session_id", "session_number", "candidate_id", "learner_id", "uai",
        "certification_center", "status", "pix_score", "competence_levels", "verification_code",
        "first_name", "last_name", "birthdate", "birthplace", "external_id", "jury_comment", "taken_at",
        "published_at", "processed_at",
    ],
}  # fmt: skip


def disk_usage(directory: Path) -> tuple[int, int]:
    files = [p for p in directory.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


async def rebuild_everything(pool, uais: list[str], output: Path, now: datetime, attestations: bool):
    files = changed = events = 0
    for uai in uais:
        async with transactions(lambda: unit_of_work(pool, "export"))() as work:
            report = await rebuild_school(work, uai, output_dir=output, now=now, attestations=attestations)
        files += len(report.files)
        changed += report.changed
        events += len(report.events)
    return files, changed, events


async def results_for_one_class(pool, uais: list[str], output: Path, now: datetime, attestations: bool):
    """What a ``ResultsProcessed`` costs: one learner's result changes in each school, then the
    rebuild the results handler runs (``touched``: that learner's class)."""
    files = changed = 0
    for uai in uais:
        async with transactions(lambda: unit_of_work(pool, "export"))() as work:
            learner_id, division = await work.outbox.conn.fetchrow(
                "SELECT l.learner_id, l.division FROM learners l JOIN results r USING (learner_id)"
                " WHERE l.uai = $1 AND l.active AND r.status = 'validated'"
                " ORDER BY l.learner_id LIMIT 1",
                uai,
            )
            await work.outbox.conn.execute(
                "UPDATE results SET pix_score = pix_score + 1 WHERE learner_id = $1", learner_id
            )
            report = await rebuild_school(
                work, uai, output_dir=output, now=now, touched={division}, attestations=attestations
            )
        files += len(report.files)
        changed += report.changed
    return files, changed


async def run(args: argparse.Namespace) -> int:
    admin = os.environ.get("DATABASE_URL")
    if not admin:
        print("DATABASE_URL is not set: source .local/env first", file=sys.stderr)
        return 2
    configure_logging("export", "WARNING", "console")
    schema = f"bench_export_{uuid.uuid4().hex[:8]}"
    dsn = await provision_service(admin, schema, "bench-pw")
    pool = await create_pool(dsn, schema, 4)
    output = Path(args.output or tempfile.mkdtemp(prefix="bench-exports-", dir="."))
    try:
        async with pool.acquire() as conn:
            await migrate(conn, schema, definition.migrations)
        t0 = time.perf_counter()
        tables = dict(zip(COLUMNS, build_rows(args.learners, args.schools), strict=True))
        t1 = time.perf_counter()
        async with pool.acquire() as conn:
            for table, rows in tables.items():
                await conn.copy_records_to_table(table, records=rows, columns=COLUMNS[table])
            await conn.execute("ANALYZE")
        t2 = time.perf_counter()
        print(
            f"read model: {len(tables['learners'])} learners, {len(tables['candidates'])} candidates, "
            f"{len(tables['results'])} results in {args.schools} schools "
            f"(generated {t1 - t0:.1f} s, COPY {t2 - t1:.1f} s; not counted)"
        )
        uais = sorted({row[1] for row in tables["learners"]})
        now = datetime(2025, 6, 20, 12, 0, tzinfo=UTC)

        t3 = time.perf_counter()
        files, changed, events = await rebuild_everything(pool, uais, output, now, args.attestations)
        first = time.perf_counter() - t3
        what = "livrets + class CSVs" + (" + attestation PDFs" if args.attestations else "")
        print(
            f"full rebuild ({what}): {first:6.2f} s  {files} files written, {events} events (target < 60 s)"
        )

        t4 = time.perf_counter()
        files, changed, events = await rebuild_everything(pool, uais, output, now, args.attestations)
        print(
            f"unchanged rebuild:     {time.perf_counter() - t4:6.2f} s  {files} files compared, "
            f"{changed} rewritten, {events} events"
        )
        t5 = time.perf_counter()
        files, changed = await results_for_one_class(pool, uais, output, now, args.attestations)
        print(
            f"results, one class per school: {time.perf_counter() - t5:6.2f} s  {files} files considered,"
            f" {changed} rewritten"
        )
        count, size = disk_usage(output)
        print(f"on disk: {count} files, {size / 1e6:.1f} MB in {output}")
        print(f"SECONDS {first:.2f}")
        return 0 if first < 60 else 1
    finally:
        await pool.close()
        if not args.keep:
            shutil.rmtree(output, ignore_errors=True)
            import asyncpg

            conn = await asyncpg.connect(admin)
            try:
                await conn.execute(f"DROP SCHEMA {schema} CASCADE")
                await conn.execute(f"DROP ROLE certibus_{schema}")
            finally:
                await conn.close()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--learners", type=int, default=200_000)
    parser.add_argument("--schools", type=int, default=250)
    parser.add_argument("--attestations", action="store_true", help="also render the class PDFs")
    parser.add_argument("--output", type=Path, help="where to write (default: a temporary folder here)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch schema and the files")
    return asyncio.run(run(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
