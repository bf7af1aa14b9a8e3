"""The results rows matching left without a candidate: listed per school or session, assigned by hand.

An assignment is one unit of work: the session's finalisation locked (as an import locks it), the
row locked, the rule (domain ``check_assignment``), then the result stored for the candidate, the row
marked, ResultAssigned and the session's ResultsProcessed raised, so the assigned result travels to
export like a matched one. The same assignment again finds the row already given to that candidate
and does nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import structlog

from services.finalisation.domain.results import ResultSource, payloads_fingerprint
from services.finalisation.domain.unmatched import UnmatchedRow, check_assignment
from services.finalisation.usecases.ports import Begin, ReadOnly
from services.finalisation.usecases.results import results_processed
from services.finalisation.usecases.rooms import unknown_session
from shared.contracts import events
from shared.errors import DomainError

log = structlog.get_logger(__name__)


async def rows_of_school(read: ReadOnly, uai: str) -> list[UnmatchedRow]:
    async with read() as store:
        return await store.unmatched_rows(uai=uai.upper())


async def rows_of_session(read: ReadOnly, session_id: str) -> list[UnmatchedRow]:
    async with read() as store:
        if await store.session(session_id) is None:
            raise unknown_session(session_id)
        return await store.unmatched_rows(session_id=session_id)


@dataclass(frozen=True, slots=True)
class Assignment:
    """The row's assignment as it stands; `unchanged` when this call found it already made."""

    row: UnmatchedRow
    unchanged: bool


async def assign(
    begin: Begin,
    session_id: str,
    *,
    certification_id: int,
    candidate_id: str,
    now: datetime,
    by: str | None = None,
) -> Assignment:
    """Give the row to one of the finalised session's candidates (idempotent)."""
    async with begin() as uow:
        store = uow.store
        session = await store.session(session_id)
        if session is None:
            raise unknown_session(session_id)
        recorded = await store.finalisation(session_id, lock=True)
        if recorded is None:
            raise DomainError(
                "results.session_not_finalised",
                "results are taken only for a finalised session",
                session_id=session_id,
            )
        if not any(c["candidate_id"] == candidate_id for c in recorded.payload["candidates"]):
            raise DomainError(
                "candidate.unknown",
                f"candidate {candidate_id} was not finalised in session {session.session_number}",
                candidate_id=candidate_id,
            )
        row = await store.unmatched_row(certification_id, lock=True)
        current = (await store.session_results([session_id])).get(session_id, {})
        to_assign = check_assignment(
            row,
            certification_id=certification_id,
            session_id=session_id,
            session_uai=session.uai,
            candidate_id=candidate_id,
            current_result=current.get(candidate_id),
        )
        assert row is not None  # check_assignment refused an unknown row
        if not to_assign:
            return Assignment(row, unchanged=True)
        merged = {**current, candidate_id: row.result}
        fingerprint = payloads_fingerprint(merged.values())
        await store.replace_results({session_id: {candidate_id: row.result}})
        await store.assign_unmatched(certification_id, session_id, candidate_id, now, by)
        learner_id = next(
            c.get("learner_id") or ""
            for c in recorded.payload["candidates"]
            if c["candidate_id"] == candidate_id
        )
        pix_numbers = await store.pix_session_numbers([session_id])
        await uow.emit_many(
            [
                events.ResultAssigned(
                    session_id=session_id,
                    uai=session.uai,
                    certification_id=certification_id,
                    candidate_id=candidate_id,
                    learner_id=learner_id,
                    kind=row.kind.value,
                    assigned_at=now,
                    assigned_by=by,
                ),
                results_processed(
                    recorded.payload,
                    merged,
                    ResultSource(row.result["source"]),
                    fingerprint,
                    await store.waiting_rows_of(session_id),
                    now,
                    pix_session_number=pix_numbers.get(session_id)
                    or recorded.payload.get("pix_session_number"),
                ),
            ]
        )
        assigned = await store.unmatched_row(certification_id)
    log.info("results row assigned", session_id=session_id, certification_id=certification_id)
    assert assigned is not None
    return Assignment(assigned, unchanged=False)
