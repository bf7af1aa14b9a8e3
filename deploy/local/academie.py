"""A whole académie year, end to end, through the services' public HTTP APIs only.

For generated schools (valid UAIs and INEs, seeded; ``--scale demo|college|academie``): roster and
profile-collection imports (eligibility), school set-up, automatic planning and confirmation,
convocations (scheduler), the day itself in the invigilator space and finalisation (finalisation),
a forgotten student added after each school's first start (deploy/local/late_enrolment.py), the
catch-up week for the absent and aborted (a catch-up plan, deploy/local/catch_up.py), results
from the Pix sandbox, then the class CSVs, attestation PDFs and LSU/LSL livret files
(export), fetched over HTTP too, the livret feed through the LSU/LSL API, and at the end the
académie view (academie): every school's Phase 3 card, printed as a table (a line per step) and
written as a CSV to ``academie/academie-phase3.csv``. Everything lands in one output folder with a
summary.json of the run.

Past 400 lines on purpose: ``run_year`` is the year's phases in the order a school lives them (each
a call into steps.py, supervision.py, exports.py or catch_up.py), and ``main`` its command line with
every option a run takes; both read top to bottom as the run goes.

Schools act **concurrently**, as they do in real life: each phase runs its step for every school,
at most ``--concurrency`` at a time, each school's calls in their order (deploy/local/steps.py).

Used by ``deploy/local/run-academie`` (real processes on the local infrastructure) and by the
end-to-end test (tests/e2e/).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import shutil
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any

from deploy.local.catch_up import catch_up_plan, confirmed_catch_up, remember_resits
from deploy.local.late_enrolment import add_forgotten_student
from deploy.local.localinfra.config import Config
from deploy.local.localinfra.keycloak import keycloak_up
from deploy.local.localinfra.realm import (
    OPERATOR_USER,
    PORTAL_CLIENT,
    referent_user,
    staff_user,
    user_password,
)
from deploy.local.pix_certif import record_pix_certif
from deploy.local.report import (
    Reporter,
    academie_table,
    events_published,
    files_written,
    summary_table,
    topic_end_offsets,
)
from deploy.local.schools import SCALES, School, generate_schools, local_run_calendar, schools_for
from deploy.local.signin import SignIn, acting_for, issuer_url
from deploy.local.stack import CONSOLE, StackConfig, start_stack
from deploy.local.steps import Run

__all__ = ["Run", "generate_schools", "livret_client", "local_run_calendar", "run_academie"]

REPO = Path(__file__).resolve().parents[2]
#: above this many schools the driver prints no line per school (the bars say how far it is)
VERBOSE_UP_TO = 10


def livret_client(schools: list[School]) -> dict[str, Any]:
    """The LSU/LSL reader of the run: allowed to read the generated schools' livrets."""
    return {
        "client_id": "lsu-lsl-academie",
        "secret": "local-livret-secret",
        "uais": [s.uai for s in schools],
    }


async def _for_each(
    limit: asyncio.Semaphore, schools: list[School], step: Callable[[School], Awaitable[None]]
) -> None:
    """``step`` for every school, at most ``limit`` at once; the first failure stops the phase."""

    async def bounded(school: School) -> None:
        async with limit:
            with acting_for(school.uai):
                await step(school)

    async with asyncio.TaskGroup() as group:
        for school in schools:
            group.create_task(bounded(school))


async def run_year(run: Run, schools: list[School], seed: int, reporter: Reporter) -> dict[str, Any]:
    """The five phases of the year for ``schools``; returns the summary (without topics and files)."""
    limit = asyncio.Semaphore(run.concurrency)
    started = time.monotonic()
    students = sum(len(s.learners) for s in schools)

    reporter.log("1. rosters and profile collections (eligibility)")
    with reporter.phase("imports", students, "students") as advance:

        async def imports(school: School) -> None:
            await run.import_rosters(school, seed)
            advance(len(school.learners))

        await _for_each(limit, schools, imports)

    reporter.log("2. planning, sessions, enrolment, convocations (scheduler)")
    planned: dict[str, list[str]] = {}
    with reporter.phase("planning and sessions", len(schools), "schools") as advance:
        proposed: dict[str, dict[str, Any]] = {}

        async def plan(school: School) -> None:
            # a resumed run: a school whose plan is confirmed keeps it
            if already := await run.confirmed_sessions(school):
                planned[school.uai] = already
            else:
                proposed[school.uai] = await run.plan(school)

        await _for_each(limit, schools, plan)
        # the scheduler numbers sessions from one sequence as plans are confirmed: confirming in
        # the schools' order (not as proposals come back) gives every session the same number
        # for one seed, in the file names and the exports (issue 11)
        for school in schools:
            if school.uai in proposed:
                with acting_for(school.uai):
                    planned[school.uai] = await run.confirm(school, proposed[school.uai])
            advance(1)
    sessions = sum(len(ids) for ids in planned.values())
    # each school creates its sessions in Pix Certif and brings back their numbers and codes, before
    # printing the convocations and kits (which then show Pix's values)
    with reporter.phase("Pix Certif sessions", len(schools), "schools") as advance:

        async def pix_certif(school: School) -> None:
            recorded = await record_pix_certif(run, school, seed)
            run.log(f"  {school.uai}: {recorded} session(s) recorded from its Pix Certif file")
            advance(1)

        await _for_each(limit, schools, pix_certif)
    with reporter.phase("enrolment and convocations", sessions, "sessions") as advance:

        async def convoke(school: School, session_id: str) -> dict[str, Any]:
            async with limit:
                detail = await run.convoke(school, session_id)
            advance(1)
            return detail

        async def convoke_school(school: School) -> None:
            # a school's sessions in parallel, in the order the plan gave them
            with acting_for(school.uai):
                sessions = await asyncio.gather(*(convoke(school, i) for i in planned[school.uai]))
            school.sessions.extend(sessions)
            candidates = sum(len(s["candidates"]) for s in school.sessions)
            run.log(
                f"  {school.uai}: {len(school.sessions)} session(s) confirmed, {candidates} candidates convoked"
            )

        await asyncio.gather(*(convoke_school(school) for school in schools))

    reporter.log("3. the certification day: invigilator space and finalisation (finalisation)")
    candidates = sum(len(s["candidates"]) for school in schools for s in school.sessions)
    with reporter.phase("invigilation and finalisation", candidates, "candidates") as advance:

        async def supervise(school: School, session: dict[str, Any]) -> None:
            # rooms run side by side: each session has its own chance, whatever the interleaving;
            # the school's first session gets a forgotten student after its first start
            first = session is min(school.sessions, key=lambda s: s["session_number"])
            late = partial(add_forgotten_student, run, school, session, seed) if first else None
            async with limit:
                advance(await run.supervise(school, session, seed, late=late))

        async def the_day(school: School) -> None:
            with acting_for(school.uai):
                await asyncio.gather(*(supervise(school, s) for s in school.sessions))
            run.log(f"  {school.uai}: {len(school.sessions)} session(s) supervised and finalised")

        await asyncio.gather(*(the_day(school) for school in schools))

    await catch_up_week(run, schools, seed, reporter, limit)

    reporter.log("4. results from the Pix sandbox, class exports and livrets (export)")
    classes = sum(
        len({c["division"] for s in school.sessions for c in s["candidates"]}) for school in schools
    )
    with reporter.phase("results and exports", classes, "classes") as advance:

        async def exports(school: School) -> None:
            advance(await run.collect_exports(school))

        await _for_each(limit, schools, exports)

    client = livret_client(schools)
    feed: dict[str, int] = {}
    with reporter.phase("LSU/LSL API", len(schools), "schools") as advance:

        async def livret(school: School) -> None:
            feed[school.uai] = await run.livret_api(school.uai, client["client_id"], client["secret"])
            advance(1)

        await _for_each(limit, schools, livret)
    reporter.log(f"5. LSU/LSL API: {sum(feed.values())} certifications served for {len(feed)} UAIs")
    reporter.log("6. the académie view: every school's Phase 3 card (academie)")
    with reporter.phase("académie view", len(schools), "schools") as advance:
        view = await run.academie_view(schools)
        advance(len(view["schools"]))
    return {
        "seconds": round(time.monotonic() - started, 1),
        "students": students,
        "sessions": sessions,
        "phases": [phase.as_json() for phase in reporter.phases],
        "academie": view["summary"],
        "schools": [
            {
                "uai": s.uai,
                "name": s.name,
                "level": s.level,
                "kind": s.kind or s.level,
                "learners": len(s.learners),
                "sessions": len(s.sessions),
                "livret": s.summary.get("livret"),
            }
            for s in schools
        ],
    }


async def catch_up_week(
    run: Run, schools: list[School], seed: int, reporter: Reporter, limit: asyncio.Semaphore
) -> None:
    """Each school's absent and aborted students, freed at finalisation, planned in the calendar's
    catch-up week, convoked and certified there (their sessions join ``school.sessions``)."""
    reporter.log("3b. the catch-up week: the absent and aborted sit again (scheduler, finalisation)")
    with reporter.phase("catch-up week", len(schools), "schools") as advance:
        held: dict[str, list[str]] = {}
        proposed: dict[str, dict[str, Any]] = {}

        async def propose(school: School) -> None:
            if already := await confirmed_catch_up(run, school):  # a resumed run
                held[school.uai] = already
            elif plan := await catch_up_plan(run, school):
                proposed[school.uai] = plan

        await _for_each(limit, schools, propose)
        for school in schools:  # confirmed in the schools' order: the same numbers for one seed
            if school.uai in proposed:
                with acting_for(school.uai):
                    held[school.uai] = await run.confirm(school, proposed[school.uai])

        async def pix_certif(school: School) -> None:
            """The catch-up sessions are Pix Certif sessions too: created there, their values brought back."""
            await record_pix_certif(run, school, seed)

        await _for_each(limit, [s for s in schools if s.uai in proposed], pix_certif)

        async def convoke(school: School, session_id: str) -> dict[str, Any]:
            async with limit:
                return await run.convoke(school, session_id)

        async def supervise(school: School, session: dict[str, Any]) -> None:
            resits = partial(remember_resits, run, school, session["session_id"], seed)
            async with limit:
                await run.supervise(school, session, seed, catch_up=True, before_finalising=resits)

        async def week(school: School) -> None:
            with acting_for(school.uai):
                sessions = await asyncio.gather(*(convoke(school, i) for i in held.get(school.uai, [])))
                school.sessions.extend(sessions)
                await asyncio.gather(*(supervise(school, s) for s in sessions))
            if sessions:
                candidates = sum(len(s["candidates"]) for s in sessions)
                run.log(f"  {school.uai}: {len(sessions)} catch-up session(s), {candidates} candidate(s)")
            advance(1)

        await asyncio.gather(*(week(school) for school in schools))


def run_academie(
    run: Run, schools: list[School], seed: int, reporter: Reporter | None = None
) -> dict[str, Any]:
    """The whole year, from synchronous code (the e2e test): opens the run's clients, runs it."""
    reporter = reporter or Reporter()

    async def whole() -> dict[str, Any]:
        async with run:
            with reporter:
                return await run_year(run, schools, seed, reporter)

    return asyncio.run(whole())


#: the options of a run, kept in its output folder for --resume
RUN_FILE = "run.json"


def start_provider(schools: list[School]) -> str:
    """The local OpenID Connect provider (Keycloak) with a realm of the run's schools (and those of
    CERTIBUS_KEYCLOAK_SCHOOLS): a staff member and a Pix referent per school, the académie's
    operator. Returns its issuer URL."""
    local = Config.load()  # CERTIBUS_KEYCLOAK_SCHOOLS: schools of one's own beside the run's (a probe)
    uais = tuple(dict.fromkeys([*(s.uai for s in schools), *local.keycloak_schools]))
    cfg = dataclasses.replace(local, keycloak_schools=uais)
    print(f"== the OpenID Connect provider for {len(schools)} schools ({cfg.keycloak_url})", flush=True)
    keycloak_up(cfg)
    return issuer_url(cfg.keycloak_url)


def main_job_config(
    output: Path, schools: list[School], seed: int, issuer: str, brokers: int = 1, replicas: int = 1
) -> StackConfig:
    """The stack of a main-job run on the infrastructure of the environment (KAFKA_BOOTSTRAP_SERVERS,
    DATABASE_URL), its logs and exports in ``output``, every school signing in at ``issuer``."""
    output.mkdir(parents=True, exist_ok=True)
    return StackConfig(
        kafka_bootstrap_servers=os.environ["KAFKA_BOOTSTRAP_SERVERS"],
        admin_database_url=os.environ["DATABASE_URL"],
        log_dir=output / "logs",
        output_dir=output / "exports",
        extra_env={
            "SCHEDULER_CALENDAR_FILE": str(local_run_calendar(output / "calendar-local-run.json")),
            "TOPIC_REPLICATION_FACTOR": str(min(3, brokers)),
        },
        export_clients=[livret_client(schools)],
        sandbox_seed=seed,
        replicas=replicas,
        api_token=None,  # no gateway: every school signs in through the provider
        oidc_issuer=issuer,
    )


def _newest_run() -> Path:
    runs = sorted(p.parent for p in (REPO / "out").glob(f"academie-*/{RUN_FILE}"))
    if not runs:
        raise SystemExit(f"--resume: no run with a {RUN_FILE} under {REPO / 'out'}; name it with --output")
    return runs[-1]


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--scale", choices=sorted(SCALES), default="demo", help="how big an académie (default demo)"
    )
    parser.add_argument("--schools", type=int, default=None, help="override the scale's number of schools")
    parser.add_argument(
        "--students",
        type=int,
        default=None,
        help="override the scale's students (per school for demo, in all else)",
    )
    parser.add_argument("--seed", type=int, default=2027)
    parser.add_argument("--concurrency", type=int, default=32, help="schools acting at the same time")
    parser.add_argument("--output", type=Path, default=None)
    parser.add_argument("--keep-running", action="store_true", help="leave the services up afterwards")
    parser.add_argument(
        "--brokers",
        type=int,
        default=1,
        help="Kafka brokers (run-academie starts that many; topics replicated min(3, N) times)",
    )
    parser.add_argument("--replicas", type=int, default=1, help="processes of each service (default 1)")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue the interrupted run in --output (default: the newest out/academie-*) on its"
        " infrastructure and state: its options are read from its run.json, phases done are skipped",
    )
    args = parser.parse_args()
    if args.resume:
        output = (args.output or _newest_run()).resolve()
        for option, value in json.loads((output / RUN_FILE).read_text(encoding="utf-8")).items():
            setattr(args, option, value)
        print(f"== resuming the run in {output} (seed {args.seed}, scale {args.scale})")
    else:
        output = (args.output or REPO / "out" / f"academie-{time.strftime('%Y%m%d-%H%M%S')}").resolve()
        if output.exists():
            shutil.rmtree(output)
        output.mkdir(parents=True)
        options = {
            k: getattr(args, k)
            for k in ("scale", "schools", "students", "seed", "concurrency", "brokers", "replicas")
        }
        (output / RUN_FILE).write_text(json.dumps(options, indent=2), encoding="utf-8")
    # SIGTERM (a CI timeout, `kill`) stops the run as Ctrl-C does: the stack is stopped, not orphaned
    signal.signal(signal.SIGTERM, _interrupt)
    schools = schools_for(args.scale, args.seed, args.schools, args.students)
    bootstrap = os.environ["KAFKA_BOOTSTRAP_SERVERS"]
    issuer = start_provider(schools)
    config = main_job_config(output, schools, args.seed, issuer, args.brokers, args.replicas)
    resume_hint = f"deploy/local/run-academie --resume --output {output}"
    students = sum(len(s.learners) for s in schools)
    print(
        f"== {args.scale}: {len(schools)} schools, {students:,} certifying students, concurrency {args.concurrency}"
    )
    replicas = f", {args.replicas} replicas of each" if args.replicas > 1 else ""
    print(f"== starting the five services{replicas} and the Pix sandbox (logs: {config.log_dir})")
    stack = start_stack(config)
    try:
        reporter = Reporter()
        verbose = len(schools) <= VERBOSE_UP_TO
        run = Run(
            {s: config.url(s) for s in config.ports},
            output,
            log=reporter.log if verbose else (lambda _line: None),
            concurrency=args.concurrency,
            signin=SignIn(issuer),
        )
        before = asyncio.run(topic_end_offsets(bootstrap))
        summary = {"scale": args.scale, "seed": args.seed, "concurrency": args.concurrency}
        try:
            summary |= run_academie(run, schools, args.seed, reporter)
        except KeyboardInterrupt:
            print(f"\n== interrupted; the state is kept: continue with\n{resume_hint}", file=sys.stderr)
            sys.exit(130)
        summary["retries"] = run.retries
        summary["sign_ins"] = {"password": run.signin.sign_ins, "refresh": run.signin.renewals}
        summary["restarts"] = [dataclasses.asdict(r) for r in stack.restarts]
        summary["events_per_topic"] = events_published(before, asyncio.run(topic_end_offsets(bootstrap)))
        summary["files"] = files_written(output)
        (output / "summary.json").write_text(
            json.dumps(summary, indent=2, ensure_ascii=False), encoding="utf-8"
        )
        reporter.console.print(summary_table(summary))
        reporter.console.print(academie_table(summary["academie"]))
        print(f"\n== académie run finished in {summary['seconds']} s; outputs and summary.json in:\n{output}")
        if args.keep_running:
            print(
                "services running (Ctrl-C to stop): "
                + ", ".join(f"{s} {config.url(s)}" for s in config.ports if s != CONSOLE)
            )
            first = schools[0].uai
            print(
                f"console: {config.url(CONSOLE)} — sign in as {staff_user(first)} /"
                f" {user_password(staff_user(first))} (staff of {schools[0].name}, {first})"
            )
            print(
                f"sign in at {issuer} (portal client {PORTAL_CLIENT}, password grant or a browser):"
                f" {staff_user(first)} / {user_password(staff_user(first))} (staff of {first}),"
                f" {referent_user(first)} / {user_password(referent_user(first))} (its Pix referent),"
                f" {OPERATOR_USER} / {user_password(OPERATOR_USER)} (the académie's operator);"
                " each school has the same two users"
            )
            while True:
                time.sleep(3600)
    finally:
        stack.stop()
    sys.exit(0)


if __name__ == "__main__":
    main()
