"""The whole chain at académie scale: the main job, watched from outside, then the raw broker rate.

    tests/benchmarks/bench_academie.py [--scale college|academie] [--concurrency 32] [--seed 2027]
                                       [--schools N] [--students N]

Runs ``deploy/local/run-academie`` (its own fresh Kafka and PostgreSQL under .local/academie, the
five services, the Pix sandbox, the asyncio driver) and, while it runs, samples from the outside:
- every process's CPU time and resident memory from /proc (services, sandbox, driver, Kafka, and
  PostgreSQL with the backends it has reaped), hence CPU-ms per student summed over all of them;
- every consumer group's committed offsets (events applied per group, and their sustained rate);
- the time from a command's HTTP answer to its effect downstream: a one-learner roster posted to
  eligibility for a probe school, until the scheduler's read model (GET /schools/{uai}) shows its
  class — eligibility's outbox, Kafka, the scheduler's learners consumer — once a second, under load.
Then, on the same broker, the raw aiokafka produce→consume rate for as many records of the same size
as the run published, and the ratio of each group's rate to it. A script that prints figures, not a
test: speed is measured here, correctness stays in the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import logging
import os
import random
import statistics
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import aiohttp
import httpx
from aiokafka.admin import AIOKafkaAdminClient
from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from deploy.local.generator import generate_learners, learner_csv_bytes, random_uai  # noqa: E402
from deploy.local.schools import School, school_body  # noqa: E402
from deploy.local.signin import SignIn, acting_for, issuer_url  # noqa: E402
from deploy.local.stack import DEFAULT_PORTS  # noqa: E402
from tests.benchmarks import pg_statements  # noqa: E402
from tests.benchmarks.bench_delivery import raw_kafka, sample_record  # noqa: E402

CLOCK_TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
LOCAL_DIR = Path(os.environ.get("CERTIBUS_LOCAL_DIR", REPO / ".local" / "academie"))
KAFKA = f"127.0.0.1:{os.environ.get('CERTIBUS_KAFKA_PORT', '29092')}"
#: run-academie's PostgreSQL (deploy/local/run-academie: CERTIBUS_PG_PORT), as its administrator
DATABASE = (
    f"postgresql://certibus_admin:{os.environ.get('CERTIBUS_PG_ADMIN_PASSWORD', 'certibus_admin')}"
    f"@127.0.0.1:{os.environ.get('CERTIBUS_PG_PORT', '25432')}/certibus"
)
PORTS = DEFAULT_PORTS
#: the probe school, outside the run's académie but in its provider's realm
PROBE_UAI = random_uai(random.Random(4242), "058")
#: run-academie's provider (deploy/local/run-academie: CERTIBUS_KEYCLOAK_PORT)
KEYCLOAK_PORT = int(os.environ.get("CERTIBUS_KEYCLOAK_PORT", "28080"))


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return None


@dataclass
class ProcessSample:
    cpu: float  # seconds, utime + stime (+ reaped children's for PostgreSQL's postmaster)
    rss: int  # bytes


def _stat(pid: int, with_children: bool = False, private: bool = False) -> ProcessSample | None:
    """CPU and memory of a process; ``private`` leaves out its shared pages (PostgreSQL's backends
    all map the same shared buffers: counting them in each would multiply them)."""
    text = _read(f"/proc/{pid}/stat")
    statm = _read(f"/proc/{pid}/statm")
    if text is None or statm is None:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    ticks = int(fields[11]) + int(fields[12]) + ((int(fields[13]) + int(fields[14])) if with_children else 0)
    resident, shared = (int(v) for v in statm.split()[1:3])
    return ProcessSample(ticks / CLOCK_TICK, (resident - shared if private else resident) * PAGE)


def _role(pid: int, driver_pid: int) -> str | None:
    """What a process is in the run: a service, the sandbox, the driver, Kafka, PostgreSQL."""
    cmdline = (_read(f"/proc/{pid}/cmdline") or "").replace("\0", " ")
    if pid == driver_pid or "deploy.local.academie" in cmdline:
        return "driver"
    for service in PORTS:
        if f"-m services.{service}" in cmdline:
            return service
    if "deploy.pix_sandbox" in cmdline:
        return "pix_sandbox"
    if "kafka.Kafka" in cmdline and str(LOCAL_DIR) in cmdline:
        return "kafka"
    if "postgres" in cmdline and f"-D {LOCAL_DIR}" in cmdline:
        return "postgres"
    return None


def _descendants(root: int, pids: list[int]) -> set[int]:
    """``root`` and every process under it."""
    children: dict[int, list[int]] = {}
    for pid in pids:
        text = _read(f"/proc/{pid}/stat")
        if text:
            children.setdefault(int(text[text.rindex(")") + 2 :].split()[1]), []).append(pid)
    found, todo = set(), [root]
    while todo:
        pid = todo.pop()
        found.add(pid)
        todo.extend(children.get(pid, ()))
    return found


@dataclass
class Watch:
    """Peak memory and CPU per role, summed over the role's processes (PostgreSQL: its backends too,
    their private memory only)."""

    driver_pid: int
    cpu: dict[int, tuple[str, float]] = field(default_factory=dict)
    peak_rss: dict[str, int] = field(default_factory=dict)
    #: CPU per role when every service first answered /ready: what starting the JVM, formatting
    #: storage, migrating and creating topics cost, left out of the per-student figure
    at_ready: dict[str, float] | None = None

    def sample(self) -> None:
        postmaster = None
        rss: dict[str, int] = {}
        pids = [int(p) for p in os.listdir("/proc") if p.isdigit()]
        ours = _descendants(self.driver_pid, pids)  # not the services of another run on this machine
        roles = {pid: _role(pid, self.driver_pid) for pid in pids}
        roles = {
            pid: role if role in ("kafka", "postgres") or pid in ours else None for pid, role in roles.items()
        }
        for pid, role in roles.items():
            if role == "postgres":
                postmaster = pid
        for pid in pids:
            role = roles[pid]
            if role is None and postmaster is not None:
                status = _read(f"/proc/{pid}/stat") or ""
                if status and int(status[status.rindex(")") + 2 :].split()[1]) == postmaster:
                    role = "postgres"
            if role is None:
                continue
            sample = _stat(pid, with_children=pid == postmaster, private=role == "postgres")
            if sample is None:
                continue
            self.cpu[pid] = (role, max(sample.cpu, self.cpu.get(pid, (role, 0.0))[1]))
            rss[role] = rss.get(role, 0) + sample.rss
        for role, value in rss.items():
            self.peak_rss[role] = max(value, self.peak_rss.get(role, 0))

    def cpu_by_role(self) -> dict[str, float]:
        totals: dict[str, float] = {}
        for role, seconds in self.cpu.values():
            totals[role] = totals.get(role, 0.0) + seconds
        return totals

    def mark_ready(self) -> None:
        self.sample()
        self.at_ready = self.cpu_by_role()

    def cpu_since_ready(self) -> dict[str, float]:
        """CPU per role spent after the stack was ready: the run's own work (its idle waits too)."""
        start = self.at_ready or {}
        return {role: seconds - start.get(role, 0.0) for role, seconds in self.cpu_by_role().items()}


async def all_ready(client: httpx.AsyncClient) -> bool:
    """Every service of the stack answers /ready with 200."""
    for port in PORTS.values():
        try:
            if (await client.get(f"http://127.0.0.1:{port}/ready")).status_code != 200:
                return False
        except httpx.HTTPError:
            return False
    return True


async def group_offsets(admin: AIOKafkaAdminClient) -> dict[str, int]:
    """Committed offsets summed over partitions, for every certibus consumer group."""
    groups = [g[0] for g in await admin.list_consumer_groups() if g[0].startswith("certibus.")]
    totals = {}
    for group in groups:
        offsets = await admin.list_consumer_group_offsets(group)
        totals[group] = sum(meta.offset for meta in offsets.values() if meta.offset > 0)
    return totals


def sustained_rate(series: list[tuple[float, int]]) -> tuple[int, float]:
    """(events, events/s while busy) of a group's committed total: the run starts on an empty broker,
    so everything it committed was applied in this run; busy time is the sum of the sampling
    intervals in which its total moved (the time it had work, not the time it waited for the driver)."""
    if not series:
        return 0, 0.0
    busy = sum(t1 - t0 for (t0, n0), (t1, n1) in itertools.pairwise(series) if n1 != n0)
    events = series[-1][1]
    if series[0][1]:  # first seen already moving: count the interval before it as busy too
        busy += series[1][0] - series[0][0] if len(series) > 1 else 0.0
    return events, events / busy if busy > 0 else 0.0


async def probe_latency(stop: asyncio.Event, latencies: list[float], problems: list[str]) -> None:
    """Once a second: a roster posted for a probe school, until the scheduler lists its new class.
    What stops or skips a probe goes to ``problems`` (printed with the figures: an empty probe says why)."""
    uai = PROBE_UAI
    # the main job's services take only tokens of its provider: the probe signs in as its school's
    # referent (run-academie adds CERTIBUS_KEYCLOAK_SCHOOLS, set to the probe's UAI, to the realm)
    signin = SignIn(issuer_url(f"http://127.0.0.1:{KEYCLOAK_PORT}"))

    async def signed(request: httpx.Request) -> None:
        if request.url.path == "/ready":  # open, and answered before the provider may be
            return
        with acting_for(uai):
            request.headers.update(await signin.authorization())

    async with (
        signin,
        httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{PORTS['scheduler']}", event_hooks={"request": [signed]}, timeout=30
        ) as sch,
        httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{PORTS['eligibility']}", event_hooks={"request": [signed]}, timeout=30
        ) as eli,
    ):
        while not stop.is_set():  # the services come up
            try:
                if (await sch.get("/ready")).status_code == 200 and (
                    await eli.get("/ready")
                ).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.5)
        probe = School(uai, "Collège de la sonde", "college", "Nevers")
        registered = await sch.put(f"/schools/{uai}", json=school_body(probe))
        if registered.status_code >= 300:
            problems.append(f"PUT /schools/{uai}: {registered.status_code} {registered.text[:300]}")
            return
        n = 0
        while not stop.is_set():
            n += 1
            try:
                await _probe_once(sch, eli, uai, n, stop, latencies, problems)
            except (httpx.HTTPError, aiohttp.ClientError) as error:  # a service restarting: next probe
                problems.append(f"probe {type(error).__name__}: {error}")
            await asyncio.sleep(1)


async def _probe_once(
    sch: httpx.AsyncClient,
    eli: httpx.AsyncClient,
    uai: str,
    n: int,
    stop: asyncio.Event,
    latencies: list[float],
    problems: list[str],
) -> None:
    """One roster of one new class, then the scheduler polled until it lists that class."""
    [learner] = generate_learners(9000 + n, 1)
    division = f"3P{n}"
    roster = learner_csv_bytes([replace(learner, division=division)], delimiter=";", bom=True)
    answer = await eli.post(f"/schools/{uai}/rosters", files={"file": (f"probe_{n}.csv", roster, "text/csv")})
    answered = time.perf_counter()
    if answer.status_code >= 300:
        problems.append(f"POST roster: {answer.status_code} {answer.text[:300]}")
        return
    deadline = answered + 120
    while time.perf_counter() < deadline and not stop.is_set():
        classes = (await sch.get(f"/schools/{uai}")).json().get("classes", [])
        if any(c["division"] == division for c in classes):
            latencies.append(time.perf_counter() - answered)
            break
        await asyncio.sleep(0.05)  # 50 ms resolution; faster polling would load the scheduler it measures


async def watch_run(args: argparse.Namespace, output: Path) -> dict:
    command = [str(REPO / "deploy/local/run-academie"), "--scale", args.scale, "--seed", str(args.seed)]
    command += ["--concurrency", str(args.concurrency), "--output", str(output)]
    for option in ("schools", "students"):  # a scale's shape with fewer students, e.g. 400 schools
        if getattr(args, option) is not None:
            command += [f"--{option}", str(getattr(args, option))]
    started = time.perf_counter()
    driver = await asyncio.create_subprocess_exec(
        *command,
        cwd=REPO,
        env={**os.environ, "CERTIBUS_LOCAL_DIR": str(LOCAL_DIR), "CERTIBUS_KEYCLOAK_SCHOOLS": PROBE_UAI},
    )
    watch = Watch(driver.pid)
    stop = asyncio.Event()
    latencies: list[float] = []
    problems: list[str] = []
    probe = asyncio.create_task(probe_latency(stop, latencies, problems))
    series: dict[str, list[tuple[float, int]]] = {}
    admin: AIOKafkaAdminClient | None = None
    readiness = httpx.AsyncClient(timeout=2)
    while driver.returncode is None:
        watch.sample()
        if watch.at_ready is None and await all_ready(readiness):
            watch.mark_ready()
            await pg_statements.reset(DATABASE)
        try:
            if admin is None:
                admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA)
                await admin.start()
            now = time.perf_counter()
            for group, total in (await group_offsets(admin)).items():
                series.setdefault(group, []).append((now, total))
        except Exception:
            admin = None  # the broker is being (re)started by the main job
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(driver.wait(), timeout=1)
    await readiness.aclose()
    stop.set()
    [outcome] = await asyncio.gather(probe, return_exceptions=True)
    if isinstance(outcome, BaseException):
        problems.append(f"the probe stopped: {outcome!r}")
    if admin is not None:
        await admin.close()
    if driver.returncode != 0:
        raise SystemExit(f"the main job failed with exit code {driver.returncode}")
    return {
        "wall": time.perf_counter() - started,
        "watch": watch,
        "series": series,
        "latencies": latencies,
        "probe_problems": problems,
    }


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def main(args: argparse.Namespace) -> None:
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # the broker restarts with the main job
    console = Console(width=None if sys.stdout.isatty() else 120)
    output = (REPO / "out" / f"bench-academie-{args.scale}").resolve()
    watched = await watch_run(args, output)
    summary = json.loads((output / "summary.json").read_text(encoding="utf-8"))
    students = summary["students"]
    published = sum(summary["events_per_topic"].values())
    sample = await sample_record(KAFKA, "certibus.eligibility")
    raw_records = max(published, 100_000)  # enough records for a rate that is not start-up noise
    produced, consumed, _ = await raw_kafka(KAFKA, 6, sample, raw_records)
    statements = await pg_statements.top(DATABASE)
    raw_rate = raw_records / consumed

    phases = Table(title=f"{args.scale}: {len(summary['schools'])} schools, {students:,} students")
    for column in ("phase", "items", "seconds", "per second"):
        phases.add_column(column, justify="left" if column == "phase" else "right")
    for phase in summary["phases"]:
        phases.add_row(
            f"{phase['phase']} ({phase['unit']})",
            f"{phase['items']:,}",
            f"{phase['seconds']:.1f}",
            f"{phase['per_second']:,.1f}",
        )
    phases.add_section()
    phases.add_row(
        "académie run (driver)",
        f"{students:,}",
        f"{summary['seconds']:.1f}",
        f"{students / summary['seconds']:,.1f}",
    )
    phases.add_row("whole command (infrastructure, stack, run)", "", f"{watched['wall']:.1f}", "")
    phases.add_row(
        "events published, end to end",
        f"{published:,}",
        f"{summary['seconds']:.1f}",
        f"{published / summary['seconds']:,.1f}",
    )
    console.print(phases)

    groups = Table(
        title=f"consumer groups (raw aiokafka on the same broker: {raw_rate:,.0f} records/s consumed)"
    )
    for column in ("group", "events", "events/s while busy", "of raw"):
        groups.add_column(column, justify="left" if column == "group" else "right")
    rates = {}
    for group, series in sorted(watched["series"].items()):
        events, rate = sustained_rate(series)
        rates[group] = {"events": events, "per_second": round(rate, 1), "of_raw": round(rate / raw_rate, 4)}
        groups.add_row(group, f"{events:,}", f"{rate:,.0f}", f"{rate / raw_rate:.1%}")
    console.print(groups)

    watch: Watch = watched["watch"]
    whole = watch.cpu_by_role()
    cpu = watch.cpu_since_ready()
    processes = Table(title="processes (CPU per student: from the moment every service was ready)")
    for column in ("process", "CPU s, whole command", "CPU s, run", "CPU ms / student", "peak RSS MB"):
        processes.add_column(column, justify="left" if column == "process" else "right")
    for role in sorted(cpu, key=cpu.get, reverse=True):
        processes.add_row(
            role,
            f"{whole[role]:,.1f}",
            f"{cpu[role]:,.1f}",
            f"{1000 * cpu[role] / students:.2f}",
            f"{watch.peak_rss.get(role, 0) / 1e6:,.0f}",
        )
    total_cpu = sum(cpu.values())
    processes.add_section()
    processes.add_row(
        "all", f"{sum(whole.values()):,.1f}", f"{total_cpu:,.1f}", f"{1000 * total_cpu / students:.2f}", ""
    )
    if watch.at_ready is None:
        console.print("[yellow]the stack never answered /ready while watched: CPU counts start-up too[/]")
    console.print(processes)

    latencies = watched["latencies"]
    p50, p99 = _percentile(latencies, 0.5), _percentile(latencies, 0.99)
    console.print(
        f"roster answered by eligibility → class visible in the scheduler: {len(latencies)} probes,"
        f" p50 {1000 * p50:.0f} ms, p99 {1000 * p99:.0f} ms, max {1000 * max(latencies or [float('nan')]):.0f} ms"
    )
    if statements:
        console.print(pg_statements.table(statements))
    for problem in dict.fromkeys(watched["probe_problems"]):  # each cause once
        console.print(f"[yellow]probe: {problem}[/]")
    console.print(
        f"raw aiokafka, {raw_records:,} records of {len(sample.value)} B: produce {produced:.1f} s, consume {consumed:.1f} s"
    )
    figures = {
        "scale": args.scale,
        "students": students,
        "run_seconds": summary["seconds"],
        "command_seconds": round(watched["wall"], 1),
        "phases": summary["phases"],
        "events_published": published,
        "raw_consume_per_second": round(raw_rate, 1),
        "groups": rates,
        "cpu_seconds": {k: round(v, 1) for k, v in cpu.items()},
        "cpu_seconds_whole_command": {k: round(v, 1) for k, v in whole.items()},
        "cpu_ms_per_student": round(1000 * total_cpu / students, 2),
        "postgres_statements": statements,
        "peak_rss_mb": {k: round(v / 1e6) for k, v in watch.peak_rss.items()},
        "command_to_read_model_ms": {
            "probes": len(latencies),
            "p50": round(1000 * p50) if latencies else None,
            "p99": round(1000 * p99) if latencies else None,
            "problems": sorted(set(watched["probe_problems"])),
        },
        "median_latency_ms": round(1000 * statistics.median(latencies)) if latencies else None,
    }
    (output / "bench.json").write_text(json.dumps(figures, indent=2), encoding="utf-8")
    console.print(f"figures written to {output / 'bench.json'}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="college", choices=["demo", "college", "academie"])
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seed", type=int, default=2027)
    parser.add_argument("--schools", type=int, default=None, help="override the scale's number of schools")
    parser.add_argument(
        "--students",
        type=int,
        default=None,
        help="override the scale's students (in all; per school for demo)",
    )
    asyncio.run(main(parser.parse_args()))
