"""HTTP route correcting a candidate until finalisation: extra time, adapted conditions (issue 16).

Apart from api.py, and mounted beside it by app.py.
"""

from __future__ import annotations

import uuid

from fastapi import Depends

from services.scheduler.api_common import (
    LIVE_SESSION,
    LOOKUPS,
    UseCaseDependencies,
    candidate_out,
    refusals,
    use_cases,
)
from services.scheduler.schemas import CandidateOut, CandidatePatch
from services.scheduler.usecases import candidates
from shared.http import school_api_router

router = school_api_router(uai_of=LOOKUPS)


@router.patch(
    "/sessions/{session_id}/candidates/{candidate_id}",
    response_model=CandidateOut,
    tags=["enrolment"],
    responses=refusals(
        *LIVE_SESSION,
        "session.finalised",
        "candidate.unknown",
        "candidate.invalid_extra_time",
        "candidate.invalid_adapted_conditions",
    ),
)
async def correct_candidate(
    session_id: uuid.UUID,
    candidate_id: uuid.UUID,
    body: CandidatePatch,
    deps: UseCaseDependencies = Depends(use_cases),
) -> CandidateOut:
    """Correct extra time and/or adapted conditions until the session is finalised (CandidateUpdated)."""
    row = await candidates.correct_candidate(
        deps.begin, session_id=session_id, candidate_id=candidate_id, body=body, clock=deps.clock
    )
    return candidate_out(row)
