"""SQL of the finalisation schema: read models from the scheduler, the room, finalisations, results.

Nothing in finalisation's store returns a database row: ``FinalisationStore``
answers in the domain's values (``ScheduledSession``, ``SessionRoom``, ``RecordedFinalisation``) on
the connection of the caller's transaction. ``begin`` opens the unit of work the use cases run in
(the store plus the outbox of the same transaction), ``read_only`` a consistent snapshot for reads.
A click loads and writes one seat (``load_seat`` / ``save_seat``) under a shared lock on the
session, so clicks on different seats run side by side; finalisation takes the session exclusively
and the whole room (``load_room`` / ``save_room``). The scheduler's events are applied one at a time
(``upsert_session``, ``upsert_candidates``, …: the reference) or a run at a time with one set-based
statement each (``upsert_sessions``, ``enrol_candidates``, …: what the consumer runs), both through
the same conflict rules (``_SESSION_UPSERT``, ``_CANDIDATE_UPSERT``).

The table groups are mixed into ``FinalisationStore`` from ``store_<purpose>.py`` beside it: the
read models (store_sessions.py), the room (store_room.py), login attempts
(store_login_attempts.py), finalisations, their amendments and overdue notices
(store_finalisations.py), results (store_results.py), the results rows left without a candidate
(store_unmatched.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from services.finalisation.store_finalisations import FinalisationQueries
from services.finalisation.store_login_attempts import LoginAttemptQueries
from services.finalisation.store_results import ResultQueries
from services.finalisation.store_room import RoomQueries
from services.finalisation.store_sessions import SessionQueries
from services.finalisation.store_unmatched import UnmatchedQueries
from shared import usecases as shared_usecases
from shared.outbox import unit_of_work

#: one transaction: the store on its connection, and its outbox (shared/usecases.py)
SqlUnitOfWork = shared_usecases.StoreWork["FinalisationStore"]


@asynccontextmanager
async def begin(pool: asyncpg.Pool, service: str) -> AsyncIterator[SqlUnitOfWork]:
    """A unit of work: commits when the block ends without error, rolls back otherwise."""
    async with unit_of_work(pool, service) as outbox:
        yield shared_usecases.StoreWork(outbox, FinalisationStore(outbox.conn))


@asynccontextmanager
async def read_only(pool: asyncpg.Pool) -> AsyncIterator[FinalisationStore]:
    """A consistent read-only snapshot (repeatable read), taking no row lock."""
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        yield FinalisationStore(conn)


class FinalisationStore(
    SessionQueries, RoomQueries, LoginAttemptQueries, FinalisationQueries, ResultQueries, UnmatchedQueries
):
    """Finalisation's tables on one connection (usually a unit of work's); each group's queries are in
    its store_<purpose>.py."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn
