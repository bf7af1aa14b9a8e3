"""Amending a finalisation: the referent's correction path (domain/amendment.py says what and why).

One unit of work, like the finalisation itself: the room under the session's exclusive lock, the
recorded finalisation under its own, the rules, then the new payload (the replaced one kept) and
SessionFinalisationAmended written together. A refusal changes nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog

from services.finalisation.domain.amendment import NOT_FINALISED, amend_finalisation
from services.finalisation.usecases.finalisation import (
    FinalisationForm,
    finalisation_request,
    session_finalised,
)
from services.finalisation.usecases.ports import Begin
from services.finalisation.usecases.rooms import locked_room
from shared.contracts import events
from shared.errors import DomainError

log = structlog.get_logger(__name__)


async def amend(
    begin: Begin,
    session_id: str,
    form: FinalisationForm,
    *,
    now: datetime,
    window: timedelta,
    by: str | None = None,
) -> events.SessionFinalisationAmended:
    """Replace the session's finalisation by the form given, within the amendment's rules."""
    async with begin() as uow:
        session, room = await locked_room(uow.store, session_id)
        recorded = await uow.store.finalisation(session_id, lock=True)
        if recorded is None:
            raise DomainError(NOT_FINALISED, f"session {session.session_number} is not finalised yet")
        request = finalisation_request(room, form)
        amended = amend_finalisation(
            room,
            recorded.payload["candidates"],
            request,
            now,
            window,
            results_received=await uow.store.has_results(session_id),
        )
        snapshot = session_finalised(session, amended)
        payload = snapshot.model_dump(mode="json")
        amendment = await uow.store.amend_finalisation(session_id, payload, now, by)
        event = events.SessionFinalisationAmended(
            **snapshot.model_dump(), amended_at=now, amendment=amendment, amended_by=by
        )
        await uow.emit(event)
    log.info("finalisation amended", session_id=session_id, amendment=amendment)
    return event
