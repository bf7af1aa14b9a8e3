"""HTTP routes of the Pix Certif link: a plan's sessions file, Pix's values per session or per file.

Apart from api.py and mounted beside it by app.py. The
school's staff downloads the sessions to create in Pix Certif, creates them there, then brings
back each session's Pix number, access code and password: one session at a time (PUT) or the
downloaded file with its last three columns filled (POST, accepted whole or refused whole with
every error by file, line and column, like every import).
"""

from __future__ import annotations

import uuid

from fastapi import Depends, Request, Response
from starlette.datastructures import UploadFile

from services.scheduler.api_common import (
    LIVE_SESSION,
    LOOKUPS,
    UseCaseDependencies,
    refusals,
    session_detail,
    use_cases,
)
from services.scheduler.domain.pix_certif import REJECTED
from services.scheduler.schemas import PixCertifImportOut, PixCertifIn, SessionDetailOut
from services.scheduler.usecases import pix_certif
from shared.http import ApiError, school_api_router

#: the largest sessions file taken (a school has tens of sessions: a few kilobytes)
MAX_FILE_BYTES = 1_048_576
#: the school's staff, referent and the académie's operators, as the neighbouring session routes
router = school_api_router(uai_of=LOOKUPS)


async def _upload(request: Request) -> tuple[str, bytes]:
    """(file name, at most MAX_FILE_BYTES + 1 bytes) of a multipart ``file`` part or a raw body."""
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        form = await request.form()
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise ApiError(422, "upload.file_missing", "multipart upload without a 'file' part")
        return upload.filename or "sessions-pix-certif.csv", await upload.read(MAX_FILE_BYTES + 1)
    name = request.query_params.get("file_name") or request.headers.get("x-file-name")
    chunks, size = [], 0
    async for chunk in request.stream():
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_FILE_BYTES:
            break
    return name or "sessions-pix-certif.csv", b"".join(chunks)


@router.get(
    "/plans/{plan_id}/pix-certif-sessions.csv",
    tags=["plans"],
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}, **refusals("plan.unknown")},
)
async def plan_sessions_file(plan_id: uuid.UUID, deps: UseCaseDependencies = Depends(use_cases)) -> Response:
    """The plan's sessions to create in Pix Certif, one line each (site, room, date, local time,
    invigilators, classes, candidates), with three empty columns for Pix's number, access code and
    password: fill them from Pix Certif's session list and send the file back."""
    file = await pix_certif.plan_sessions_file(deps.begin, plan_id=plan_id)
    return Response(
        file.content,
        media_type=file.media_type,
        headers={"Content-Disposition": f'attachment; filename="{file.file_name}"'},
    )


@router.post(
    "/schools/{uai}/pix-certif-sessions",
    response_model=PixCertifImportOut,
    tags=["sessions"],
    responses=refusals("school.invalid_uai", "school.unknown", REJECTED),
)
async def import_sessions_file(
    uai: str, request: Request, deps: UseCaseDependencies = Depends(use_cases)
) -> PixCertifImportOut:
    """Record Pix's number, access code and password of the sessions the filled file names (by
    certibus number, or site, room, date and time); all lines or none. Blank Pix cells: skipped."""
    file_name, data = await _upload(request)
    done = await pix_certif.import_file(
        deps.begin,
        uai=uai,
        file_name=file_name,
        data=data,
        max_bytes=MAX_FILE_BYTES,
        clock=deps.clock,
        hash_password=deps.hash_password,
    )
    return PixCertifImportOut(
        uai=uai.strip().upper(),
        file_name=done.file_name,
        recorded=done.recorded,
        unchanged=done.unchanged,
        skipped_lines=done.skipped_lines,
    )


@router.put(
    "/sessions/{session_id}/pix-certif",
    response_model=SessionDetailOut,
    tags=["sessions"],
    responses=refusals(
        *LIVE_SESSION,
        "session.started",
        "pix.invalid_session_number",
        "pix.invalid_access_code",
        "pix.invalid_password",
        "pix.session_number_taken",
    ),
)
async def put_pix_certif(
    session_id: uuid.UUID, body: PixCertifIn, deps: UseCaseDependencies = Depends(use_cases)
) -> SessionDetailOut:
    """Record the session's Pix Certif number, access code and password: from then on the kit,
    the attendance sheet and the invigilator space use them. Refused once a test has started."""
    await pix_certif.record_one(
        deps.begin,
        session_id=session_id,
        number=body.session_number,
        access_code=body.access_code,
        password=body.invigilator_password,
        clock=deps.clock,
        hash_password=deps.hash_password,
    )
    return await session_detail(deps, session_id)
