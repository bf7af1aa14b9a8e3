"""Roster imports and the dashboards on the in-memory store: the use cases' rules, no database.

The same outcomes as the component tests (tests/component/eligibility), asserted on what the use
case stored and raised; each runs in milliseconds.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.eligibility.usecases import queries
from services.eligibility.usecases.rosters import import_roster
from shared.contracts.events import LearnerDeactivated, LearnerRegistered, LearnersImported, LearnerUpdated
from shared.errors import DomainError
from tests.learner_rows import HEADER, learner_row
from tests.unit.eligibility.fakes import FakeTransactions

UAI = "0211089V"
NOW = datetime(2026, 1, 5, 9, tzinfo=UTC)
LEA = learner_row()
HUGO = learner_row(ine="111111111AB", first_name="Hugo", sex="M", division="3B")


def csv(*rows: str) -> bytes:
    return ("\n".join([HEADER, *rows]) + "\n").encode()


async def imported(tx: FakeTransactions, data: bytes, *, max_bytes: int = 10_485_760, uai: str = UAI):
    return await import_roster(tx, uai=uai, file_name="eleves.csv", data=data, now=NOW, max_bytes=max_bytes)


@pytest.fixture
def tx() -> FakeTransactions:
    return FakeTransactions()


async def test_a_first_roster_registers_every_learner_and_announces_the_import(tx):
    report = await imported(tx, csv(LEA, HUGO))
    assert (report.total, report.registered, report.updated, report.deactivated) == (2, 2, 0, 0)
    assert report.file_format == "pix_orga_csv"
    assert [type(e) for e in tx.committed] == [LearnerRegistered, LearnerRegistered, LearnersImported]
    assert {e.first_name for e in tx.committed[:2]} == {"Léa", "Hugo"}
    assert sorted(r.learner.division for r in tx.store.learners.values()) == ["3A", "3B"]
    assert tx.store.locked == [UAI]
    assert tx.store.roster_imports[0]["registered"] == 2


async def test_a_reimport_moves_a_learner_and_deactivates_the_one_gone(tx):
    await imported(tx, csv(LEA, HUGO))
    ids = {r.learner.first_name: i for i, r in tx.store.learners.items()}
    before = len(tx.committed)

    report = await imported(tx, csv(learner_row(division="3C")))

    assert (report.updated, report.class_changes, report.deactivated, report.registered) == (1, 1, 1, 0)
    moved, gone, summary = tx.committed[before:]
    assert isinstance(moved, LearnerUpdated) and moved.learner_id == ids["Léa"]
    assert moved.changed_fields == ["division"] and moved.division == "3C"
    assert isinstance(gone, LearnerDeactivated) and gone.learner_id == ids["Hugo"]
    assert isinstance(summary, LearnersImported) and summary.deactivated == 1
    assert tx.store.learners[ids["Hugo"]].active is False


async def test_a_returning_learner_is_reactivated_with_the_same_id(tx):
    await imported(tx, csv(LEA, HUGO))
    await imported(tx, csv(LEA))
    report = await imported(tx, csv(LEA, HUGO))
    assert (report.reactivated, report.registered) == (1, 0)
    assert len(tx.store.learners) == 2
    assert tx.committed[-2].changed_fields == ["active"]


async def test_a_broken_file_is_refused_whole_with_each_issue_and_stores_nothing(tx):
    with pytest.raises(DomainError) as refused:
        await imported(tx, csv(LEA, learner_row(ine="123", first_name="")))
    assert refused.value.code == "roster.rejected"
    assert refused.value.details["file"] == "eleves.csv"
    rules = {e["rule"] for e in refused.value.details["errors"]}
    assert "ine.invalid_format" in rules and len(refused.value.details["errors"]) >= 2
    assert (tx.store.learners, tx.committed, tx.commits) == ({}, [], 0)


async def test_a_file_over_the_limit_is_refused_before_parsing(tx):
    with pytest.raises(DomainError) as refused:
        await imported(tx, csv(LEA) + b"x" * 2048, max_bytes=1024)
    assert refused.value.code == "roster.rejected"
    [error] = refused.value.details["errors"]
    assert error["rule"] == "file.too_large" and error["line"] is None
    assert tx.commits == 0


async def test_a_school_uai_with_a_wrong_check_letter_is_refused(tx):
    with pytest.raises(DomainError) as refused:
        await imported(tx, csv(LEA), uai="0211089A")
    assert [e["rule"] for e in refused.value.details["errors"]] == ["uai.invalid_check_letter"]


async def test_dashboards_count_unknown_students_and_refuse_an_empty_class(tx):
    await imported(tx, csv(LEA, HUGO))
    found = await queries.class_certifiability(tx.store, UAI.lower(), "3A")
    assert found.uai == UAI
    assert [(s.first_name, s.status, s.competences_needed) for s in found.students] == [
        ("Léa", "unknown", None)
    ]
    assert found.summary.counts.unknown == 1
    school = await queries.school_certifiability(tx.store, UAI)
    assert [c.division for c in school.summary.classes] == ["3A", "3B"]
    with pytest.raises(DomainError) as missing:
        await queries.class_certifiability(tx.store, UAI, "9Z")
    assert missing.value.code == "class.not_found"
    with pytest.raises(DomainError) as bad:
        await queries.school_learners(tx.store, "0211089A", None, False)
    assert bad.value.code == "uai.invalid_check_letter"
