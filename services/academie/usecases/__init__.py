"""The académie view's use cases, by area:

* ``read_model`` — apply runs of the other services' events to the read model (the handlers);
* ``views`` — what the operator's page reads: the schools' cards (filtered, paged, as CSV), the
  overdue finalisations, the académie-wide summary.

Each use case takes its dependencies explicitly: a ``Work`` (the store of one transaction and its
outbox, for the handlers, which run in the consumer's unit of work) or a ``begin`` factory of them
(for the reads). None sees HTTP: a refusal is a ``shared.errors.DomainError``, whose status the
API's table gives. The composition is done by services/academie/app.py, handlers.py and api.py.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from services.academie.store import AcademieStore


class Work(Protocol):
    """One transaction: the store it reads and writes."""

    @property
    def store(self) -> AcademieStore: ...


#: opens a unit of work; it commits when the ``async with`` block ends without an exception
BeginWork = Callable[[], AbstractAsyncContextManager[Work]]
