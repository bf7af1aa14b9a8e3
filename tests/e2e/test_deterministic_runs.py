"""Two runs of the académie year with one seed write the same files (issue 11 item 1): the four
services and the Pix sandbox as real processes, each run in its own namespace and on a private
broker (so it meets no record of another run), compared with
deploy/local/normalise.py, which ignores only the fields that are the time of the run."""

from __future__ import annotations

import random
import time

import pytest

from deploy.local.academie import Run, run_academie
from deploy.local.normalise import compare_outputs
from deploy.local.schools import schools_for
from deploy.local.stack import start_stack
from tests.e2e.conftest import private_kafka, stack_config

pytestmark = [pytest.mark.integration, pytest.mark.e2e]


def _one_run(admin_database_url: str, root, seed: int) -> None:
    schools = schools_for("demo", seed, None, None)
    with private_kafka(root.parent / f"{root.name}-kafka") as kafka:
        config = stack_config(kafka, admin_database_url, root, schools, seed)
        with start_stack(config):
            run = Run({s: config.url(s) for s in config.ports}, root, log=print, api_token=config.api_token)
            run_academie(run, schools, seed)


def test_two_runs_with_one_seed_write_the_same_files(infrastructure, tmp_path):
    seed = random.Random(time.time_ns()).randrange(10**6)
    _one_run(infrastructure.admin_database_url, tmp_path / "a", seed)
    _one_run(infrastructure.admin_database_url, tmp_path / "b", seed)

    differences = compare_outputs(tmp_path / "a", tmp_path / "b")
    assert not differences, "\n".join(map(str, differences))
    assert list((tmp_path / "a" / "exports").rglob("*livret*.json")), "the runs wrote no livret"
