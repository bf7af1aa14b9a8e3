"""Seeded fault injection under a running académie year (issue 11 item 2): the faults production brings.

During a run a ``FaultInjector`` thread works through a ``fault_plan`` drawn from the seed (so a
failing run can be replayed with the same ``--seed``): each process of the stack killed with
kill -9 several times (the stack's supervisor starts it again, deploy/local/stack.py), the Kafka
broker restarted once, PostgreSQL restarted once, and one process paused (SIGSTOP) for longer than
its consumers' session timeout, then resumed (SIGCONT) so that its groups rebalance under it.
Each fault belongs to a phase of the year (seeded) and comes a seeded moment after the phase began
or the stack recovered from the previous fault (how long that took is the fault's recovery time);
a phase waits for the faults of the earlier ones, so that every fault lands where it was planned
however fast the run goes. The driver meanwhile retries what a
real client would (deploy/local/retrying.py).

Used by ``deploy/local/run-academie --chaos`` (deploy/local/chaos_run.py) and by
tests/e2e/test_chaos.py; the comparison with the run's clean twin is deploy/local/chaos_compare.py.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from deploy.local.localinfra.config import Config
from deploy.local.localinfra.kafka import kafka_launch, kafka_stop, kafka_wait_ready
from deploy.local.localinfra.postgres import pg_stop, pg_up
from deploy.local.report import Reporter
from deploy.local.stack import CONSOLE, Stack

KILL, BROKER_RESTART, DATABASE_RESTART, PAUSE = "kill -9", "broker restart", "database restart", "pause"
#: the sandbox has no HTTP API: it is back when its new process has stayed up this long
SANDBOX = "pix_sandbox"
SANDBOX_UP_SECONDS = 3.0
#: longer than the consumers' session timeout (aiokafka's default, 10 s): the group drops the member
PAUSE_SECONDS = 15.0
#: how long the stack may take to recover from one fault before the run is declared broken
RECOVERY_LIMIT_SECONDS = 180.0
#: the services' log line when their group gives them partitions (shared/consumer.py): a rebalance
REJOINED = "partitions assigned"


#: the phases of the driver's year (deploy/local/academie.py's ``reporter.phase``): faults land in
#: all but the last (the académie view, which only reads)
FAULTY_PHASES = 8


@dataclass(frozen=True)
class Fault:
    """One fault of the plan: what, on which process (or "kafka", "postgres"), in which phase of
    the year (its index), and how long after the phase began or the previous fault recovered."""

    kind: str
    target: str
    phase: int
    wait_before: float


def fault_plan(
    seed: int,
    targets: list[str],
    kills_each: int = 2,
    gaps: tuple[float, float] = (0.2, 3.0),
    phases: int = FAULTY_PHASES,
) -> list[Fault]:
    """The run's faults, in order, drawn from ``seed`` alone: ``kills_each`` kill -9 of every
    target, one broker restart, one database restart, one target paused, each in a phase."""
    rng = random.Random(f"chaos:{seed}")
    kinds = [(KILL, t) for t in targets for _ in range(kills_each)]
    # a paused service proves its rebalance in its log ("partitions assigned"); the sandbox logs none
    paused = rng.choice([t for t in targets if t != SANDBOX])
    kinds += [(BROKER_RESTART, "kafka"), (DATABASE_RESTART, "postgres"), (PAUSE, paused)]
    rng.shuffle(kinds)
    faults = [Fault(k, t, rng.randrange(phases), round(rng.uniform(*gaps), 1)) for k, t in kinds]
    return sorted(faults, key=lambda f: f.phase)  # stable: the shuffled order within a phase


class Infrastructure(Protocol):
    """What the injector restarts besides the stack's processes."""

    def restart_broker(self) -> None: ...

    def restart_database(self) -> None: ...


@dataclass(frozen=True)
class LocalInfrastructure:
    """The broker and the database of a deploy/local ``Config`` (the main job's or a test's own):
    each stopped and started again on the same port and data, as a restart in production."""

    cfg: Config

    def restart_broker(self) -> None:
        kafka_stop(self.cfg)
        kafka_wait_ready(self.cfg, kafka_launch(self.cfg))

    def restart_database(self) -> None:
        pg_stop(self.cfg)
        pg_up(self.cfg)


@dataclass
class Injected:
    """A fault as it happened: when (seconds into the run, wall clock for the logs), during which
    phase, and how long the stack took to recover from it."""

    kind: str
    target: str
    phase: str
    at: float
    wall_at: float
    recovered_after: float | None = None
    detail: str = ""
    #: duplicates the inboxes dropped from this fault until the next (from the services' logs)
    duplicates_dropped: int = 0


def _logged_since(log: Path, offset: int, event: str) -> bool:
    """Whether the JSON log ``log`` has an ``event`` line past ``offset``."""
    with log.open("rb") as lines:
        lines.seek(offset)
        return f'"event": "{event}"'.encode() in lines.read()


def _ready(url: str) -> dict | None:
    """The /ready body when the service answers 200, else None."""
    try:
        with urllib.request.urlopen(url + "/ready", timeout=3) as reply:
            return json.loads(reply.read()) if reply.status == 200 else None
    except (OSError, ValueError):
        return None


@dataclass
class FaultInjector:
    """Injects ``plan`` into ``stack`` and ``infra`` from a thread, once ``start`` is called."""

    stack: Stack
    infra: Infrastructure
    plan: list[Fault]
    pause_seconds: float = PAUSE_SECONDS
    injected: list[Injected] = field(default_factory=list)
    #: the phase the run is in, its index and name (``enter_phase``)
    phase: str = "start"
    phase_index: int = -1

    def __post_init__(self) -> None:
        self._stopping = threading.Event()
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._inject_all, name="fault-injector", daemon=True)
        self._started = 0.0
        self._watchers: list[threading.Thread] = []
        self.error: BaseException | None = None

    def enter_phase(self, name: str) -> None:
        """The run starts its next phase: first every fault planned in the earlier ones is injected
        and recovered from (the run waits for it), so that each lands in its phase."""
        with self._changed:
            self._changed.wait_for(
                lambda: (
                    self.error is not None
                    or not self._thread.is_alive()
                    or all(f.phase > self.phase_index for f in self.not_injected_or_recovering)
                ),
                RECOVERY_LIMIT_SECONDS * len(self.plan) + 60,
            )
            self.phase_index += 1
            self.phase = name
            self._changed.notify_all()

    @property
    def not_injected_or_recovering(self) -> list[Fault]:
        """The plan's faults not injected yet or whose recovery is awaited (``injected[i]`` is ``plan[i]``)."""
        recovering = [f for f, d in zip(self.plan, self.injected, strict=False) if d.recovered_after is None]
        return recovering + self.not_injected

    def start(self) -> None:
        self._started = time.monotonic()
        self._thread.start()

    def stop(self) -> list[Injected]:
        """Stop injecting (the fault under way is finished and recovered first); what was injected."""
        self._stopping.set()
        with self._changed:
            self._changed.notify_all()
        self._thread.join(RECOVERY_LIMIT_SECONDS + 60)
        for watcher in self._watchers:
            watcher.join(RECOVERY_LIMIT_SECONDS + 10)
        if self.error is not None:
            raise RuntimeError(f"the fault injector failed: {self.error!r}") from self.error
        return self.injected

    @property
    def not_injected(self) -> list[Fault]:
        return self.plan[len(self.injected) :]

    def _inject_all(self) -> None:
        try:
            for fault in self.plan:
                with self._changed:  # until the run reaches the fault's phase
                    self._changed.wait_for(
                        lambda f=fault: self.phase_index >= f.phase or self._stopping.is_set()
                    )
                if self._stopping.wait(fault.wait_before):
                    return
                self._inject(fault)
                with self._changed:
                    self._changed.notify_all()
        except BaseException as error:  # reported by stop(): a thread's exception is otherwise lost
            self.error = error
            with self._changed:
                self._changed.notify_all()

    def _log(self, line: str) -> None:
        print(f"{time.strftime('%H:%M:%S')} chaos: {line}", file=sys.stderr, flush=True)

    def _inject(self, fault: Fault) -> None:
        if fault.kind != KILL:  # the infrastructure's faults and the pause come one at a time
            self._log(f"waiting for the earlier faults' recovery before {fault.kind} {fault.target}")
            self._until(self._all_recovered, fault)
        done = Injected(
            fault.kind, fault.target, self.phase, round(time.monotonic() - self._started, 1), time.time()
        )
        self._log(f"{fault.kind} {fault.target} ({self.phase})")
        self.injected.append(done)
        began = time.monotonic()
        if fault.kind == KILL:
            old = self.stack.processes[fault.target]
            os.kill(old.pid, signal.SIGKILL)
            self._until(lambda: self.stack.processes[fault.target].pid != old.pid, fault)
            done.detail = f"pid {old.pid} → {self.stack.processes[fault.target].pid}"
            # the next fault does not wait for this one's recovery (crashes overlap in production)
            watcher = threading.Thread(target=self._watch_restart, args=(fault, done), daemon=True)
            self._watchers.append(watcher)
            watcher.start()
            return
        if fault.kind == BROKER_RESTART:
            self.infra.restart_broker()
            done.detail = f"broker back after {time.monotonic() - began:.1f}s"
        elif fault.kind == DATABASE_RESTART:
            self.infra.restart_database()
            done.detail = f"database back after {time.monotonic() - began:.1f}s"
        elif fault.kind == PAUSE:
            process = self.stack.processes[fault.target]
            log = self.stack.config.log_dir / f"{fault.target}.log"
            offset = log.stat().st_size
            process.send_signal(signal.SIGSTOP)
            time.sleep(self.pause_seconds)
            process.send_signal(signal.SIGCONT)
            self._log(f"SIGCONT {fault.target}; waiting for its groups to rebalance")
            began = time.monotonic()
            self._until(lambda: _logged_since(log, offset, REJOINED), fault)
            done.detail = f"SIGSTOP {self.pause_seconds:.0f}s, SIGCONT; {REJOINED} again"
        else:
            raise ValueError(f"unknown fault kind {fault.kind!r}")
        self._until(lambda: all(self._up(name, fault) for name in self.stack.processes), fault)
        done.recovered_after = round(time.monotonic() - began, 1)
        self._log(f"{fault.kind} {fault.target}: recovered after {done.recovered_after}s")

    def _watch_restart(self, fault: Fault, done: Injected) -> None:
        """A killed process's recovery: from the supervisor's restart until it answers /ready."""
        began = time.monotonic()
        try:
            self._until(lambda: self._up(fault.target, fault), fault)
            done.recovered_after = round(time.monotonic() - began, 1)
            self._log(f"{fault.kind} {fault.target}: back after {done.recovered_after}s")
        except BaseException as error:
            self.error = error
        with self._changed:
            self._changed.notify_all()

    def _all_recovered(self) -> bool:
        return all(f.recovered_after is not None for f in self.injected)

    def _up(self, name: str, fault: Fault) -> bool:
        """The process answers /ready (seeing the broker ok after a broker restart); the sandbox,
        without an API, has been up a few seconds."""
        if name == SANDBOX:
            process = self.stack.processes[name]
            return (
                process.poll() is None
                and time.monotonic() - self.stack.started_at(name) >= SANDBOX_UP_SECONDS
            )
        body = _ready(self.stack.config.url_of(name))
        if body is None:
            return False
        return fault.kind != BROKER_RESTART or name == CONSOLE or body.get("broker") == "ok"

    def _until(self, check: Callable[[], bool], fault: Fault) -> None:
        """Until ``check`` holds; a fault the stack has not recovered from in time breaks the run."""
        deadline = time.monotonic() + RECOVERY_LIMIT_SECONDS
        while not check():
            if time.monotonic() > deadline:
                raise RuntimeError(f"no recovery {RECOVERY_LIMIT_SECONDS:.0f}s after {fault}")
            time.sleep(0.2)


class ChaosReporter(Reporter):
    """The run's reporter, telling the injector which phase the run is in (for the fault table)."""

    def __init__(self, injector: FaultInjector) -> None:
        super().__init__()
        self.injector = injector

    def phase(self, name: str, total: int, unit: str):  # type: ignore[override]
        self.injector.enter_phase(name)
        return super().phase(name, total, unit)
