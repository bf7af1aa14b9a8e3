"""The scheduler's refusals: the one ``shared.errors.DomainError``, plus the planner's own kind.

Every rule raises ``DomainError(code, message, **details)``; the service's ``{code: status}``
table (app.py) decides what HTTP makes of a code, so no rule here knows about statuses.
"""

from __future__ import annotations

from shared.errors import DomainError

__all__ = ["DomainError", "PlanningError"]


class PlanningError(DomainError):
    """No plan exists; `reasons` lists every blocking fact (dated when it is about a date)."""

    def __init__(self, code: str, message: str, reasons: tuple[str, ...] = (), **details: object) -> None:
        super().__init__(code, message, **details)
        self.reasons = reasons
