"""How every import refuses a file: whole, with every problem as ``{file, line, column, rule, message}``.

The roster and campaign imports (eligibility) and the Pix Certif sessions file (scheduler) answer
the same ``DomainError`` shape, so a school reads one kind of error list whatever it sent: the
file, the line (1-based, the header is line 1; None for the whole file), the column or field, a
stable rule code and a French message for the staff who fix the file. Nothing of a refused file
is stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from shared.errors import DomainError


class Issue(Protocol):
    """One broken rule of a file (``FileIssue`` is one; a caller may bring its own)."""

    file_name: str
    line: int | None
    column: str | None
    rule: Any
    message: str


@dataclass(frozen=True, slots=True)
class FileIssue:
    """One broken rule; ``rule`` is a stable code such as ``cell.required``."""

    file_name: str
    line: int | None
    column: str | None
    rule: str
    message: str

    def __str__(self) -> str:
        where = self.file_name
        if self.line is not None:
            where += f":{self.line}"
        if self.column:
            where += f" [{self.column}]"
        return f"{where}: {self.rule} — {self.message}"


class FileIssues:
    """Collects the issues of one file, so a reader keeps going and reports everything at once."""

    __slots__ = ("file_name", "issues")

    def __init__(self, file_name: str) -> None:
        self.file_name = file_name
        self.issues: list[FileIssue] = []

    def add(self, line: int | None, column: str | None, rule: str, message: str) -> None:
        """``rule``: a code, or a StrEnum of codes (kept as given: it compares and renders as its code)."""
        self.issues.append(FileIssue(self.file_name, line, column, rule, message))

    def __bool__(self) -> bool:
        return bool(self.issues)


def issue_json(issue: Issue) -> dict[str, Any]:
    return {
        "file": issue.file_name,
        "line": issue.line,
        "column": issue.column,
        "rule": str(issue.rule),
        "message": issue.message,
    }


def file_rejection(code: str, file_name: str, issues: Sequence[Issue]) -> DomainError:
    """The refusal of a whole file (``code`` such as ``roster.rejected``), with each of its issues."""
    return DomainError(
        code,
        f"{file_name} refusé : {len(issues)} erreur(s), rien n'a été importé.",
        file=file_name,
        errors=[issue_json(i) for i in issues],
    )
