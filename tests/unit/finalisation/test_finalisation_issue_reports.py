import pytest

from services.finalisation.domain.issue_reports import (
    CODES,
    IssueCategory,
    IssueSubcategory,
    issue_report,
    issue_report_from_code,
)
from shared.errors import DomainError


def code_of(call) -> str:
    with pytest.raises(DomainError) as caught:
        call()
    return caught.value.code


def test_every_code_of_the_pv_d_incident_builds_a_report():
    for (category, subcategory), code in CODES.items():
        number = 3 if code.startswith("E") else None
        report = issue_report_from_code(code, description="décrit", question_number=number)
        assert (report.category, report.subcategory, report.code) == (category, subcategory, code)


@pytest.mark.parametrize(
    ("code", "impactful"),
    [("C1", True), ("C2", False), ("C4", False), ("C6", True), ("C7", False), ("C8", False), ("E1", True)],
)
def test_impactful_reports_are_fraud_in_challenge_and_name_or_birthdate(code, impactful):
    number = 1 if code.startswith("E") else None
    assert issue_report_from_code(code, description="x", question_number=number).is_impactful is impactful


def test_description_required_where_pix_requires_it():
    for category, subcategory in [
        ("CANDIDATE_INFORMATIONS_CHANGES", "NAME_OR_BIRTHDATE"),
        ("SIGNATURE_ISSUE", None),
        ("NON_BLOCKING_TECHNICAL_ISSUE", None),
        ("NON_BLOCKING_CANDIDATE_ISSUE", None),
    ]:
        assert (
            code_of(lambda c=category, s=subcategory: issue_report(c, s))
            == "issue_report.description_required"
        )
        assert code_of(lambda c=category, s=subcategory: issue_report(c, s, description="   ")) == (
            "issue_report.description_required"
        )


def test_fraud_needs_no_description():
    assert issue_report("FRAUD").description is None


@pytest.mark.parametrize("number", [None, 0, 501, -3, True, "4"])
def test_in_challenge_needs_question_number_1_to_500(number):
    assert code_of(lambda: issue_report("IN_CHALLENGE", "IMAGE_NOT_DISPLAYING", question_number=number)) == (
        "issue_report.question_number_invalid"
    )


@pytest.mark.parametrize("number", [1, 500])
def test_question_number_bounds_accepted(number):
    assert issue_report("IN_CHALLENGE", "WEBSITE_BLOCKED", question_number=number).question_number == number


def test_question_number_refused_outside_in_challenge():
    assert (
        code_of(lambda: issue_report("FRAUD", question_number=2)) == "issue_report.question_number_unexpected"
    )


@pytest.mark.parametrize(
    "category", ["TECHNICAL_PROBLEM", "OTHER", "LATE_OR_LEAVING", "CONNECTION_OR_END_SCREEN"]
)
def test_deprecated_categories_rejected(category):
    assert code_of(lambda: issue_report(category, description="x")) == "issue_report.deprecated_category"


@pytest.mark.parametrize("subcategory", ["LINK_NOT_WORKING", "OTHER", "LEFT_EXAM_ROOM"])
def test_deprecated_subcategories_rejected(subcategory):
    assert code_of(lambda: issue_report("IN_CHALLENGE", subcategory, question_number=1)) == (
        "issue_report.deprecated_subcategory"
    )


def test_unknown_category_and_code_rejected():
    assert code_of(lambda: issue_report("LATE")) == "issue_report.unknown_category"
    assert code_of(lambda: issue_report_from_code("C3")) == "issue_report.unknown_category"
    assert code_of(lambda: issue_report_from_code("E6", question_number=1)) == "issue_report.unknown_category"


def test_subcategory_rules():
    assert (
        code_of(lambda: issue_report("IN_CHALLENGE", question_number=1))
        == "issue_report.subcategory_required"
    )
    assert code_of(lambda: issue_report("IN_CHALLENGE", "NAME_OR_BIRTHDATE", question_number=1)) == (
        "issue_report.subcategory_mismatch"
    )
    assert code_of(lambda: issue_report("FRAUD", "SKIP_ON_OOPS")) == "issue_report.subcategory_mismatch"
    assert code_of(lambda: issue_report("IN_CHALLENGE", "NOPE", question_number=1)) == (
        "issue_report.unknown_subcategory"
    )


def test_code_lookup_is_case_and_space_tolerant_and_payload_is_complete():
    report = issue_report_from_code(" e10 ", question_number=12)
    assert report.subcategory is IssueSubcategory.UNINTENTIONAL_FOCUS_OUT
    assert report.category is IssueCategory.IN_CHALLENGE
    assert report.to_payload() == {
        "category": "IN_CHALLENGE",
        "subcategory": "UNINTENTIONAL_FOCUS_OUT",
        "code": "E10",
        "description": None,
        "question_number": 12,
        "is_impactful": True,
    }
