"""Results rows matching could not give a candidate: kept, placed in a school and a session, assigned by hand.

Matching (domain/matching.py) never guesses; what it leaves is kept here, keyed by Pix's
certification id (a row read again in a later file is the same row), so the school's referent can
see it and say whose it is. A row is placed in the school and session its file was sent for, else
in the one finalised session answering to its "Session" number, else (an ambiguous row) in its
candidates' session when they share one, or at least their school.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from services.finalisation.domain.matching import KnownCandidate, MatchReport
from services.finalisation.domain.results import CertificationResult
from shared.errors import DomainError

ROW_UNKNOWN = "results.row_unknown"
ROW_ASSIGNED_ELSEWHERE = "results.row_already_assigned"
CANDIDATE_HAS_RESULT = "results.candidate_has_result"


class RowKind(StrEnum):
    UNMATCHED = "unmatched"
    AMBIGUOUS = "ambiguous"


@dataclass(frozen=True, slots=True)
class UnmatchedRow:
    """A results row without a candidate, where it belongs, and its assignment once made."""

    certification_id: int
    kind: RowKind
    reason: str | None
    uai: str | None
    session_id: str | None
    candidate_ids: tuple[str, ...]
    result: dict[str, Any]
    file_name: str
    recorded_at: datetime
    assigned_session_id: str | None = None
    assigned_candidate_id: str | None = None
    assigned_at: datetime | None = None
    assigned_by: str | None = None

    @property
    def is_assigned(self) -> bool:
        return self.assigned_candidate_id is not None


def place_rows(
    report: MatchReport,
    candidates: Sequence[KnownCandidate],
    uai_of_session: Mapping[str, str],
    *,
    file_name: str,
    now: datetime,
    session_id: str | None = None,
    uai: str | None = None,
) -> list[UnmatchedRow]:
    """The report's unmatched and ambiguous rows, each placed in its school and session if known."""
    sessions_answering: dict[int, set[str]] = {}
    for candidate in candidates:
        sessions_answering.setdefault(candidate.answers_to, set()).add(candidate.session_id)

    def placed(result: CertificationResult, among: Sequence[KnownCandidate]) -> tuple[str | None, str | None]:
        if session_id is not None:
            return uai_of_session.get(session_id, uai), session_id
        found = {c.session_id for c in among} or sessions_answering.get(result.session_number or 0, set())
        if len(found) == 1:
            [only] = found
            return uai_of_session.get(only, uai), only
        schools = {uai_of_session[s] for s in found if s in uai_of_session}
        return (schools.pop() if len(schools) == 1 else uai), None

    rows = []
    for result in report.unmatched:
        school, session = placed(result, ())
        rows.append(
            UnmatchedRow(
                result.certification_id, RowKind.UNMATCHED, None, school, session, (),
                result.to_payload(), file_name, now,
            )
        )  # fmt: skip
    for ambiguous in report.ambiguous:
        school, session = placed(ambiguous.result, ambiguous.candidates)
        rows.append(
            UnmatchedRow(
                ambiguous.result.certification_id, RowKind.AMBIGUOUS, ambiguous.reason, school, session,
                tuple(c.candidate_id for c in ambiguous.candidates), ambiguous.result.to_payload(),
                file_name, now,
            )
        )  # fmt: skip
    return rows


def check_assignment(
    row: UnmatchedRow | None,
    *,
    certification_id: int,
    session_id: str,
    session_uai: str,
    candidate_id: str,
    current_result: Mapping[str, Any] | None,
) -> bool:
    """True when the row is to be assigned to the candidate; False when it already is (nothing to
    do: the same assignment twice); a named refusal otherwise."""
    if row is None or row.uai != session_uai:
        raise DomainError(
            ROW_UNKNOWN,
            f"no results row {certification_id} waits for a candidate in this school",
            certification_id=certification_id,
        )
    if row.is_assigned:
        if (row.assigned_session_id, row.assigned_candidate_id) == (session_id, candidate_id):
            return False
        raise DomainError(
            ROW_ASSIGNED_ELSEWHERE,
            f"results row {certification_id} was already given to candidate {row.assigned_candidate_id}",
            certification_id=certification_id,
            session_id=row.assigned_session_id,
            candidate_id=row.assigned_candidate_id,
        )
    if current_result is not None and current_result.get("certification_id") != certification_id:
        raise DomainError(
            CANDIDATE_HAS_RESULT,
            f"candidate {candidate_id} already has certification {current_result.get('certification_id')}",
            candidate_id=candidate_id,
            certification_id=current_result.get("certification_id"),
        )
    return True
