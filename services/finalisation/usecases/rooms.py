"""A session's room inside a unit of work: found, locked, loaded; and the refusal of a cancelled one.

Shared by the invigilator space and finalisation. Finalisation changes the whole room and takes
it whole (``locked_room``); a click changes one seat and takes only that seat (``seat_in_room``).
"""

from __future__ import annotations

from services.finalisation.domain.invigilation import SessionRoom
from services.finalisation.domain.sessions import ScheduledSession
from services.finalisation.usecases.ports import Store
from shared.errors import DomainError


def unknown_session(session_id: str) -> DomainError:
    return DomainError("session.unknown", f"no session {session_id}", session_id=session_id)


async def locked_room(store: Store, session_id: str) -> tuple[ScheduledSession, SessionRoom]:
    """The session under an exclusive row lock (nothing else happens in it meanwhile) and its room."""
    session = await store.session(session_id, lock="exclusive")
    if session is None:
        raise unknown_session(session_id)
    return session, await store.load_room(session)


async def seat_in_room(
    store: Store, session_id: str, candidate_id: str | None
) -> tuple[ScheduledSession, SessionRoom]:
    """What one click needs: the session under a shared lock, its room's state and that one seat.

    The shared lock keeps a finalisation (exclusive) from running in between; clicks on other
    seats do not wait for each other, and only the clicked candidate's row is locked.
    """
    session = await store.session(session_id, lock="shared")
    if session is None:
        raise unknown_session(session_id)
    return session, await store.load_seat(session, candidate_id)


def require_not_cancelled(session: ScheduledSession) -> None:
    if session.is_cancelled:
        raise DomainError(
            "session.cancelled", f"session {session.session_number} was cancelled by the school"
        )
