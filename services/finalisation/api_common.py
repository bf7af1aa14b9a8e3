"""What the finalisation service's routes share: the refusal statuses, the use cases' dependencies,
the session a route names, and the issue report as the invigilator space and the finalisation form
both take it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from pydantic import BaseModel, Field

from services.finalisation.domain.issue_reports import IssueReport, issue_report, issue_report_from_code
from services.finalisation.domain.login_limits import TOO_MANY_ATTEMPTS
from services.finalisation.store import FinalisationStore
from services.finalisation.usecases.ports import Dependencies
from shared.errors import DomainError, statuses
from shared.http import principal_of
from shared.service import runtime_of

#: the HTTP status of each refusal code (others: 422, the request's content was refused)
ERROR_STATUSES = statuses(
    not_found={"candidate.unknown", "session.unknown", "finalisation.unknown", "results.row_unknown"},
    conflict={
        # refusals caused by the state of the session or test, not by the request's content
        "session.finalised",
        "session.expired",
        "session.cancelled",
        "candidate.already_started",
        "candidate.not_authorised",
        "candidate.test_not_in_progress",
        "finalisation.no_started_test",
        "results.session_not_finalised",
        "finalisation.amendment_too_late",
        "finalisation.results_received",
        "results.row_already_assigned",
        "results.candidate_has_result",
    },
    other={
        "auth.": 401,
        "auth.wrong_session": 403,
        TOO_MANY_ATTEMPTS: 429,
        "results.too_large": 413,
    },
)
#: where ``app.wire`` puts the use cases' dependencies on the runtime
DEPENDENCIES = "finalisation.dependencies"


async def use_case_dependencies(request: Request) -> Dependencies:
    """The use cases' dependencies (``async``, like every dependency of these routes: FastAPI runs a
    plain ``def`` dependency in a worker thread, a thread hop per request that was ≈ 16 % of a click)."""
    return runtime_of(request).state[DEPENDENCIES]


Deps = Annotated[Dependencies, Depends(use_case_dependencies)]


async def school_of_session(request: Request, session_id: str) -> str | None:
    """The UAI of the session a route names (None: this service does not know it → 404)."""
    async with runtime_of(request).pool.acquire() as conn:
        return await FinalisationStore(conn).school_of_session(session_id)


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


async def caller_subject(request: Request) -> str | None:
    """Who is calling, as recorded: the token's subject (None when the API runs open)."""
    principal = principal_of(request)
    return principal.subject if principal is not None else None


Caller = Annotated[str | None, Depends(caller_subject)]
