"""HTTP routes of a session's paper side: its PDF documents, zip bundles, and issuing convocations.

Mounted by api.py after the session routes (the OpenAPI lists them in the order of the docs).
The files print students' names: the school's own people only (``SCHOOL_PEOPLE``), not operators.
"""

from __future__ import annotations

import datetime as dt
import uuid

from fastapi import APIRouter, Depends, Response

from services.scheduler.api_common import (
    LIVE_SESSION,
    LOOKUPS,
    SCHOOL_PEOPLE,
    UseCaseDependencies,
    refusals,
    use_cases,
)
from services.scheduler.schemas import ConvocationsOut
from services.scheduler.usecases import documents
from shared.http import school_api_router

#: the printed documents (convocations, attendance sheets, bundles): the school's people only
files = school_api_router(roles=SCHOOL_PEOPLE, uai_of=LOOKUPS)
#: issuing convocations: the school's staff, referent and the académie's operators, as the session routes
school = school_api_router(uai_of=LOOKUPS)
#: what api.py mounts
router = APIRouter()


def _download(file: documents.DocumentFile) -> Response:
    """A file answer: its bytes, media type and the name to save it under."""
    return Response(
        file.content,
        media_type=file.media_type,
        headers={"Content-Disposition": f'attachment; filename="{file.file_name}"'},
    )


def _file_route(path: str, media_type: str, *codes: str):
    """The GET decorator of a file download: one media type, the refusals it may give."""
    return files.get(
        path,
        tags=["documents"],
        responses={200: {"content": {media_type: {}}}, **refusals(*codes)},
        response_class=Response,
    )


@_file_route("/sessions/{session_id}/documents/{kind}.pdf", documents.PDF, "document.unknown", *LIVE_SESSION)
async def document(
    session_id: uuid.UUID, kind: str, deps: UseCaseDependencies = Depends(use_cases)
) -> Response:
    """``kind``: convocations, attendance-sheet, invigilator-kit, incident-report, fraud-report."""
    return _download(await documents.session_document(deps.begin, session_id=session_id, kind=kind))


@_file_route(
    "/sessions/{session_id}/candidates/{candidate_id}/convocation.pdf",
    documents.PDF,
    *LIVE_SESSION,
    "candidate.unknown",
)
async def candidate_convocation(
    session_id: uuid.UUID, candidate_id: uuid.UUID, deps: UseCaseDependencies = Depends(use_cases)
) -> Response:
    """One student's convocation (the convocations document holds them all, one page each)."""
    file = await documents.candidate_convocation(deps.begin, session_id=session_id, candidate_id=candidate_id)
    return _download(file)


@_file_route("/sessions/{session_id}/bundle.zip", documents.ZIP, *LIVE_SESSION)
async def session_bundle(session_id: uuid.UUID, deps: UseCaseDependencies = Depends(use_cases)) -> Response:
    return _download(await documents.session_bundle(deps.begin, session_id=session_id))


@_file_route(
    "/schools/{uai}/days/{day}/bundle.zip",
    documents.ZIP,
    "school.invalid_uai",
    "school.unknown",
    "day.no_session",
)
async def day_bundle(uai: str, day: dt.date, deps: UseCaseDependencies = Depends(use_cases)) -> Response:
    return _download(await documents.day_bundle(deps.begin, uai=uai, day=day))


@school.post(
    "/sessions/{session_id}/convocations",
    response_model=ConvocationsOut,
    status_code=201,
    tags=["documents"],
    responses=refusals(*LIVE_SESSION, "convocations.no_candidate"),
)
async def issue_convocations(
    session_id: uuid.UUID, deps: UseCaseDependencies = Depends(use_cases)
) -> ConvocationsOut:
    """Render the session bundle, store its sha256 and emit ConvocationsIssued."""
    return ConvocationsOut(
        **await documents.issue_convocations(deps.begin, session_id=session_id, clock=deps.clock)
    )


router.include_router(school)
router.include_router(files)
