"""Candidates corrected until finalisation: extra time and adapted conditions (issue 16 item 3).

Pix lets an SCO centre change its candidates until the session is finalised; each correction is a
CandidateUpdated carrying the whole candidate (finalisation's room takes the new extra time), and a
refusal is a named rule (``session.finalised``, ``candidate.invalid_extra_time``,
``candidate.invalid_adapted_conditions``, ``candidate.unknown``).
"""

from __future__ import annotations

import uuid

from services.scheduler.domain.lifecycle import correct_candidate as corrected
from services.scheduler.domain.lifecycle import ensure_not_finalised
from services.scheduler.schemas import CandidatePatch
from services.scheduler.store import CandidateRow
from services.scheduler.usecases.common import Begin, SchoolClock, live_session_locked, unknown_candidate
from services.scheduler.usecases.sessions import enrolled_candidate
from shared.contracts.events import CandidateUpdated


async def correct_candidate(
    begin: Begin, *, session_id: uuid.UUID, candidate_id: uuid.UUID, body: CandidatePatch, clock: SchoolClock
) -> CandidateRow:
    """Correct a candidate's extra time and/or adapted conditions; unchanged values raise nothing."""
    now = clock.now()
    async with begin() as uow:
        row, school = await live_session_locked(uow, session_id)
        ensure_not_finalised(row.session.number, row.finalised_at, "correction d'un candidat")
        current = next(
            (c for c in await uow.store.candidates(session_id) if c.candidate_id == candidate_id), None
        )
        if current is None:
            raise unknown_candidate(candidate_id)
        candidate, fields = corrected(
            current.candidate,
            extra_time_percentage=body.extra_time_percentage,
            adapted_conditions=body.adapted_conditions,
            set_adapted_conditions="adapted_conditions" in body.model_fields_set,
        )
        if fields:
            await uow.store.correct_candidate(
                session_id,
                candidate_id,
                extra_time_percentage=candidate.extra_time_percentage,
                adapted_conditions=candidate.adapted_conditions,
            )
            await uow.emit(
                CandidateUpdated(
                    session_id=str(session_id),
                    uai=school.uai,
                    candidate=enrolled_candidate(candidate_id, current.ine, candidate),
                    changed_fields=fields,
                    updated_at=now,
                )
            )
    return CandidateRow(candidate_id, current.ine, current.enrolled_at, candidate)
