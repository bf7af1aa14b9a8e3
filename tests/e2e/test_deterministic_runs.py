"""Two runs of the académie year with one seed write the same files (issue 11 item 1), and so does a
run whose services are killed with kill -9 under it (item 4): the five services and the Pix sandbox
as real processes, each run in its own namespace and on a private broker (so it meets no record of
another run), compared with deploy/local/normalise.py, which ignores only the time of the run."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from deploy.local.academie import Run, run_academie
from deploy.local.normalise import compare_outputs
from deploy.local.report import Reporter
from deploy.local.schools import schools_for
from deploy.local.stack import Stack, start_stack
from shared.contracts.topics import SERVICES
from tests.e2e.conftest import private_kafka, stack_config
from tests.support import REPO

pytestmark = [pytest.mark.integration, pytest.mark.e2e]


class KillAtPhases(Reporter):
    """A reporter that kill -9s a process of the stack as the run enters a phase ("2.", "3."…)."""

    def __init__(self, stack: Stack, kills: dict[str, str]) -> None:
        super().__init__()
        self.stack, self.kills, self.killed = stack, kills, []

    def log(self, line: str) -> None:
        super().log(line)
        for phase, name in self.kills.items():
            if line.startswith(phase):
                os.kill(self.stack.processes[name].pid, signal.SIGKILL)
                self.killed.append(name)


@dataclass
class Outcome:
    """A run's output folder; with ``replay``, every service's digest live and after a replay."""

    root: Path
    live: dict[str, dict] = field(default_factory=dict)
    replayed: dict[str, dict] = field(default_factory=dict)


def _certibus(env: dict[str, str], *args: str) -> dict:
    """The operators' command in a service's own environment (the stack's), its --json answer."""
    done = subprocess.run(
        [sys.executable, "-m", "shared.cli", *args, "--json"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, f"certibus {' '.join(args)}: {done.stdout[-2000:]} {done.stderr[-4000:]}"
    return json.loads(done.stdout)


def _one_run(
    admin_database_url: str, root: Path, seed: int, kills: dict[str, str] | None = None, replay: bool = False
) -> tuple[Stack, int, Outcome]:
    """One demo year under ``root``; the stack (its restarts), how many requests the driver resent,
    and, with ``replay``, each service's digest at the end and after ``certibus replay --to-end``
    (the stack stopped, on the run's own broker: the topics hold this run's records only)."""
    schools = schools_for("demo", seed, None, None)
    outcome = Outcome(root)
    with private_kafka(root.parent / f"{root.name}-kafka") as kafka:
        config = stack_config(kafka, admin_database_url, root, schools, seed)
        with start_stack(config) as stack:
            run = Run({s: config.url(s) for s in config.ports}, root, log=print, api_token=config.api_token)
            reporter = KillAtPhases(stack, kills or {})
            run_academie(run, schools, seed, reporter)
            assert reporter.killed == list((kills or {}).values())
            if replay:
                outcome.live = {s: _certibus(stack.specs[s].env, "digest", s) for s in SERVICES}
        if replay:
            for service in SERVICES:
                answer = _certibus(stack.specs[service].env, "replay", service, "--to-end")
                assert answer["records"] > 0, f"{service}: the replay read nothing"
                outcome.replayed[service] = answer["digest"]
    return stack, run.retries, outcome


@pytest.fixture(scope="module")
def seed() -> int:
    return random.Random(time.time_ns()).randrange(10**6)


@pytest.fixture(scope="module")
def clean(infrastructure, seed, tmp_path_factory) -> Outcome:
    root = tmp_path_factory.mktemp("runs") / "clean"
    return _one_run(infrastructure.admin_database_url, root, seed, replay=True)[2]


@pytest.fixture(scope="module")
def clean_run(clean) -> Path:
    return clean.root


def test_replaying_every_service_from_its_topics_rebuilds_the_state_the_run_left(clean):
    """issue 13: after the main job, replay and live digests are equal for every service."""
    assert set(clean.live) == set(clean.replayed) == set(SERVICES)
    for service in SERVICES:
        assert clean.replayed[service] == clean.live[service], service
        assert any(t["rows"] for t in clean.live[service]["tables"].values()), (
            f"{service}: an empty state proves nothing"
        )


def test_two_runs_with_one_seed_write_the_same_files(infrastructure, seed, clean_run, tmp_path):
    _one_run(infrastructure.admin_database_url, tmp_path / "b", seed)

    differences = compare_outputs(clean_run, tmp_path / "b")
    assert not differences, "\n".join(map(str, differences))
    assert list((clean_run / "exports").rglob("*livret*.json")), "the runs wrote no livret"


def test_a_run_whose_services_are_killed_writes_the_same_files(infrastructure, seed, clean_run, tmp_path):
    """The scheduler killed as planning starts, the sandbox on the day, export as results come: each
    is restarted by the stack, the driver retries, and the files are those of the clean run."""
    stack, retries, _ = _one_run(
        infrastructure.admin_database_url,
        tmp_path / "fault",
        seed,
        kills={"2.": "scheduler", "3.": "pix_sandbox", "4.": "export"},
    )
    assert {r.name for r in stack.restarts} == {"scheduler", "pix_sandbox", "export"}
    assert retries > 0, "the driver never met the restarts"

    differences = compare_outputs(clean_run, tmp_path / "fault")
    assert not differences, "\n".join(map(str, differences))
