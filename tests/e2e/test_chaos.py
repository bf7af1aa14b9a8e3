"""The fault-injection harness (issue 11 item 2): a year under seeded chaos ends as its clean twin.

Two demo years of one seed, the five services and the Pix sandbox as real processes. The clean
one runs on a broker of its own and the shared database; the faulty one on a broker *and* a
PostgreSQL server of its own (tests/private_infra.py), which the injector restarts
(deploy/local/chaos.py): every process killed with kill -9 twice, the broker restarted, PostgreSQL
restarted, one process paused past its consumers' session timeout, in an order and at moments drawn
from the seed (``CERTIBUS_CHAOS_SEED`` replays one; the seed is printed). At the end
deploy/local/chaos_compare.py finds no difference: the same files, the same state in every
service, on every topic as many distinct events and none lost.
"""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

import pytest
from rich.console import Console

from deploy.local.academie import Run, run_academie
from deploy.local.chaos import (
    BROKER_RESTART,
    DATABASE_RESTART,
    KILL,
    PAUSE,
    REJOINED,
    SANDBOX,
    ChaosReporter,
    FaultInjector,
    LocalInfrastructure,
    fault_plan,
)
from deploy.local.chaos_compare import attribute_duplicates, chaos_table, compare_runs, settled_facts
from deploy.local.report import Reporter
from deploy.local.schools import schools_for
from deploy.local.stack import start_stack
from shared.contracts.topics import SERVICES
from tests.e2e.conftest import private_kafka, stack_config
from tests.private_infra import PrivateInfra

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

#: every consumer of the stack is a target: the five services and the sandbox
TARGETS = [*SERVICES, SANDBOX]


def _year(kafka: str, admin_url: str, root: Path, seed: int, infra: PrivateInfra | None = None):
    """One demo year on ``kafka`` and ``admin_url``, with ``infra`` the seed's faults injected in
    it; its settled facts, the injector, how many requests were resent, the stack."""
    schools = schools_for("demo", seed, None, None)
    config = stack_config(kafka, admin_url, root, schools, seed)
    with start_stack(config) as stack:
        run = Run({s: config.url(s) for s in config.ports}, root, log=print, api_token=config.api_token)
        injector = None
        if infra is not None:
            injector = FaultInjector(stack, LocalInfrastructure(infra.cfg), fault_plan(seed, TARGETS))
            injector.start()
        try:
            run_academie(run, schools, seed, ChaosReporter(injector) if injector else Reporter())
        finally:
            if injector is not None:
                injector.stop()
        facts = settled_facts(root, kafka, admin_url, config.namespace)
    return facts, injector, run.retries, stack


#: two demo years and two private infrastructures: measured 2 min 50 s to 3 min 10 s on 2 shared
#: cores (5 min 50 s with the machine's load average at 15)
@pytest.mark.timeout(480)
def test_a_year_under_seeded_faults_ends_as_its_clean_twin(infrastructure, tmp_path):
    seed = int(os.environ.get("CERTIBUS_CHAOS_SEED") or random.Random(time.time_ns()).randrange(10**6))
    print(f"chaos seed {seed} (CERTIBUS_CHAOS_SEED={seed} replays this run)")
    began = time.monotonic()
    with private_kafka(tmp_path / "clean-kafka") as kafka:
        clean, _, _, _ = _year(kafka, infrastructure.admin_database_url, tmp_path / "clean", seed)
    clean_seconds = time.monotonic() - began

    with PrivateInfra(tmp_path / "chaos-infra") as infra:
        faulty, injector, retries, stack = _year(
            infra.kafka_bootstrap_servers, infra.admin_database_url, tmp_path / "chaos", seed, infra
        )
    injected, plan = injector.injected, injector.plan
    attribute_duplicates(injected, tmp_path / "chaos" / "logs")
    differences = compare_runs(clean, faulty)
    Console(width=160).print(chaos_table(injected, faulty, differences))
    print(
        f"clean run {clean_seconds:.0f}s; whole test {time.monotonic() - began:.0f}s;"
        f" {retries} requests resent; {len(stack.restarts)} restarts by the supervisor"
    )

    for difference in differences:
        print(difference)
    assert not injector.not_injected, f"the run ended before these faults: {injector.not_injected}"
    kinds = [(f.kind, f.target) for f in injected]
    assert sorted(kinds) == sorted((f.kind, f.target) for f in plan)
    assert {k for k, _ in kinds} == {KILL, BROKER_RESTART, DATABASE_RESTART, PAUSE}
    assert all(f.recovered_after is not None for f in injected)
    # the paused service's groups rebalanced under it, and it rejoined them
    assert all(REJOINED in f.detail for f in injected if f.kind == PAUSE)
    # every kill -9 was a crash the supervisor saw and restarted, nothing else died
    killed = sorted(f.target for f in injected if f.kind == KILL)
    assert sorted(r.name for r in stack.restarts) == killed
    # no assertion on ``retries``: each phase waits for its faults to recover before it starts, so
    # whether a driver call meets one depends on timing (seed 495099 in CI: 15 faults, 0 resends);
    # the driver's resends are proven by tests/unit/deploy/test_retrying.py and by the kill test of
    # tests/e2e/test_deterministic_runs.py (kills mid-phase, asserting it resent)
    assert not differences, "\n".join(map(str, differences))
    assert list((faulty.root / "exports").rglob("*livret*.json")), "the runs wrote no livret"
    assert any(rows for tables in clean.state.values() for rows in tables.values())
