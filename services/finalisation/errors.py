"""Domain refusals as HTTP answers: one status per kind of refusal, the domain's code kept as is."""

from __future__ import annotations

from fastapi.encoders import jsonable_encoder

from services.finalisation.domain.errors import DomainError
from shared.http import ApiError

#: Refusals caused by the state of the session or test, not by the request's content.
CONFLICTS = frozenset(
    {
        "session.finalised",
        "session.expired",
        "session.cancelled",
        "candidate.already_started",
        "candidate.not_authorised",
        "candidate.test_not_in_progress",
        "finalisation.no_started_test",
        "results.session_not_finalised",
    }
)
NOT_FOUND = frozenset({"candidate.unknown", "session.unknown"})


def status_of(code: str) -> int:
    if code.startswith("auth."):
        return 401
    if code in NOT_FOUND:
        return 404
    if code in CONFLICTS:
        return 409
    return 422


def to_api_error(error: DomainError) -> ApiError:
    details = jsonable_encoder(error.details)
    return ApiError(status_of(error.code), error.code, error.message, **details)
