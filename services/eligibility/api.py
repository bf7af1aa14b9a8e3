"""HTTP API: roster and campaign-export uploads (commands), certifiability dashboards (queries).

Uploads come as multipart (field ``file``) or as the raw body with the file name in the
``file_name`` query parameter (or an ``X-File-Name`` header). A refused file answers 422 with
every error as ``{file, line, column, rule, message}`` and leaves no trace. Routes only read the
request and call a use case (services/eligibility/usecases/); the use cases' refusal codes get
their status from ``ERRORS`` (422 unless listed), the table the service definition declares.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.datastructures import UploadFile

from services.eligibility import store_certificability
from services.eligibility.domain.certifiability import CertifiabilityCounts
from services.eligibility.store import EligibilityStore, transactions
from services.eligibility.store_remediation import RemediationStore
from services.eligibility.usecases import (
    BeginWork,
    campaigns,
    orga_certificability,
    queries,
    remediations,
    rosters,
)
from services.eligibility.usecases.one_month_check import school_day
from shared.errors import statuses
from shared.http import ApiError, error_responses, school_api_router
from shared.service import Runtime, get_runtime

#: status of each refusal code of the use cases; the others (rejected files, bad UAIs) are 422
ERRORS = statuses(not_found={"class.not_found"})
_UAI_CODES = ("uai.invalid_format", "uai.invalid_check_letter")

#: the school's own people: every route that takes in or lists its students
learner_data = school_api_router(roles=frozenset({"staff", "referent"}), tags=["eligibility"])
#: counts only: the académie's operators too
counts = school_api_router(tags=["eligibility"])
#: what app.py serves: both routers, included at the end of this module
router = APIRouter()


async def read_upload(request: Request, max_bytes: int) -> tuple[str, bytes]:
    """(file name, bytes) of the upload, reading at most ``max_bytes`` + 1 bytes (the use case
    refuses a longer file)."""
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        form = await request.form()
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise ApiError(422, "upload.file_missing", "multipart upload without a 'file' part")
        file_name = upload.filename or request.query_params.get("file_name") or ""
        data = await upload.read(max_bytes + 1)
    else:
        file_name = request.query_params.get("file_name") or request.headers.get("x-file-name") or ""
        if not file_name:
            raise ApiError(
                422,
                "upload.file_name_missing",
                "a raw upload names its file (file_name query parameter or X-File-Name header)",
            )
        chunks, size = [], 0
        async for chunk in request.stream():
            chunks.append(chunk)
            size += len(chunk)
            if size > max_bytes:
                break
        data = b"".join(chunks)
    if not file_name:
        raise ApiError(422, "upload.file_name_missing", "the uploaded file has no name")
    return file_name, data


def _work(runtime: Runtime) -> BeginWork:
    return transactions(runtime.unit_of_work)


def _reads(runtime: Runtime) -> EligibilityStore:
    return EligibilityStore(runtime.pool)


@learner_data.post("/schools/{uai}/rosters", responses=error_responses(ERRORS, rosters.REJECTED))
async def upload_roster(
    uai: str, request: Request, runtime: Runtime = Depends(get_runtime)
) -> dict[str, Any]:
    """Import a learner CSV (Pix Orga template) or a SIECLE XML export; format detected from content."""
    max_bytes = runtime.settings.max_upload_bytes
    file_name, data = await read_upload(request, max_bytes)
    report = await rosters.import_roster(
        _work(runtime), uai=uai, file_name=file_name, data=data, now=runtime.clock.now(), max_bytes=max_bytes
    )
    return asdict(report)


@learner_data.post("/schools/{uai}/campaign-exports", responses=error_responses(ERRORS, campaigns.REJECTED))
async def upload_campaign_export(
    uai: str,
    request: Request,
    external_id_column: str | None = Query(
        default=None, description="header of the organisation's external id column (holding the INE)"
    ),
    runtime: Runtime = Depends(get_runtime),
) -> dict[str, Any]:
    """Import a profile-collection campaign export: match rows, recompute certifiability, report."""
    max_bytes = runtime.settings.max_upload_bytes
    file_name, data = await read_upload(request, max_bytes)
    report = await campaigns.import_campaign(
        _work(runtime),
        uai=uai,
        file_name=file_name,
        data=data,
        external_id_column=external_id_column,
        now=runtime.clock.now(),
        max_bytes=max_bytes,
    )
    return asdict(report)


@learner_data.post(
    "/schools/{uai}/orga-certificability", responses=error_responses(ERRORS, campaigns.REJECTED)
)
async def upload_orga_certificability(
    uai: str, request: Request, runtime: Runtime = Depends(get_runtime)
) -> dict[str, Any]:
    """Import the certificability Pix Orga shows (INE;Certificabilité;Date de certificabilité):
    the more recent of it and a campaign's share wins; refused whole like a campaign export."""
    max_bytes = runtime.settings.max_upload_bytes
    file_name, data = await read_upload(request, max_bytes)
    now = runtime.clock.now()
    report = await orga_certificability.import_orga_certificability(
        store_certificability.transactions(runtime.unit_of_work),
        uai=uai,
        file_name=file_name,
        data=data,
        now=now,
        today=school_day(now, runtime.settings.remediation_timezone),
        max_bytes=max_bytes,
    )
    return asdict(report)


def _counts(counts: CertifiabilityCounts) -> dict[str, Any]:
    return {**asdict(counts), "certifiable_rate": round(counts.certifiable_rate, 4)}


@learner_data.get(
    "/schools/{uai}/classes/{division}/certifiability",
    responses=error_responses(ERRORS, "class.not_found", *_UAI_CODES),
)
async def class_certifiability(
    uai: str, division: str, runtime: Runtime = Depends(get_runtime)
) -> dict[str, Any]:
    """A class's counts and each student's status and how many competences they still need."""
    found = await queries.class_certifiability(_reads(runtime), uai, division)
    return {
        "uai": found.uai,
        "division": found.division,
        "counts": _counts(found.summary.counts),
        "students": [asdict(student) for student in found.students],
    }


@counts.get("/schools/{uai}/certifiability", responses=error_responses(ERRORS, *_UAI_CODES))
async def school_certifiability(uai: str, runtime: Runtime = Depends(get_runtime)) -> dict[str, Any]:
    """The school's counts and the same counts per class."""
    found = await queries.school_certifiability(_reads(runtime), uai)
    return {
        "uai": found.uai,
        "counts": _counts(found.summary.counts),
        "classes": [{"division": c.division, "counts": _counts(c.counts)} for c in found.summary.classes],
    }


@learner_data.get("/schools/{uai}/learners", responses=error_responses(ERRORS, *_UAI_CODES))
async def school_learners(
    uai: str,
    division: str | None = None,
    include_inactive: bool = False,
    runtime: Runtime = Depends(get_runtime),
) -> dict[str, Any]:
    """The school's learners (active ones unless ``include_inactive``), optionally one class."""
    school, learners = await queries.school_learners(_reads(runtime), uai, division, include_inactive)
    return {"uai": school, "count": len(learners), "learners": [asdict(x) for x in learners]}


@learner_data.get("/schools/{uai}/remediations", responses=error_responses(ERRORS, *_UAI_CODES))
async def school_remediations(
    uai: str,
    division: str | None = Query(default=None, description="one class only"),
    include_resolved: bool = Query(default=True, description="false: only the students still to place"),
    runtime: Runtime = Depends(get_runtime),
) -> dict[str, Any]:
    """The remediation list: each student a one-month check asked to place themselves, the
    competences still at level 0, the check's date and the session's, and when it was resolved."""
    found = await remediations.remediation_list(
        RemediationStore(runtime.pool), uai, division, include_resolved
    )
    return {
        "uai": found.uai,
        "division": found.division,
        "open": found.open,
        "resolved": found.resolved,
        "students": [asdict(item) for item in found.students],
    }


router.include_router(learner_data)
router.include_router(counts)
