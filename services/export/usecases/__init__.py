"""Export's use cases: what events, schools and the LSU/LSL clients ask of the service, by area.

* ``rebuild`` — bring a school's files (livret, class CSVs, attestation PDFs) up to date with the
  read model: after results (the classes they touched), for schools whose roster moved, on demand;
* ``exports`` — what a school reads: its files as produced, the exports log, a class's readiness;
* ``livret`` — the livret scolaire API: OAuth client credentials, tokens, the school's livret.

Each use case is a function taking its dependencies explicitly: a ``begin`` factory of units of
work (``Work``: the store of one transaction and its outbox) or a store for plain reads, the output
directory, the time (``now``) and the settings values it needs. None sees HTTP: refusals are
``shared.errors.DomainError`` with stable codes, which the API's table turns into statuses. The
composition is done by services/export/app.py, handlers.py and api.py;
tests/unit/export/fakes.py gives an in-memory ``Work`` for the use-case tests.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from services.export.store import ExportStore
from shared.contracts.events import Event


class Work(Protocol):
    """One transaction: the store it reads and writes, and the outbox its events go to."""

    @property
    def store(self) -> ExportStore: ...

    async def emit_many(self, events: Sequence[Event]) -> None: ...


#: opens a unit of work; it commits when the ``async with`` block ends without an exception
BeginWork = Callable[[], AbstractAsyncContextManager[Work]]
