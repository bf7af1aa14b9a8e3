"""Results rows without a candidate: where they are placed, and the rule of an assignment by hand
(domain/unmatched.py)."""

from datetime import UTC, date, datetime

import pytest

from services.finalisation.domain.matching import KnownCandidate, match_results
from services.finalisation.domain.results import CertificationResult, ResultSource
from services.finalisation.domain.unmatched import RowKind, UnmatchedRow, check_assignment, place_rows
from shared.contracts.events import ResultStatus
from shared.errors import DomainError

NOW = datetime(2027, 3, 20, 9, 0, tzinfo=UTC)


def known(session_id: str, number: int, n: int, **overrides) -> KnownCandidate:
    values = {
        "session_id": session_id,
        "session_number": number,
        "candidate_id": f"{session_id}-c{n}",
        "first_name": f"Prénom{n}",
        "last_name": f"Nom{n}",
        "birthdate": date(2012, 1, n),
    }
    return KnownCandidate(**{**values, **overrides})


def result(certification_id: int, n: int, session_number: int | None, **overrides) -> CertificationResult:
    values = {
        "certification_id": certification_id,
        "first_name": f"Prénom{n}",
        "last_name": f"Nom{n}",
        "birthdate": date(2012, 1, n),
        "status": ResultStatus.VALIDATED,
        "source": ResultSource.CLASS_RESULTS_CSV,
        "session_number": session_number,
        "pix_score": 300,
    }
    return CertificationResult(**{**values, **overrides})


CANDIDATES = [known("s1", 101, 1), known("s1", 101, 2), known("s2", 202, 1), known("s2", 202, 3)]
SCHOOLS = {"s1": "0750001A", "s2": "0750001A"}


def test_rows_are_placed_by_their_file_then_their_session_number_then_their_candidates():
    results = [
        result(1, 9, 101),  # nobody: placed in the session answering to 101
        result(2, 9, 999),  # nobody, a number no session answers to: only its school
        result(3, 1, None),  # Prénom1 Nom1 sits in s1 and s2: ambiguous, two sessions
        result(4, 3, None, first_name="Prénom3"),  # claims s2-c3…
        result(5, 3, None),  # …as this one does: both ambiguous, in s2
    ]
    report = match_results(results, CANDIDATES)
    rows = {
        r.certification_id: r
        for r in place_rows(report, CANDIDATES, SCHOOLS, file_name="f.csv", now=NOW, uai="0750001A")
    }
    assert set(rows) == {1, 2, 3, 4, 5}
    assert (rows[1].kind, rows[1].session_id, rows[1].uai) == (RowKind.UNMATCHED, "s1", "0750001A")
    assert (rows[2].session_id, rows[2].uai) == (None, "0750001A")
    assert rows[3].kind is RowKind.AMBIGUOUS and rows[3].session_id is None
    assert set(rows[3].candidate_ids) == {"s1-c1", "s2-c1"}
    assert (rows[4].session_id, rows[5].session_id) == ("s2", "s2")
    assert rows[5].reason == "several results for the same candidate"
    assert rows[1].result["certification_id"] == 1 and rows[1].file_name == "f.csv"


def test_a_file_for_no_school_places_an_ambiguous_row_in_its_candidates_school_if_they_share_one():
    candidates = [*CANDIDATES, known("s3", 303, 1)]
    schools = {**SCHOOLS, "s3": "0750002B"}
    across = match_results([result(2, 1, None)], candidates)
    [row] = place_rows(across, candidates, schools, file_name="f.csv", now=NOW)
    assert (row.kind, row.session_id, row.uai) == (RowKind.AMBIGUOUS, None, None)  # two schools
    within = match_results([result(3, 1, None)], CANDIDATES)
    [row] = place_rows(within, CANDIDATES, schools, file_name="f.csv", now=NOW)
    assert (row.kind, row.session_id, row.uai) == (RowKind.AMBIGUOUS, None, "0750001A")


def test_a_file_sent_for_one_session_places_all_its_rows_there():
    report = match_results([result(1, 9, 999)], CANDIDATES[:2])
    [row] = place_rows(report, CANDIDATES[:2], SCHOOLS, file_name="f.csv", now=NOW, session_id="s1")
    assert (row.session_id, row.uai) == ("s1", "0750001A")


def waiting(**overrides) -> UnmatchedRow:
    values = {
        "certification_id": 7,
        "kind": RowKind.UNMATCHED,
        "reason": None,
        "uai": "0750001A",
        "session_id": "s1",
        "candidate_ids": (),
        "result": {"certification_id": 7},
        "file_name": "f.csv",
        "recorded_at": NOW,
    }
    return UnmatchedRow(**{**values, **overrides})


def assignment(row, *, uai="0750001A", candidate_id="s1-c1", current=None) -> bool:
    return check_assignment(
        row,
        certification_id=7,
        session_id="s1",
        session_uai=uai,
        candidate_id=candidate_id,
        current_result=current,
    )


def refusal(call) -> str:
    with pytest.raises(DomainError) as caught:
        call()
    return caught.value.code


def test_an_assignment_is_made_once_then_does_nothing():
    assert assignment(waiting()) is True
    done = waiting(assigned_session_id="s1", assigned_candidate_id="s1-c1", assigned_at=NOW)
    assert assignment(done, current={"certification_id": 7}) is False


def test_an_assignment_is_refused_by_name():
    assert refusal(lambda: assignment(None)) == "results.row_unknown"
    assert refusal(lambda: assignment(waiting(), uai="0750002B")) == "results.row_unknown"  # another school's
    assert refusal(lambda: assignment(waiting(uai=None))) == "results.row_unknown"  # a row of no known school
    done = waiting(assigned_session_id="s1", assigned_candidate_id="s1-c2", assigned_at=NOW)
    assert refusal(lambda: assignment(done)) == "results.row_already_assigned"
    other = {"certification_id": 8}
    assert refusal(lambda: assignment(waiting(), current=other)) == "results.candidate_has_result"
