"""HTTP API: session finalisation and results intake, with the invigilator space's routes
(api_invigilator.py) included.

Finalisation is the referent's form (pix-domain §5.2). Results come as Pix's own files: the class
results CSV or the livret scolaire JSON, as a raw body or a multipart upload.

Routes turn HTTP into use-case calls (``usecases/``) and their answers back into the documented
bodies, nothing else; refusals are ``DomainError``s whose status ``ERROR_STATUSES`` names.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field, StrictBool

from services.finalisation.api_common import (
    ERROR_STATUSES,
    Caller,
    Deps,
    IssueReportIn,
    school_of_session,
)
from services.finalisation.api_invigilator import router as invigilator_space
from services.finalisation.domain.finalisation import CandidateReport
from services.finalisation.usecases import finalisation
from services.finalisation.usecases import results as results_intake
from services.finalisation.usecases.ports import Begin
from shared.errors import DomainError
from shared.http import error_responses, query_uai, school_api_router

router = APIRouter()
router.include_router(invigilator_space)


#: the finalisation form is the school's Pix referent's (pix-domain §5.2), not its other staff's
referents = school_api_router(roles=frozenset({"referent"}), uai_of={"session_id": school_of_session})
#: results come from the Pix side (any school) or the school's referent (its own sessions, its ``?uai=``)
intake = school_api_router(
    roles=frozenset({"referent"}),
    also_allowed=frozenset({"pix"}),
    uai_of={"session_id": school_of_session, "?uai": query_uai},
)


# ---- finalisation -----------------------------------------------------------------------------


class CandidateReportIn(BaseModel):
    candidate_id: str
    present: StrictBool
    abort_reason: str | None = Field(default=None, description="candidate | technical")
    issue_reports: list[IssueReportIn] | None = Field(
        default=None, description="omitted: the incidents recorded live for this candidate"
    )


class FinalisationIn(BaseModel):
    """pix-domain §5.2: comment, the two checkboxes, one report per enrolled candidate."""

    examiner_global_comment: str | None = None
    has_incident: StrictBool | None = None
    has_joining_issue: StrictBool | None = None
    candidate_reports: list[CandidateReportIn] = Field(default_factory=list)
    session_incidents: list[IssueReportIn] = Field(
        default_factory=list,
        description="room-level PV entries transcribed from paper; those recorded live are always kept",
    )


@referents.put(
    "/sessions/{session_id}/finalisation",
    tags=["finalisation"],
    responses=error_responses(
        ERROR_STATUSES,
        "session.unknown",
        "session.cancelled",
        "session.finalised",
        "finalisation.no_started_test",
        "candidate.unknown",
        "finalisation.flags_required",
    ),
)
async def finalise(session_id: str, body: FinalisationIn, deps: Deps, caller: Caller) -> dict[str, Any]:
    """Finalise the session; raises SessionFinalised (returned as the response body)."""
    event = await finalisation.finalise(
        deps.begin, session_id, finalisation_form(body), now=deps.now(), by=caller
    )
    return event.model_dump(mode="json")


def finalisation_form(body: FinalisationIn) -> finalisation.FinalisationForm:
    """The form in the use cases' terms, as the finalisation and its amendment both take it."""
    return finalisation.FinalisationForm(
        reports=[
            CandidateReport(
                r.candidate_id,
                r.present,
                r.abort_reason,
                tuple(i.to_domain() for i in r.issue_reports or ()),
            )
            for r in body.candidate_reports
        ],
        reports_without_issues=frozenset(
            r.candidate_id for r in body.candidate_reports if r.issue_reports is None
        ),
        has_incident=body.has_incident,
        has_joining_issue=body.has_joining_issue,
        examiner_global_comment=body.examiner_global_comment,
        session_incidents=tuple(i.to_domain() for i in body.session_incidents),
    )


# ---- results intake ---------------------------------------------------------------------------

RESULTS_REFUSALS = ("results.no_file", "results.empty", "results.too_large", "results.unknown_candidates")


async def _results_file(request: Request, max_bytes: int) -> tuple[bytes, str, str | None]:
    """(bytes, file name, content type) from a raw body or the first file of a multipart form."""
    content_type = request.headers.get("content-type")
    file_name = request.headers.get("x-file-name")
    if content_type and content_type.lower().startswith("multipart/form-data"):
        form = await request.form()
        uploads = [v for v in form.values() if hasattr(v, "read")]
        if not uploads:
            raise DomainError("results.no_file", "the form carries no file")
        upload = uploads[0]
        data = await upload.read(max_bytes + 1)  # type: ignore[union-attr]
        file_name = upload.filename or file_name  # type: ignore[union-attr]
        content_type = upload.content_type  # type: ignore[union-attr]
    else:  # never more than one byte past the limit in memory, whatever the body's size
        chunks, size = [], 0
        async for chunk in request.stream():
            chunks.append(chunk)
            size += len(chunk)
            if size > max_bytes:
                break
        data = b"".join(chunks)
    if not data.strip():
        raise DomainError("results.empty", "the results file is empty")
    if len(data) > max_bytes:
        raise DomainError("results.too_large", f"at most {max_bytes} bytes", max_bytes=max_bytes)
    return data, file_name or "results", content_type


async def _import(
    begin: Begin, now: datetime, request: Request, max_bytes: int, **scope: str | None
) -> dict[str, Any]:
    data, file_name, content_type = await _results_file(request, max_bytes)
    return await results_intake.import_results(
        begin, data, file_name=file_name, content_type=content_type, now=now, **scope
    )


@intake.post(
    "/sessions/{session_id}/results",
    tags=["results"],
    responses=error_responses(
        ERROR_STATUSES, *RESULTS_REFUSALS, "session.unknown", "results.session_not_finalised"
    ),
)
async def session_results(session_id: str, request: Request, deps: Deps) -> dict[str, Any]:
    """A class results CSV or livret JSON for one finalised session (rows of others are unmatched)."""
    return await _import(deps.begin, deps.now(), request, deps.results_max_bytes, session_id=session_id)


@intake.post("/results", tags=["results"], responses=error_responses(ERROR_STATUSES, *RESULTS_REFUSALS))
async def results(
    request: Request,
    deps: Deps,
    uai: Annotated[str | None, Query(description="only this school's sessions")] = None,
) -> dict[str, Any]:
    """A results file covering several sessions (e.g. a school's livret JSON), split by matching."""
    return await _import(deps.begin, deps.now(), request, deps.results_max_bytes, uai=uai)


router.include_router(referents)
router.include_router(intake)
