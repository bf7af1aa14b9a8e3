"""HTTP API of the referent's view: the room and the finalisation read back, its amendment, and
the results rows matching left without a candidate (listed, assigned by hand).

The school's staff and referent read (their UAI's sessions only; another school's: 404); the
referent alone amends a finalisation or assigns a row, as the referent alone finalises. The routes
of api.py are included unchanged: ``router`` here is the service's whole API.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from services.finalisation.api import FinalisationIn, finalisation_form
from services.finalisation.api import router as invigilation_and_intake
from services.finalisation.api_common import ERROR_STATUSES, Caller, Deps, school_of_session
from services.finalisation.api_invigilator import room_view
from services.finalisation.domain.unmatched import UnmatchedRow
from services.finalisation.usecases import amendment, referent_view, unmatched
from shared.http import error_responses, school_api_router

#: the school's people read what its sessions recorded; the referent alone changes it
readers = school_api_router(roles=frozenset({"staff", "referent"}), uai_of={"session_id": school_of_session})
referents = school_api_router(roles=frozenset({"referent"}), uai_of={"session_id": school_of_session})


@readers.get(
    "/sessions/{session_id}/room",
    tags=["finalisation"],
    responses=error_responses(ERROR_STATUSES, "session.unknown"),
)
async def show_room(session_id: str, deps: Deps) -> dict[str, Any]:
    """The room as recorded live (seats, presence, starts, ends, incidents), read only, before and
    after finalisation: what the referent needs to fill in the form days after the session."""
    now = deps.now()
    snapshot = await referent_view.read_room(deps.read, session_id)
    return {
        **room_view(snapshot, now),
        "cancelled": snapshot.session.is_cancelled,
        "finalised_at": snapshot.room.finalised_at,
    }


@readers.get(
    "/sessions/{session_id}/finalisation",
    tags=["finalisation"],
    responses=error_responses(ERROR_STATUSES, "session.unknown", "finalisation.unknown"),
)
async def show_finalisation(session_id: str, deps: Deps) -> dict[str, Any]:
    """The finalisation as it stands (the SessionFinalised payload, or its latest amendment), who
    submitted it and when, and until when the referent may still amend it."""
    now = deps.now()
    read_back = await referent_view.read_finalisation(deps.read, session_id, window=deps.amendment_window)
    recorded = read_back.recorded
    return {
        "session_id": recorded.session_id,
        "finalised_at": recorded.finalised_at,
        "finalised_by": recorded.finalised_by,
        "amendments": recorded.amendments,
        "amended_at": recorded.amended_at,
        "amended_by": recorded.amended_by,
        "results_received": read_back.results_received,
        "amendable_until": read_back.amendable_until,
        "amendable": read_back.is_amendable(now),
        "finalisation": recorded.payload,
    }


@referents.post(
    "/sessions/{session_id}/finalisation/amendment",
    tags=["finalisation"],
    responses=error_responses(
        ERROR_STATUSES,
        "session.unknown",
        "finalisation.unknown",
        "finalisation.amendment_too_late",
        "finalisation.results_received",
        "finalisation.amendment_changes_presence",
        "candidate.unknown",
        "finalisation.flags_required",
    ),
)
async def amend_finalisation(
    session_id: str, body: FinalisationIn, deps: Deps, caller: Caller
) -> dict[str, Any]:
    """The whole form again, corrected: within FINALISATION_AMENDMENT_HOURS of the finalisation and
    before any result arrived, presence unchanged; raises SessionFinalisationAmended (the body)."""
    event = await amendment.amend(
        deps.begin,
        session_id,
        finalisation_form(body),
        now=deps.now(),
        window=deps.amendment_window,
        by=caller,
    )
    return event.model_dump(mode="json")


# ---- results rows without a candidate ---------------------------------------------------------


def row_view(row: UnmatchedRow) -> dict[str, Any]:
    result = row.result
    return {
        "certification_id": row.certification_id,
        "kind": row.kind.value,
        "reason": row.reason,
        "uai": row.uai,
        "session_id": row.session_id,
        "candidate_ids": list(row.candidate_ids),
        "file_name": row.file_name,
        "recorded_at": row.recorded_at,
        "row": {
            key: result.get(key)
            for key in (
                "first_name",
                "last_name",
                "birthdate",
                "ine",
                "session_number",
                "status",
                "pix_score",
                "verification_code",
            )
        },
        "assigned": None
        if not row.is_assigned
        else {
            "session_id": row.assigned_session_id,
            "candidate_id": row.assigned_candidate_id,
            "at": row.assigned_at,
            "by": row.assigned_by,
        },
    }


def rows_view(rows: list[UnmatchedRow]) -> dict[str, Any]:
    return {
        "rows": [row_view(r) for r in rows],
        "waiting": sum(not r.is_assigned for r in rows),
        "assigned": sum(r.is_assigned for r in rows),
    }


#: a school's rows: its staff and referent, by the path's UAI
school_readers = school_api_router(roles=frozenset({"staff", "referent"}))


@school_readers.get("/schools/{uai}/results/unmatched", tags=["results"])
async def school_unmatched_rows(uai: str, deps: Deps) -> dict[str, Any]:
    """The school's results rows without a candidate (unmatched or ambiguous), assigned or waiting."""
    return rows_view(await unmatched.rows_of_school(deps.read, uai))


@readers.get(
    "/sessions/{session_id}/results/unmatched",
    tags=["results"],
    responses=error_responses(ERROR_STATUSES, "session.unknown"),
)
async def session_unmatched_rows(session_id: str, deps: Deps) -> dict[str, Any]:
    """The rows placed in this session (its file, or its Pix number) or assigned to it."""
    return rows_view(await unmatched.rows_of_session(deps.read, session_id))


class AssignmentIn(BaseModel):
    certification_id: int = Field(ge=1, description="the row's Pix certification id (as listed)")
    candidate_id: str = Field(min_length=1, description="one of the session's finalised candidates")


@referents.post(
    "/sessions/{session_id}/results/assignments",
    tags=["results"],
    responses=error_responses(
        ERROR_STATUSES,
        "session.unknown",
        "results.session_not_finalised",
        "candidate.unknown",
        "results.row_unknown",
        "results.row_already_assigned",
        "results.candidate_has_result",
    ),
)
async def assign_row(session_id: str, body: AssignmentIn, deps: Deps, caller: Caller) -> dict[str, Any]:
    """Give a waiting row to a candidate of this session: ResultAssigned, then the session's
    ResultsProcessed with that result. The same assignment again changes nothing (`unchanged`)."""
    done = await unmatched.assign(
        deps.begin,
        session_id,
        certification_id=body.certification_id,
        candidate_id=body.candidate_id,
        now=deps.now(),
        by=caller,
    )
    return {**row_view(done.row), "unchanged": done.unchanged}


router = APIRouter()
router.include_router(invigilation_and_intake)
router.include_router(readers)
router.include_router(school_readers)
router.include_router(referents)
