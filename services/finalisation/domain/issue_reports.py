"""Pix issue reports ("signalements", pix-domain §5.3): the categories a referent may use today.

Pix rejects deprecated categories when a report is saved, and the jury's attention depends on which
reports are "impactful", so both rules live here rather than in the API layer.
"""

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from shared.errors import DomainError

QUESTION_NUMBER_MIN = 1
QUESTION_NUMBER_MAX = 500


class IssueCategory(StrEnum):
    CANDIDATE_INFORMATIONS_CHANGES = "CANDIDATE_INFORMATIONS_CHANGES"
    SIGNATURE_ISSUE = "SIGNATURE_ISSUE"
    FRAUD = "FRAUD"
    NON_BLOCKING_TECHNICAL_ISSUE = "NON_BLOCKING_TECHNICAL_ISSUE"
    NON_BLOCKING_CANDIDATE_ISSUE = "NON_BLOCKING_CANDIDATE_ISSUE"
    IN_CHALLENGE = "IN_CHALLENGE"


class IssueSubcategory(StrEnum):
    NAME_OR_BIRTHDATE = "NAME_OR_BIRTHDATE"
    EXTRA_TIME_PERCENTAGE = "EXTRA_TIME_PERCENTAGE"
    IMAGE_NOT_DISPLAYING = "IMAGE_NOT_DISPLAYING"
    EMBED_NOT_WORKING = "EMBED_NOT_WORKING"
    FILE_NOT_OPENING = "FILE_NOT_OPENING"
    WEBSITE_UNAVAILABLE = "WEBSITE_UNAVAILABLE"
    WEBSITE_BLOCKED = "WEBSITE_BLOCKED"
    EXTRA_TIME_EXCEEDED = "EXTRA_TIME_EXCEEDED"
    SOFTWARE_NOT_WORKING = "SOFTWARE_NOT_WORKING"
    UNINTENTIONAL_FOCUS_OUT = "UNINTENTIONAL_FOCUS_OUT"
    SKIP_ON_OOPS = "SKIP_ON_OOPS"
    ACCESSIBILITY_ISSUE = "ACCESSIBILITY_ISSUE"


DEPRECATED_CATEGORIES = frozenset(
    {"TECHNICAL_PROBLEM", "OTHER", "LATE_OR_LEAVING", "CONNECTION_OR_END_SCREEN"}
)
DEPRECATED_SUBCATEGORIES = frozenset({"LINK_NOT_WORKING", "OTHER", "LEFT_EXAM_ROOM"})

S = IssueSubcategory
#: Subcategories allowed per category (empty: the category takes none).
SUBCATEGORIES: dict[IssueCategory, tuple[IssueSubcategory, ...]] = {
    IssueCategory.CANDIDATE_INFORMATIONS_CHANGES: (S.NAME_OR_BIRTHDATE, S.EXTRA_TIME_PERCENTAGE),
    IssueCategory.SIGNATURE_ISSUE: (),
    IssueCategory.FRAUD: (),
    IssueCategory.NON_BLOCKING_TECHNICAL_ISSUE: (),
    IssueCategory.NON_BLOCKING_CANDIDATE_ISSUE: (),
    IssueCategory.IN_CHALLENGE: (
        S.IMAGE_NOT_DISPLAYING,
        S.EMBED_NOT_WORKING,
        S.FILE_NOT_OPENING,
        S.WEBSITE_UNAVAILABLE,
        S.WEBSITE_BLOCKED,
        S.EXTRA_TIME_EXCEEDED,
        S.SOFTWARE_NOT_WORKING,
        S.UNINTENTIONAL_FOCUS_OUT,
        S.SKIP_ON_OOPS,
        S.ACCESSIBILITY_ISSUE,
    ),
}

#: The code printed on the paper PV d'incident for each (category, subcategory).
CODES: dict[tuple[IssueCategory, IssueSubcategory | None], str] = {
    (IssueCategory.CANDIDATE_INFORMATIONS_CHANGES, S.NAME_OR_BIRTHDATE): "C1",
    (IssueCategory.CANDIDATE_INFORMATIONS_CHANGES, S.EXTRA_TIME_PERCENTAGE): "C2",
    (IssueCategory.SIGNATURE_ISSUE, None): "C4",
    (IssueCategory.FRAUD, None): "C6",
    (IssueCategory.NON_BLOCKING_TECHNICAL_ISSUE, None): "C7",
    (IssueCategory.NON_BLOCKING_CANDIDATE_ISSUE, None): "C8",
    (IssueCategory.IN_CHALLENGE, S.IMAGE_NOT_DISPLAYING): "E1",
    (IssueCategory.IN_CHALLENGE, S.EMBED_NOT_WORKING): "E2",
    (IssueCategory.IN_CHALLENGE, S.FILE_NOT_OPENING): "E3",
    (IssueCategory.IN_CHALLENGE, S.WEBSITE_UNAVAILABLE): "E4",
    (IssueCategory.IN_CHALLENGE, S.WEBSITE_BLOCKED): "E5",
    (IssueCategory.IN_CHALLENGE, S.EXTRA_TIME_EXCEEDED): "E8",
    (IssueCategory.IN_CHALLENGE, S.SOFTWARE_NOT_WORKING): "E9",
    (IssueCategory.IN_CHALLENGE, S.UNINTENTIONAL_FOCUS_OUT): "E10",
    (IssueCategory.IN_CHALLENGE, S.SKIP_ON_OOPS): "E11",
    (IssueCategory.IN_CHALLENGE, S.ACCESSIBILITY_ISSUE): "E12",
}
_BY_CODE = {code: key for key, code in CODES.items()}

_NEEDS_DESCRIPTION = frozenset(
    {
        IssueCategory.CANDIDATE_INFORMATIONS_CHANGES,
        IssueCategory.SIGNATURE_ISSUE,
        IssueCategory.NON_BLOCKING_TECHNICAL_ISSUE,
        IssueCategory.NON_BLOCKING_CANDIDATE_ISSUE,
    }
)
_NEEDS_QUESTION_NUMBER = frozenset({IssueCategory.IN_CHALLENGE})
#: About one candidate's identity, extra time or signature: meaningless for the whole room.
_ABOUT_ONE_CANDIDATE = frozenset(
    {IssueCategory.CANDIDATE_INFORMATIONS_CHANGES, IssueCategory.SIGNATURE_ISSUE}
)


@dataclass(frozen=True, slots=True)
class IssueReport:
    """One validated signalement. Build it with `issue_report(...)` or `issue_report_from_code(...)`."""

    category: IssueCategory
    subcategory: IssueSubcategory | None
    description: str | None = None
    question_number: int | None = None

    @property
    def code(self) -> str:
        return CODES[(self.category, self.subcategory)]

    @property
    def is_impactful(self) -> bool:
        """Needs a jury decision (pix-domain §5.3): fraud, any in-challenge problem, name/birthdate change."""
        return (
            self.category in (IssueCategory.FRAUD, IssueCategory.IN_CHALLENGE)
            or self.subcategory == IssueSubcategory.NAME_OR_BIRTHDATE
        )

    def to_payload(self) -> dict[str, Any]:
        return {
            "category": self.category.value,
            "subcategory": self.subcategory.value if self.subcategory else None,
            "code": self.code,
            "description": self.description,
            "question_number": self.question_number,
            "is_impactful": self.is_impactful,
        }


def require_room_level(report: IssueReport) -> None:
    """A report written for the whole room must not be one that can only be about one candidate."""
    if report.category in _ABOUT_ONE_CANDIDATE:
        raise DomainError(
            "issue_report.candidate_required",
            f"{report.code} ({report.category}) is about one candidate: say which",
            issue_code=report.code,
        )


def issue_report(
    category: str,
    subcategory: str | None = None,
    *,
    description: str | None = None,
    question_number: int | None = None,
) -> IssueReport:
    """Validate a report given by Pix category/subcategory names; raises DomainError `issue_report.*`."""
    if category in DEPRECATED_CATEGORIES:
        raise DomainError("issue_report.deprecated_category", f"category {category} is no longer accepted")
    try:
        cat = IssueCategory(category)
    except ValueError:
        raise DomainError("issue_report.unknown_category", f"unknown category {category!r}") from None
    sub: IssueSubcategory | None = None
    if subcategory is not None:
        if subcategory in DEPRECATED_SUBCATEGORIES:
            raise DomainError(
                "issue_report.deprecated_subcategory", f"subcategory {subcategory} is no longer accepted"
            )
        try:
            sub = IssueSubcategory(subcategory)
        except ValueError:
            raise DomainError(
                "issue_report.unknown_subcategory", f"unknown subcategory {subcategory!r}"
            ) from None
        if sub not in SUBCATEGORIES[cat]:
            raise DomainError(
                "issue_report.subcategory_mismatch", f"subcategory {sub} does not belong to {cat}"
            )
    elif SUBCATEGORIES[cat]:
        raise DomainError("issue_report.subcategory_required", f"category {cat} needs a subcategory")

    text = description.strip() if description is not None else None
    text = text or None
    if cat in _NEEDS_DESCRIPTION and text is None:
        raise DomainError("issue_report.description_required", f"category {cat} needs a description")

    if cat in _NEEDS_QUESTION_NUMBER:
        if (
            not isinstance(question_number, int)
            or isinstance(question_number, bool)
            or not QUESTION_NUMBER_MIN <= question_number <= QUESTION_NUMBER_MAX
        ):
            raise DomainError(
                "issue_report.question_number_invalid",
                f"category {cat} needs a question number between {QUESTION_NUMBER_MIN} and {QUESTION_NUMBER_MAX}",
                question_number=question_number,
            )
    elif question_number is not None:
        raise DomainError(
            "issue_report.question_number_unexpected", f"category {cat} does not take a question number"
        )
    return IssueReport(cat, sub, text, question_number)


def issue_report_from_code(
    code: str, *, description: str | None = None, question_number: int | None = None
) -> IssueReport:
    """Validate a report given by its PV d'incident code ("C1", "E4", …) as written on paper."""
    key = _BY_CODE.get(code.strip().upper())
    if key is None:
        raise DomainError("issue_report.unknown_category", f"unknown issue report code {code!r}")
    category, subcategory = key
    return issue_report(
        category.value,
        subcategory.value if subcategory else None,
        description=description,
        question_number=question_number,
    )
