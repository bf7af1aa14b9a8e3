"""Eligibility's use cases: what a school or the clock asks of the service, one module per area.

* ``rosters`` — import a roster (Pix Orga learner CSV or SIECLE XML);
* ``campaigns`` — import a profile-collection campaign export, recompute certifiability;
* ``queries`` — the certifiability dashboards and the learner list;
* ``one_month_check`` — at a session's due date, ask remediation for its students not yet certifiable;
* ``files`` — what every import does with a refused file.

Each use case is a function taking its dependencies explicitly: a ``begin`` factory of units of
work (``Work``: the store of one transaction and its outbox), or a store for plain reads, the time
(``now``) and the settings values it needs. None sees HTTP: refusals are
``shared.errors.DomainError`` with stable codes, which the API's table turns into statuses. The
composition (which store, which clock) is done by services/eligibility/app.py, handlers.py and api.py;
tests/unit/eligibility/fakes.py gives an in-memory ``Work`` for the use-case tests.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from services.eligibility.store import EligibilityStore
from shared.contracts.events import Event


class Work(Protocol):
    """One transaction: the store it reads and writes, and the outbox its events go to."""

    @property
    def store(self) -> EligibilityStore: ...

    async def emit(self, event: Event) -> None: ...

    async def emit_many(self, events: Sequence[Event]) -> None: ...


#: opens a unit of work; it commits when the ``async with`` block ends without an exception
BeginWork = Callable[[], AbstractAsyncContextManager[Work]]
