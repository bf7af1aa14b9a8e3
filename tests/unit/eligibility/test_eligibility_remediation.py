from datetime import date

import pytest

from services.eligibility.domain.certifiability import CertifiabilityStatus, assess_levels, unknown
from services.eligibility.domain.remediation import check_due_date, is_check_due, remediation_requests
from shared.contracts.referential import COMPETENCE_IDS

SESSION = date(2026, 2, 10)


def test_due_date_defaults_to_thirty_days_and_is_configurable():
    assert check_due_date(SESSION) == date(2026, 1, 11)
    assert check_due_date(SESSION, lead_days=45) == date(2025, 12, 27)
    assert check_due_date(SESSION, lead_days=0) == SESSION
    with pytest.raises(ValueError):
        check_due_date(SESSION, lead_days=-1)


def test_check_is_due_between_due_date_and_session():
    assert not is_check_due(date(2026, 1, 10), SESSION)
    assert is_check_due(date(2026, 1, 11), SESSION)
    assert is_check_due(SESSION, SESSION)
    assert not is_check_due(date(2026, 2, 11), SESSION)


def test_requests_for_not_certifiable_and_unknown_students_only():
    three = dict.fromkeys(COMPETENCE_IDS, 0) | {"1.1": 2, "2.1": 1, "3.4": 1}
    assessments = {
        "ok": assess_levels("ok", dict.fromkeys(COMPETENCE_IDS, 1)),
        "low": assess_levels("low", three),
        "silent": unknown("silent"),
    }
    requests = remediation_requests("S1", SESSION, ["ok", "low", "silent", "not-assessed"], assessments)
    assert [(r.learner_id, r.status) for r in requests] == [
        ("low", CertifiabilityStatus.NOT_CERTIFIABLE),
        ("silent", CertifiabilityStatus.UNKNOWN),
        ("not-assessed", CertifiabilityStatus.UNKNOWN),
    ]
    low = requests[0]
    assert (low.competences_certifiable, low.competences_missing) == (3, 2)
    assert low.zero_level_competences == tuple(c for c in COMPETENCE_IDS if c not in {"1.1", "2.1", "3.4"})
    assert (low.session_id, low.session_date, low.due_date) == ("S1", SESSION, date(2026, 1, 11))
    silent = requests[1]
    assert (silent.competences_certifiable, silent.competences_missing, silent.zero_level_competences) == (
        None,
        None,
        (),
    )
