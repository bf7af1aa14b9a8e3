"""One refusal type for every service: a stable code, a message for people, the values behind it.

Use cases and domain rules raise ``DomainError`` and never speak HTTP. Each service declares once,
in its ``ServiceDefinition.error_statuses``, which codes are a 404 or a 409; the one exception
handler that ``shared.http`` installs turns a ``DomainError`` into the documented error body with
that status (422 for a code not listed: the request itself is wrong). Tests assert on ``code``,
never on the wording, so messages can be reworded or translated freely.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

#: the status of a code no table names: the request's content is what the rule refused
DEFAULT_STATUS = 422


class DomainError(Exception):
    """A business rule refused an action; ``code`` is stable (e.g. ``session.outside_window``)."""

    def __init__(self, code: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code!r}, {self.message!r})"


def status_for(code: str, statuses: Mapping[str, int]) -> int:
    """The HTTP status of ``code``: listed exactly, else by its prefix (``auth.``), else 422."""
    if code in statuses:
        return statuses[code]
    prefix = code.split(".", 1)[0] + "."
    return statuses.get(prefix, DEFAULT_STATUS)


def statuses(
    *,
    not_found: Iterable[str] = (),
    conflict: Iterable[str] = (),
    other: Mapping[str, int] | None = None,
) -> dict[str, int]:
    """A service's ``{code: status}`` table from its 404 and 409 codes (and any other status)."""
    not_found, conflict = set(not_found), set(conflict)
    if overlap := not_found & conflict:
        raise ValueError(f"codes both 404 and 409: {sorted(overlap)}")
    return {code: 404 for code in not_found} | {code: 409 for code in conflict} | dict(other or {})
