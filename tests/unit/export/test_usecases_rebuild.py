"""The rebuild use cases on the in-memory read model: which files a batch of events rewrites and
announces, and that class files never lag the livret. No database: each test takes milliseconds
(the same flows on PostgreSQL are in tests/component/export)."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from services.export.usecases.read_model import save_learners, save_sessions
from services.export.usecases.rebuild import export_results, rebuild_stale_schools
from shared.contracts.events import (
    ClassResultsExported,
    LearnerRegistered,
    LivretExportProduced,
    ResultsProcessed,
    SessionCreated,
)
from tests.events import Outcome, learner, results, session
from tests.unit.export.fakes import FakeTransactions

UAI = "0751234A"
NOW = datetime(2025, 4, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def tx() -> FakeTransactions:
    return FakeTransactions()


async def deliver(tx: FakeTransactions, out: Path, *events) -> None:
    """Each event in its own unit of work, as the consumers apply a record retried alone (see
    handlers.py: their batch handlers then get a list of one)."""
    for event in events:
        async with tx() as work:
            if isinstance(event, LearnerRegistered):
                await save_learners(work, [event])
            elif isinstance(event, SessionCreated):
                await save_sessions(work, [event])
            elif isinstance(event, ResultsProcessed):
                await export_results(work, [event], output_dir=out, now=NOW)


async def settle(tx: FakeTransactions, out: Path) -> None:
    """The stale-school job, until nothing is left to rebuild."""
    while await rebuild_stale_schools(tx, output_dir=out, now=NOW):
        pass


def livret_ids(out: Path) -> set[int]:
    [path] = (out / UAI).glob("*_livret_*.json")
    return {c["id"] for c in json.loads(path.read_bytes())["data"]["attributes"]["certifications"]}


def csv_ids(out: Path, division: str) -> set[int]:
    paths = list((out / UAI).glob(f"*_resultats_{division}.csv"))
    if not paths:
        return set()
    rows = list(csv.reader(io.StringIO(paths[0].read_bytes().decode("utf-8-sig")), delimiter=";"))
    return {int(row[0]) for row in rows[1:]}


async def test_results_write_the_class_files_and_the_livret_and_announce_them_once(tx, tmp_path):
    anna, bob = learner(UAI, "anna"), learner(UAI, "bob")
    s1 = session(UAI)
    processed = results(s1, Outcome(anna, 101), Outcome(bob, 102, status="rejected"))
    await deliver(tx, tmp_path, anna, bob, s1)
    await settle(tx, tmp_path)
    await deliver(tx, tmp_path, processed)

    assert livret_ids(tmp_path) == csv_ids(tmp_path, "3A") == {101, 102}
    assert len(list((tmp_path / UAI).glob("*_attestations_3A.pdf"))) == 1
    assert [type(e) for e in tx.committed] == [ClassResultsExported, LivretExportProduced]

    await deliver(tx, tmp_path, processed)  # a re-send: the same bytes, nothing announced
    assert len(tx.committed) == 2


async def test_a_late_roster_entry_is_in_its_class_csv_as_soon_as_in_the_livret(tx, tmp_path):
    """Carl's results came before his roster entry; the school's next results (another class)
    put him in the livret: his class CSV must take him in the same rebuild."""
    anna, carl, dan = learner(UAI, "anna"), learner(UAI, "carl"), learner(UAI, "dan", division="3B")
    s1, s2, s3 = session(UAI, 1), session(UAI, 2), session(UAI, 3)
    await deliver(tx, tmp_path, anna, s1, results(s1, Outcome(anna, 1)))
    await deliver(tx, tmp_path, s2, results(s2, Outcome(carl, 2)))
    await deliver(tx, tmp_path, carl)  # the school is stale, not rebuilt yet
    await deliver(tx, tmp_path, dan, s3, results(s3, Outcome(dan, 3)))

    assert livret_ids(tmp_path) == {1, 2, 3}
    assert csv_ids(tmp_path, "3A") == {1, 2} and csv_ids(tmp_path, "3B") == {3}


async def test_the_stale_school_job_rebuilds_and_forgets_the_mark(tx, tmp_path):
    anna = learner(UAI, "anna")
    s1 = session(UAI)
    await deliver(tx, tmp_path, s1, results(s1, Outcome(anna, 7)))
    assert csv_ids(tmp_path, "3A") == set()  # no roster yet: nobody to export
    await deliver(tx, tmp_path, anna)
    assert tx.store.stale
    await settle(tx, tmp_path)
    assert tx.store.stale == {}
    assert csv_ids(tmp_path, "3A") == livret_ids(tmp_path) == {7}
