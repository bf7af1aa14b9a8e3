"""Two runs of the académie year with one seed write the same files (issue 11 item 1), and so does a
run whose services are killed with kill -9 under it (item 4): the five services and the Pix sandbox
as real processes, each run in its own namespace and on a private broker (so it meets no record of
another run), compared with deploy/local/normalise.py, which ignores only the time of the run."""

from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path

import pytest

from deploy.local.academie import Run, run_academie
from deploy.local.normalise import compare_outputs
from deploy.local.report import Reporter
from deploy.local.schools import schools_for
from deploy.local.stack import Stack, start_stack
from tests.e2e.conftest import private_kafka, stack_config

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


def _one_run(
    admin_database_url: str, root: Path, seed: int, kills: dict[str, str] | None = None
) -> tuple[Stack, int]:
    """One demo year under ``root``; the stack (its restarts) and how many requests the driver resent."""
    schools = schools_for("demo", seed, None, None)
    with private_kafka(root.parent / f"{root.name}-kafka") as kafka:
        config = stack_config(kafka, admin_database_url, root, schools, seed)
        with start_stack(config) as stack:
            run = Run({s: config.url(s) for s in config.ports}, root, log=print, api_token=config.api_token)
            reporter = KillAtPhases(stack, kills or {})
            run_academie(run, schools, seed, reporter)
            assert reporter.killed == list((kills or {}).values())
    return stack, run.retries


@pytest.fixture(scope="module")
def seed() -> int:
    return random.Random(time.time_ns()).randrange(10**6)


@pytest.fixture(scope="module")
def clean_run(infrastructure, seed, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("runs") / "clean"
    _one_run(infrastructure.admin_database_url, root, seed)
    return root


def test_two_runs_with_one_seed_write_the_same_files(infrastructure, seed, clean_run, tmp_path):
    _one_run(infrastructure.admin_database_url, tmp_path / "b", seed)

    differences = compare_outputs(clean_run, tmp_path / "b")
    assert not differences, "\n".join(map(str, differences))
    assert list((clean_run / "exports").rglob("*livret*.json")), "the runs wrote no livret"


def test_a_run_whose_services_are_killed_writes_the_same_files(infrastructure, seed, clean_run, tmp_path):
    """The scheduler killed as planning starts, the sandbox on the day, export as results come: each
    is restarted by the stack, the driver retries, and the files are those of the clean run."""
    stack, retries = _one_run(
        infrastructure.admin_database_url,
        tmp_path / "fault",
        seed,
        kills={"2.": "scheduler", "3.": "pix_sandbox", "4.": "export"},
    )
    assert {r.name for r in stack.restarts} == {"scheduler", "pix_sandbox", "export"}
    assert retries > 0, "the driver never met the restarts"

    differences = compare_outputs(clean_run, tmp_path / "fault")
    assert not differences, "\n".join(map(str, differences))
