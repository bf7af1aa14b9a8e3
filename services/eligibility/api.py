"""HTTP API: roster and campaign-export uploads (commands), certifiability dashboards (queries).

Uploads come as multipart (field ``file``) or as the raw body with the file name in the
``file_name`` query parameter (or an ``X-File-Name`` header). A refused file answers 422 with
every error as ``{file, line, column, rule, message}`` and leaves no trace.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import Depends, Query, Request
from starlette.datastructures import UploadFile

from services.eligibility import store
from services.eligibility.domain.certifiability import (
    CertifiabilityCounts,
    CertifiabilityStatus,
    summarise,
)
from services.eligibility.domain.issues import ImportIssue, IssueCollector, Rule
from services.eligibility.domain.roster import check_school_uai
from services.eligibility.importing import ImportRejected, import_campaign, import_roster, issue_json
from shared.http import ApiError, school_api_router
from shared.service import Runtime, get_runtime

router = school_api_router(tags=["eligibility"])  # API_TOKEN, when set


class _TooLarge(Exception):
    def __init__(self, file_name: str, max_bytes: int) -> None:
        self.file_name, self.max_bytes = file_name, max_bytes


async def _read_upload(request: Request, max_bytes: int) -> tuple[str, bytes]:
    """(file name, bytes) of the upload, reading at most ``max_bytes`` + 1 bytes."""
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
    if len(data) > max_bytes:
        raise _TooLarge(file_name, max_bytes)
    return file_name, data


def _rejected(code: str, file_name: str, issues: tuple[ImportIssue, ...] | list[ImportIssue]) -> ApiError:
    return ApiError(
        422,
        code,
        f"{file_name} refusé : {len(issues)} erreur(s), rien n'a été importé.",
        file=file_name,
        errors=[issue_json(i) for i in issues],
    )


def _too_large(code: str, exc: _TooLarge) -> ApiError:
    issues = IssueCollector(exc.file_name)
    issues.add(
        None,
        None,
        Rule.FILE_TOO_LARGE,
        f"Fichier de plus de {exc.max_bytes / 1_048_576:.0f} Mo : c'est la limite.",
    )
    return _rejected(code, exc.file_name, issues.issues)


def _school(uai: str) -> str:
    issues = IssueCollector("")
    school = check_school_uai(uai, issues)
    if issues:
        issue = issues.issues[0]
        raise ApiError(422, str(issue.rule), issue.message, uai=uai)
    return school


@router.post("/schools/{uai}/rosters")
async def upload_roster(
    uai: str, request: Request, runtime: Runtime = Depends(get_runtime)
) -> dict[str, Any]:
    """Import a learner CSV (Pix Orga template) or a SIECLE XML export; format detected from content."""
    max_bytes = runtime.settings.max_upload_bytes
    try:
        file_name, data = await _read_upload(request, max_bytes)
        report = await import_roster(
            runtime.unit_of_work,
            uai=uai,
            file_name=file_name,
            data=data,
            now=runtime.clock.now(),
            max_bytes=max_bytes,
        )
    except _TooLarge as exc:
        raise _too_large("roster.rejected", exc) from None
    except ImportRejected as exc:
        raise _rejected("roster.rejected", exc.file_name, exc.issues) from None
    return asdict(report)


@router.post("/schools/{uai}/campaign-exports")
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
    try:
        file_name, data = await _read_upload(request, max_bytes)
        report = await import_campaign(
            runtime.unit_of_work,
            uai=uai,
            file_name=file_name,
            data=data,
            external_id_column=external_id_column,
            now=runtime.clock.now(),
            max_bytes=max_bytes,
        )
    except _TooLarge as exc:
        raise _too_large("campaign_export.rejected", exc) from None
    except ImportRejected as exc:
        raise _rejected("campaign_export.rejected", exc.file_name, exc.issues) from None
    return asdict(report)


def _counts(counts: CertifiabilityCounts) -> dict[str, Any]:
    return {**asdict(counts), "certifiable_rate": round(counts.certifiable_rate, 4)}


@router.get("/schools/{uai}/classes/{division}/certifiability")
async def class_certifiability(
    uai: str, division: str, runtime: Runtime = Depends(get_runtime)
) -> dict[str, Any]:
    """A class's counts and each student's status and how many competences they still need."""
    school = _school(uai)
    async with runtime.pool.acquire() as conn:
        rows = await store.school_certifiability(conn, school, division)
    if not rows:
        raise ApiError(404, "class.not_found", f"no active learner in class {division} of {school}")
    assessments = {str(r["learner_id"]): a for r in rows if (a := store.assessment_of_row(r))}
    summary = summarise(((str(r["learner_id"]), r["division"]) for r in rows), assessments)
    students = []
    for row in rows:
        assessment = assessments.get(str(row["learner_id"]))
        students.append(
            {
                "learner_id": str(row["learner_id"]),
                "ine": row["ine"],
                "last_name": row["last_name"],
                "first_name": row["first_name"],
                "status": assessment.status.value if assessment else CertifiabilityStatus.UNKNOWN.value,
                "certifiable_competences": assessment.certifiable_count if assessment else None,
                "competences_needed": assessment.competences_needed if assessment else None,
                "competences_at_level_zero": list(assessment.zero_level_competences) if assessment else [],
                "shared_at": assessment.shared_at if assessment else None,
                "source": row["source"],
            }
        )
    return {"uai": school, "division": division, "counts": _counts(summary.counts), "students": students}


@router.get("/schools/{uai}/certifiability")
async def school_certifiability(uai: str, runtime: Runtime = Depends(get_runtime)) -> dict[str, Any]:
    """The school's counts and the same counts per class."""
    school = _school(uai)
    async with runtime.pool.acquire() as conn:
        rows = await store.school_certifiability(conn, school)
    assessments = {str(r["learner_id"]): a for r in rows if (a := store.assessment_of_row(r))}
    summary = summarise(((str(r["learner_id"]), r["division"]) for r in rows), assessments)
    return {
        "uai": school,
        "counts": _counts(summary.counts),
        "classes": [{"division": c.division, "counts": _counts(c.counts)} for c in summary.classes],
    }


@router.get("/schools/{uai}/learners")
async def school_learners(
    uai: str,
    division: str | None = None,
    include_inactive: bool = False,
    runtime: Runtime = Depends(get_runtime),
) -> dict[str, Any]:
    """The school's learners (active ones unless ``include_inactive``), optionally one class."""
    school = _school(uai)
    async with runtime.pool.acquire() as conn:
        rows = await store.list_learners(conn, school, division, include_inactive)
    learners = [{**dict(row), "learner_id": str(row["learner_id"])} for row in rows]
    return {"uai": school, "count": len(learners), "learners": learners}
