"""Finalisation's refusal codes keep the HTTP statuses clients have always seen."""

import pytest

from services.finalisation.api_common import ERROR_STATUSES
from services.finalisation.app import definition
from shared.errors import status_for


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("auth.bad_password", 401),
        ("auth.missing_token", 401),
        ("auth.invalid_token", 401),
        ("auth.token_expired", 401),
        ("auth.wrong_session", 403),
        ("session.unknown", 404),
        ("candidate.unknown", 404),
        ("session.finalised", 409),
        ("session.expired", 409),
        ("session.cancelled", 409),
        ("candidate.already_started", 409),
        ("candidate.not_authorised", 409),
        ("candidate.test_not_in_progress", 409),
        ("finalisation.no_started_test", 409),
        ("results.session_not_finalised", 409),
        ("results.too_large", 413),
        ("results.empty", 422),
        ("results.unknown_candidates", 422),
        ("finalisation.candidates_unaccounted", 422),
        ("issue_report.unknown_category", 422),
    ],
)
def test_each_code_has_its_status(code, status):
    assert status_for(code, definition.error_statuses) == status


def test_the_service_definition_carries_the_api_table():
    assert definition.error_statuses is ERROR_STATUSES
