"""One exception type for every refusal, so handlers can map `code` to HTTP/event outcomes."""

from __future__ import annotations


class DomainError(Exception):
    """A business rule refused the request.

    `code` is stable and machine-readable (e.g. ``session.outside_window``); `message` is French
    and meant for the school staff; `details` carries the values the message was built from.
    """

    def __init__(self, code: str, message: str, **details: object) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details

    def __repr__(self) -> str:
        return f"DomainError({self.code!r}, {self.message!r})"


class PlanningError(DomainError):
    """No plan exists; `reasons` lists every blocking fact (dated when it is about a date)."""

    def __init__(self, code: str, message: str, reasons: tuple[str, ...] = (), **details: object) -> None:
        super().__init__(code, message, **details)
        self.reasons = reasons
