"""Benchmark (not a test): render every livret JSON and class results CSV of an académie.

Builds 200 000 learners in ~250 schools (≈ 29 classes of ≈ 28 learners each) with their
enrolments and results in memory, then times the pure domain work the export does for a full
run: grouping (ExportIndex), one livret JSON per school, one CSV per class, each with its sha256
summary. The full target, DB reads included, is < 60 s; the rendering alone should stay < 20 s.

    .venv/bin/python tests/benchmarks/bench_export_render.py [--learners N] [--schools N] [--write DIR]

``--write DIR`` also stores every file with the atomic writer (fsync per file) and times that.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from services.export.domain.files import write_atomically
from services.export.domain.records import Candidate, CertificationResult, Learner, ResultStatus
from services.export.domain.selection import ExportIndex
from services.export.domain.summaries import produce_class_results, produce_livret
from shared.contracts.referential import COMPETENCE_IDS

FIRST = ["Zoé", "Léa", "Chloé", "Emma", "Inès", "Lucas", "Hugo", "Théo", "Noé", "Adèle", "Jules", "Maël"]
LAST = ["Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Lefèvre", "Mercier"]
DIVISIONS = [f"{level}{letter}" for level in ("6", "5", "4", "3") for letter in "ABCDEFG"] + ["2nde B"]


def build(learners_count: int, schools: int, seed: int = 42):
    rng = random.Random(seed)
    learners: list[Learner] = []
    candidates: list[Candidate] = []
    results: list[CertificationResult] = []
    base = datetime(2025, 3, 17, 8, 0, tzinfo=UTC)
    per_school = learners_count // schools
    certification_id = 0
    for school in range(schools):
        uai = f"{1_000_000 + school:07d}X"
        for n in range(per_school):
            learner_id = f"{uai}-{n}"
            learner = Learner(
                id=learner_id,
                uai=uai,
                ine=None if rng.random() < 0.01 else f"{rng.randrange(10**9):09d}AB",
                first_name=rng.choice(FIRST),
                middle_name=rng.choice([None, "Marie", "Jean"]),
                third_name=None,
                last_name=f"{rng.choice(LAST)}{n % 97}",
                birthdate=date(2010, 1, 1) + timedelta(days=rng.randrange(365)),
                division=DIVISIONS[n % len(DIVISIONS)],
                active=rng.random() > 0.02,
            )
            learners.append(learner)
            for attempt in range(1 if rng.random() < 0.9 else 2):
                if rng.random() < 0.05:
                    continue  # enrolled, absent
                candidate = Candidate(f"{learner_id}-c{attempt}", learner_id, f"S-{school}-{attempt}")
                candidates.append(candidate)
                certification_id += 1
                roll = rng.random()
                status = (
                    ResultStatus.VALIDATED
                    if roll < 0.85
                    else ResultStatus.REJECTED
                    if roll < 0.95
                    else ResultStatus.CANCELLED
                )
                published = rng.random() < 0.9
                score = rng.randrange(64, 700)
                results.append(
                    CertificationResult(
                        certification_id=certification_id,
                        candidate_id=candidate.id,
                        session_id=candidate.session_id,
                        session_number=school * 10 + attempt,
                        status=status,
                        published=published,
                        pix_score=score,
                        taken_at=base + timedelta(days=attempt * 14, minutes=n),
                        first_name=learner.first_name,
                        last_name=learner.last_name,
                        birthdate=learner.birthdate,
                        certification_center=f"Collège n°{school}",
                        verification_code=f"P-{certification_id:08d}",
                        published_at=base + timedelta(days=attempt * 14 + 10) if published else None,
                        birthplace="Lille",
                        external_id=f"EXT{n}",
                        jury_comment_for_organization=None,
                        competence_levels={cid: rng.randrange(-1, 7) for cid in COMPETENCE_IDS},
                    )
                )
    return learners, candidates, results


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--learners", type=int, default=200_000)
    parser.add_argument("--schools", type=int, default=250)
    parser.add_argument("--write", type=Path, help="also write the files atomically into this directory")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    learners, candidates, results = build(args.learners, args.schools)
    print(
        f"records: {len(learners)} learners, {len(candidates)} candidates, {len(results)} results "
        f"(generated in {time.perf_counter() - started:.1f} s, not counted)"
    )

    today = date(2025, 6, 20)
    t0 = time.perf_counter()
    index = ExportIndex(learners, candidates, results)
    t1 = time.perf_counter()
    livrets = [produce_livret(index, uai, "LSU", today) for uai in index.uais()]
    t2 = time.perf_counter()
    csvs = [
        produce_class_results(index, uai, division, today)
        for uai in index.uais()
        for division in index.divisions(uai)
    ]
    t3 = time.perf_counter()

    livret_bytes = sum(len(x.content) for x in livrets)
    csv_bytes = sum(len(x.content) for x in csvs)
    print(f"index:   {t1 - t0:6.2f} s")
    print(f"livret:  {t2 - t1:6.2f} s  {len(livrets)} files, {livret_bytes / 1e6:.1f} MB, "
          f"{sum(x.summary.certifications for x in livrets)} certifications")  # fmt: skip
    print(f"csv:     {t3 - t2:6.2f} s  {len(csvs)} files, {csv_bytes / 1e6:.1f} MB, "
          f"{sum(x.summary.rows for x in csvs)} rows")  # fmt: skip
    print(f"total:   {t3 - t0:6.2f} s  (target < 20 s)")

    if args.write:
        args.write.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=args.write) as directory:
            t4 = time.perf_counter()
            for export in (*livrets, *csvs):
                write_atomically(Path(directory) / export.file_name, export.content)
            print(
                f"write:   {time.perf_counter() - t4:6.2f} s  ({len(livrets) + len(csvs)} atomic writes with fsync)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
