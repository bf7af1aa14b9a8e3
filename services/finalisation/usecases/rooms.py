"""A session's room inside a unit of work: found, locked, loaded; and the refusal of a cancelled one.

Shared by the invigilator space and finalisation, which both change the room of one session.
"""

from __future__ import annotations

from services.finalisation.domain.invigilation import SessionRoom
from services.finalisation.domain.sessions import ScheduledSession
from services.finalisation.usecases.ports import Store
from shared.errors import DomainError


def unknown_session(session_id: str) -> DomainError:
    return DomainError("session.unknown", f"no session {session_id}", session_id=session_id)


async def locked_room(store: Store, session_id: str) -> tuple[ScheduledSession, SessionRoom]:
    """The session under a row lock (one command at a time per session) and its room."""
    session = await store.session(session_id, lock=True)
    if session is None:
        raise unknown_session(session_id)
    return session, await store.load_room(session)


def require_not_cancelled(session: ScheduledSession) -> None:
    if session.is_cancelled:
        raise DomainError(
            "session.cancelled", f"session {session.session_number} was cancelled by the school"
        )
