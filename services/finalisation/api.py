"""HTTP API: invigilator space, session finalisation, results intake.

The invigilator logs in with the session number and password and gets a short-lived token for that
session only. Finalisation is the referent's form (pix-domain §5.2). Results come as Pix's own files:
the class results CSV or the livret scolaire JSON, as a raw body or a multipart upload.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from pydantic import BaseModel, Field, StrictBool

from services.finalisation import commands, intake
from services.finalisation.domain.errors import DomainError
from services.finalisation.domain.finalisation import CandidateReport
from services.finalisation.domain.issue_reports import IssueReport, issue_report, issue_report_from_code
from services.finalisation.errors import to_api_error
from services.finalisation.tokens import TokenError, read_token
from shared.http import ApiError, school_api_router
from shared.service import Runtime, get_runtime

router = APIRouter()
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


# ---- invigilator space ------------------------------------------------------------------------


class LoginRequest(BaseModel):
    session_number: int = Field(ge=1)
    password: str = Field(min_length=1, max_length=64, description='as printed, "C-" prefix optional')


def invigilated_session(
    session_id: str, runtime: RuntimeDep, authorization: Annotated[str | None, Header()] = None
) -> str:
    """The path's session, if the Bearer token was issued for it."""
    if not authorization or not authorization.lower().startswith("bearer "):
        raise ApiError(401, "auth.missing_token", "log in to the invigilator space first")
    try:
        token = read_token(
            runtime.settings.invigilator_token_secret, authorization[7:].strip(), runtime.clock.now()
        )
    except TokenError as error:
        raise ApiError(401, error.code, error.message) from None
    if token.session_id != session_id:
        raise ApiError(403, "auth.wrong_session", "this token opens another session")
    return session_id


Invigilated = Annotated[str, Depends(invigilated_session)]


@router.post("/invigilator/login", tags=["invigilator"])
async def login(body: LoginRequest, runtime: RuntimeDep) -> dict[str, Any]:
    """Session number + password → a token to send as ``Authorization: Bearer …``."""
    return await commands.log_in(runtime, body.session_number, body.password)


@router.get("/invigilator/sessions/{session_id}", tags=["invigilator"])
async def show_session(session_id: Invigilated, runtime: RuntimeDep) -> dict[str, Any]:
    return await commands.show_room(runtime, session_id)


def _seat_route(path: str, method: str, command: commands.SeatCommand, doc: str) -> None:
    async def route(session_id: Invigilated, candidate_id: str, runtime: RuntimeDep) -> dict[str, Any]:
        return await commands.run_seat_command(runtime, session_id, candidate_id, command)

    route.__doc__ = doc
    route.__name__ = f"{method.lower()}_{path.rsplit('/', 1)[-1]}"
    router.add_api_route(
        f"/invigilator/sessions/{{session_id}}/candidates/{{candidate_id}}/{path}",
        route,
        methods=[method],
        tags=["invigilator"],
    )


_seat_route("presence", "POST", lambda r, c, now: r.confirm_presence(c, now), "Confirm presence.")
_seat_route("presence", "DELETE", lambda r, c, now: r.cancel_presence(c, now), "Cancel the confirmation.")
_seat_route("start", "POST", lambda r, c, now: r.start_test(c, now), "The candidate started on mon-pix.")
_seat_route("resume", "POST", lambda r, c, now: r.authorise_resume(c, now), "Authorise a resume.")
_seat_route("end", "POST", lambda r, c, now: r.end_test(c, now), "End the candidate's test.")
_seat_route("complete", "POST", lambda r, c, now: r.complete_test(c, now), "The candidate finished.")


class IssueReportIn(BaseModel):
    """A signalement by Pix category (+ subcategory) or by its PV d'incident code (C1…C8, E1…E12)."""

    category: str | None = None
    subcategory: str | None = None
    code: str | None = None
    description: str | None = Field(default=None, max_length=2000)
    question_number: int | None = None

    def to_domain(self) -> IssueReport:
        if self.category is not None:
            report = issue_report(
                self.category,
                self.subcategory,
                description=self.description,
                question_number=self.question_number,
            )
            if self.code is not None and self.code.strip().upper() != report.code:
                raise DomainError(
                    "issue_report.code_mismatch",
                    f"code {self.code} is not the code of {report.category}/{report.subcategory} ({report.code})",
                )
            return report
        if self.code is not None:
            return issue_report_from_code(
                self.code, description=self.description, question_number=self.question_number
            )
        raise DomainError("issue_report.unknown_category", "give a category or a code")


class IncidentIn(IssueReportIn):
    candidate_id: str | None = Field(default=None, description="None: the whole room")


@router.post("/invigilator/sessions/{session_id}/incidents", status_code=201, tags=["invigilator"])
async def record_incident(session_id: Invigilated, body: IncidentIn, runtime: RuntimeDep) -> dict[str, Any]:
    """Write an incident down as it happens (the digital PV d'incident)."""
    try:
        report = body.to_domain()
    except DomainError as error:
        raise to_api_error(error) from None
    return await commands.record_incident(runtime, session_id, body.candidate_id, report)


# ---- school and Pix side: finalisation, results intake -----------------------------------------


#: what the académie's portal or gateway (and the Pix side) calls: API_TOKEN or FINALISATION_API_TOKEN
portal = school_api_router()


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


@portal.put("/sessions/{session_id}/finalisation", tags=["finalisation"])
async def finalise(session_id: str, body: FinalisationIn, runtime: RuntimeDep) -> dict[str, Any]:
    """Finalise the session; raises SessionFinalised (returned as the response body)."""
    try:
        reports = [
            CandidateReport(
                r.candidate_id,
                r.present,
                r.abort_reason,
                tuple(i.to_domain() for i in r.issue_reports or ()),
            )
            for r in body.candidate_reports
        ]
        session_incidents = tuple(i.to_domain() for i in body.session_incidents)
    except DomainError as error:
        raise to_api_error(error) from None
    event = await commands.finalise(
        runtime,
        session_id,
        reports=reports,
        reports_without_issues={r.candidate_id for r in body.candidate_reports if r.issue_reports is None},
        has_incident=body.has_incident,
        has_joining_issue=body.has_joining_issue,
        examiner_global_comment=body.examiner_global_comment,
        session_incidents=session_incidents,
    )
    return event.model_dump(mode="json")


# ---- results intake ---------------------------------------------------------------------------


async def _results_file(request: Request, max_bytes: int) -> tuple[bytes, str, str | None]:
    """(bytes, file name, content type) from a raw body or the first file of a multipart form."""
    content_type = request.headers.get("content-type")
    file_name = request.headers.get("x-file-name")
    if content_type and content_type.lower().startswith("multipart/form-data"):
        form = await request.form()
        uploads = [v for v in form.values() if hasattr(v, "read")]
        if not uploads:
            raise ApiError(422, "results.no_file", "the form carries no file")
        upload = uploads[0]
        data = await upload.read()  # type: ignore[union-attr]
        file_name = upload.filename or file_name  # type: ignore[union-attr]
        content_type = upload.content_type  # type: ignore[union-attr]
    else:
        data = await request.body()
    if not data.strip():
        raise ApiError(422, "results.empty", "the results file is empty")
    if len(data) > max_bytes:
        raise ApiError(413, "results.too_large", f"at most {max_bytes} bytes", size=len(data))
    return data, file_name or "results", content_type


@portal.post("/sessions/{session_id}/results", tags=["results"])
async def session_results(session_id: str, request: Request, runtime: RuntimeDep) -> dict[str, Any]:
    """A class results CSV or livret JSON for one finalised session (rows of others are unmatched)."""
    data, file_name, content_type = await _results_file(request, runtime.settings.results_max_bytes)
    return await intake.import_results(
        runtime, data, file_name=file_name, content_type=content_type, session_id=session_id
    )


@portal.post("/results", tags=["results"])
async def results(
    request: Request,
    runtime: RuntimeDep,
    uai: Annotated[str | None, Query(description="only this school's sessions")] = None,
) -> dict[str, Any]:
    """A results file covering several sessions (e.g. a school's livret JSON), split by matching."""
    data, file_name, content_type = await _results_file(request, runtime.settings.results_max_bytes)
    return await intake.import_results(runtime, data, file_name=file_name, content_type=content_type, uai=uai)


router.include_router(portal)
