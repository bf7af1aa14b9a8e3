"""What the school's staff read after the day: the room as recorded live, and the finalisation.

Read only, no lock, whatever the state of the invigilator space (closed 24 h after the first start
or at finalisation): the referent often finalises a day or two later and needs what was recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from services.finalisation.domain.amendment import NOT_FINALISED, amendable_until
from services.finalisation.domain.sessions import RecordedFinalisation
from services.finalisation.usecases.invigilation import RoomSnapshot
from services.finalisation.usecases.ports import ReadOnly
from services.finalisation.usecases.rooms import unknown_session
from shared.errors import DomainError


async def read_room(read: ReadOnly, session_id: str) -> RoomSnapshot:
    """The session's seats and what the invigilator recorded, before and after finalisation."""
    async with read() as store:
        session = await store.session(session_id)
        if session is None:
            raise unknown_session(session_id)
        return RoomSnapshot(session, await store.load_room(session))


@dataclass(frozen=True, slots=True)
class FinalisationReadBack:
    """The finalisation as it stands, who made it and when, and whether it may still be amended."""

    recorded: RecordedFinalisation
    results_received: bool
    amendable_until: datetime

    def is_amendable(self, now: datetime) -> bool:
        return not self.results_received and now <= self.amendable_until


async def read_finalisation(read: ReadOnly, session_id: str, *, window: timedelta) -> FinalisationReadBack:
    async with read() as store:
        if await store.session(session_id) is None:
            raise unknown_session(session_id)
        recorded = await store.finalisation(session_id)
        if recorded is None:
            raise DomainError(
                NOT_FINALISED, f"session {session_id} is not finalised yet", session_id=session_id
            )
        received = await store.has_results(session_id)
    return FinalisationReadBack(recorded, received, amendable_until(recorded.finalised_at, window))
