"""What every import does with a file it refuses: refuse it whole, every issue listed.

A refused file answers one ``DomainError`` (``roster.rejected``, ``campaign_export.rejected``) whose
details name the file and every broken rule as ``{file, line, column, rule, message}``; nothing of
it is stored. A file over the size limit is refused the same way before anything parses it.
"""

from __future__ import annotations

from collections.abc import Sequence

from services.eligibility.domain.issues import ImportIssue, IssueCollector, Rule
from shared.errors import DomainError
from shared.file_issues import file_rejection


def rejection(code: str, file_name: str, issues: Sequence[ImportIssue]) -> DomainError:
    """The refusal of a whole file, with each of its issues (the shape every import answers)."""
    return file_rejection(code, file_name, issues)


def refuse_if_too_large(code: str, file_name: str, data: bytes, max_bytes: int) -> None:
    """Raise the refusal of a file longer than ``max_bytes`` (callers read at most one byte more)."""
    if len(data) <= max_bytes:
        return
    issues = IssueCollector(file_name)
    issues.add(
        None,
        None,
        Rule.FILE_TOO_LARGE,
        f"Fichier de plus de {max_bytes / 1_048_576:.0f} Mo : c'est la limite.",
    )
    raise rejection(code, file_name, issues.issues)
