"""Domain errors with machine-readable codes.

Handlers and the API map `code` to HTTP statuses and user messages; tests assert on `code`, never
on the wording, so messages can be reworded (or translated) freely.
"""

from typing import Any


class DomainError(Exception):
    """A business rule refused an action. `code` is stable (e.g. "session.expired")."""

    def __init__(self, code: str, message: str, **details: Any) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.details = details
