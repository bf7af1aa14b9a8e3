"""The chaos harness's plan and comparison (deploy/local/chaos.py, chaos_compare.py) without a stack:
the plan follows the seed alone, and the comparison sees what a fault could damage."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from deploy.local.chaos import BROKER_RESTART, DATABASE_RESTART, KILL, PAUSE, SANDBOX, Injected, fault_plan
from deploy.local.chaos_compare import (
    RunFacts,
    attribute_duplicates,
    compare_runs,
    event_differences,
    masked,
    state_differences,
)
from shared.contracts.topics import EVENT_TOPICS, SERVICES

TARGETS = [*SERVICES, SANDBOX]


def test_the_plan_follows_the_seed_and_holds_every_fault():
    plan = fault_plan(41, TARGETS, kills_each=2)
    assert plan == fault_plan(41, TARGETS, kills_each=2)
    assert plan != fault_plan(42, TARGETS, kills_each=2)
    kinds = Counter((f.kind, f.target) for f in plan)
    assert all(kinds[(KILL, t)] == 2 for t in TARGETS)
    assert kinds[(BROKER_RESTART, "kafka")] == kinds[(DATABASE_RESTART, "postgres")] == 1
    [paused] = [f.target for f in plan if f.kind == PAUSE]
    assert paused in SERVICES  # the sandbox logs no rebalance to prove it
    assert [f.phase for f in plan] == sorted(f.phase for f in plan)


def test_masking_keeps_the_facts_and_drops_what_each_run_draws():
    ine, day, hour, run_time = "1234567890A", "2027-01-04", "08:00", "2026-12-04T21:00:00.123+00:00"
    line = json.dumps(
        [ine, day, hour, run_time, "hmac_sha256$s4lt$d1g-st", "01a242ec-2fb3-7a13-a994-20a5dba4c271"]
    )
    assert masked(line) == json.dumps(["1234567890A", "2027-01-04", "08:00", "<time>", "<secret>", "<id>"])


def _facts(root: Path, rows: list[str], events: int, lost: int = 0) -> RunFacts:
    facts = RunFacts(root)
    facts.state = {s: {"t": []} for s in SERVICES}
    facts.state["export"]["t"] = sorted(rows)
    facts.events = {t: Counter() for t in EVENT_TOPICS}
    facts.events[EVENT_TOPICS[0]]["certibus.scheduler.session_created.v1"] = events
    facts.records = {t: 0 for t in EVENT_TOPICS}
    facts.lost = {t: 0 for t in EVENT_TOPICS} | {EVENT_TOPICS[0]: lost}
    return facts


def test_a_row_lost_or_applied_twice_is_a_difference(tmp_path):
    clean = _facts(tmp_path, ['["a",1]', '["b",2]'], 3)
    assert state_differences(clean, _facts(tmp_path, ['["a",1]', '["b",2]'], 3)) == []
    [twice] = state_differences(clean, _facts(tmp_path, ['["a",1]', '["a",1]', '["b",2]'], 3))
    assert twice.path == "state export.t" and "1 extra" in twice.detail
    [lost] = state_differences(clean, _facts(tmp_path, ['["a",1]'], 3))
    assert "1 missing" in lost.detail


def test_an_event_raised_twice_or_never_published_is_a_difference(tmp_path):
    clean = _facts(tmp_path, [], 3)
    assert event_differences(clean, _facts(tmp_path, [], 3)) == []
    [twice] = event_differences(clean, _facts(tmp_path, [], 4))
    assert "3 distinct ids vs 4" in twice.detail
    [never] = event_differences(clean, _facts(tmp_path, [], 3, lost=1))
    assert never.kind == "lost"


def test_an_output_file_that_differs_is_a_difference(tmp_path):
    for run, body in (("clean", "a;b\n1;2\n"), ("chaos", "a;b\n1;3\n")):
        (tmp_path / run / "exports").mkdir(parents=True)
        (tmp_path / run / "exports" / "classe.csv").write_text(body, encoding="utf-8")
    differences = compare_runs(_facts(tmp_path / "clean", [], 1), _facts(tmp_path / "chaos", [], 1))
    assert [d.path for d in differences] == ["exports/classe.csv"]


def test_duplicates_go_to_the_last_fault_before_them(tmp_path):
    line = lambda at: json.dumps({"event": "duplicate event ignored", "timestamp": at})  # noqa: E731
    (tmp_path / "export.log").write_text(
        "\n".join([line("2026-12-04T10:00:05+00:00"), line("2026-12-04T10:00:15+00:00"), "not json"]),
        encoding="utf-8",
    )
    first = Injected(KILL, "export", "imports", 0.0, 1796378400.0)  # 10:00:00 UTC
    second = Injected(KILL, "scheduler", "imports", 10.0, 1796378410.0)
    assert attribute_duplicates([first, second], tmp_path) == 2
    assert (first.duplicates_dropped, second.duplicates_dropped) == (1, 1)
