"""A real finalisation service on a scratch schema, its clock in the test's hands."""

from __future__ import annotations

import pytest

from services.finalisation import handlers
from services.finalisation.app import definition
from shared.clock import ManualClock
from shared.outbox import unit_of_work
from tests.component.finalisation.finalisation_support import SESSION_START, SeededSession, fake_envelope
from tests.support import outbox_events


class Finalisation:
    """The service under test plus what a component test needs around it."""

    def __init__(self, svc) -> None:
        self.svc, self.http, self.pool = svc, svc.http, svc.pool
        self.clock = ManualClock(SESSION_START)
        svc.runtime.clock = self.clock

    @property
    def runtime(self):
        return self.svc.runtime

    async def seed(self, session: SeededSession) -> SeededSession:
        """Apply the scheduler's events through the real handlers (as the consumer would)."""
        async with unit_of_work(self.pool, "finalisation") as uow:
            await handlers.on_session_created(uow, session.created, fake_envelope(session.created))
            await handlers.on_candidates_enrolled(uow, session.enrolled, fake_envelope(session.enrolled))
        return session

    async def raised(self, event_cls) -> list:
        """Events written to the outbox (raised in the same transaction as the state change)."""
        return await outbox_events(self.svc, event_cls)

    async def count(self, table: str) -> int:
        return await self.pool.fetchval(f"SELECT count(*) FROM {table}")


@pytest.fixture
async def finalisation(start_service) -> Finalisation:
    return Finalisation(await start_service(definition))
