"""``deploy/local/run-academie --chaos [--seed N]``: the main job under seeded faults, against its clean twin.

Two years of one seed on the run's own infrastructure (.local/academie): first the clean twin,
its facts read (deploy/local/chaos_compare.py), then the infrastructure is wiped and started again
and the same year runs while deploy/local/chaos.py injects the seed's faults (kill -9 of every
service and of the Pix sandbox ``--kills-each`` times, one broker restart, one PostgreSQL restart,
one service paused past its session timeout). Prints the fault table and writes it, with every
difference found, to ``chaos.json`` in the output folder; exits 1 if any difference was found.
The default size is the issue's mid-size académie (``--scale college``: 20 schools, 5,000 students).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

from rich.console import Console

from deploy.local.academie import REPO, main_job_config, run_academie, start_provider
from deploy.local.chaos import SANDBOX, ChaosReporter, FaultInjector, LocalInfrastructure, fault_plan
from deploy.local.chaos_compare import (
    RunFacts,
    attribute_duplicates,
    chaos_table,
    compare_runs,
    settled_facts,
)
from deploy.local.localinfra.cli import cmd_reset, cmd_up
from deploy.local.localinfra.config import Config
from deploy.local.report import Reporter
from deploy.local.schools import SCALES, School, schools_for
from deploy.local.signin import SignIn
from deploy.local.stack import start_stack
from deploy.local.steps import Run
from shared.contracts.topics import SERVICES


def one_year(
    output: Path,
    schools: list[School],
    seed: int,
    issuer: str,
    concurrency: int,
    infra: Config | None = None,
    kills_each: int = 3,
) -> tuple[RunFacts, FaultInjector | None]:
    """One year of the main job in ``output``; with ``infra``, the seed's faults injected in it
    (``kills_each`` kill -9 of every process)."""
    config = main_job_config(output, schools, seed, issuer)
    injector = None
    with start_stack(config) as stack:
        run = Run(
            {s: config.url(s) for s in config.ports},
            output,
            log=lambda _line: None,
            concurrency=concurrency,
            signin=SignIn(issuer),
        )
        if infra is not None:
            plan = fault_plan(seed, [*SERVICES, SANDBOX], kills_each=kills_each)
            injector = FaultInjector(stack, LocalInfrastructure(infra), plan)
            injector.start()
        try:
            run_academie(run, schools, seed, ChaosReporter(injector) if injector else Reporter())
        finally:
            if injector is not None:
                injector.stop()
        print(f"== {output.name}: {run.retries} requests resent, {len(stack.restarts)} restarts", flush=True)
        kafka, admin = config.kafka_bootstrap_servers, config.admin_database_url
        return settled_facts(output, kafka, admin, None), injector


def _fresh_infrastructure(cfg: Config) -> None:
    """The run's broker and database wiped and started again: the faulty year starts as the clean did."""
    if cmd_reset(cfg, "all") or cmd_up(cfg):
        raise SystemExit("could not reset the run's infrastructure (see above)")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chaos", action="store_true", help="(how run-academie chooses this job)")
    parser.add_argument("--scale", choices=sorted(SCALES), default="college")
    parser.add_argument("--schools", type=int, default=None)
    parser.add_argument("--students", type=int, default=None)
    parser.add_argument("--seed", type=int, default=2027)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--kills-each", type=int, default=3, help="kill -9 of each process (default 3)")
    parser.add_argument("--output", type=Path, default=None)
    return parser


def main() -> None:
    args = _parser().parse_args()
    output = (args.output or REPO / "out" / f"chaos-{time.strftime('%Y%m%d-%H%M%S')}").resolve()
    output.mkdir(parents=True, exist_ok=True)
    cfg = Config.load()
    schools = schools_for(args.scale, args.seed, args.schools, args.students)
    issuer = start_provider(schools)
    students = sum(len(s.learners) for s in schools)
    print(f"== chaos, seed {args.seed}: {len(schools)} schools, {students:,} students; outputs in {output}")
    print("== the clean twin", flush=True)
    clean, _ = one_year(output / "clean", schools, args.seed, issuer, args.concurrency)
    _fresh_infrastructure(cfg)
    print("== the same year under faults", flush=True)
    # the schools' sessions are filled in by a run: the faulty one starts from the generated schools
    schools = schools_for(args.scale, args.seed, args.schools, args.students)
    faulty, injector = one_year(
        output / "chaos", schools, args.seed, issuer, args.concurrency, cfg, args.kills_each
    )
    assert injector is not None
    attribute_duplicates(injector.injected, output / "chaos" / "logs")
    differences = compare_runs(clean, faulty)
    Console(width=160).print(chaos_table(injector.injected, faulty, differences))
    for difference in differences:
        print(difference)
    report = {
        "seed": args.seed,
        "scale": args.scale,
        "faults": [dataclasses.asdict(f) for f in injector.injected],
        "not_injected": [dataclasses.asdict(f) for f in injector.not_injected],
        "duplicates_on_the_wire": faulty.duplicates_on_the_wire,
        "differences": [str(d) for d in differences],
    }
    (output / "chaos.json").write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    print(f"== {len(differences)} difference(s); report in {output / 'chaos.json'}")
    sys.exit(1 if differences or injector.not_injected else 0)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
