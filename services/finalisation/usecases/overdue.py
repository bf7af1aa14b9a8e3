"""Overdue finalisation: chase sessions still not finalised N days after they took place.

``check_overdue`` is one tick of the job (``app.overdue_job`` runs it every
``FINALISATION_OVERDUE_CHECK_SECONDS``; tests call it with the time they choose). The notice
table makes the event fire once per session, even with several replicas ticking at the same time.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

import structlog

from services.finalisation.domain.overdue import SCHOOL_TIMEZONE, finalisation_due_at, is_finalisation_overdue
from services.finalisation.usecases.ports import Begin
from shared.contracts.events import SessionFinalisationOverdue

log = structlog.get_logger(__name__)


async def check_overdue(begin: Begin, *, now: datetime, days: int) -> list[str]:
    """Raise SessionFinalisationOverdue for each newly overdue session; return their ids."""
    last_date = now.astimezone(SCHOOL_TIMEZONE).date() - timedelta(days=days)
    raised: list[str] = []
    async with begin() as uow:
        sessions = await uow.store.unfinalised_sessions_up_to(last_date)
    for session in sessions:
        start = time.fromisoformat(session.session_time)
        if not is_finalisation_overdue(
            session.session_date, now, finalised_at=None, session_time=start, days=days
        ):
            continue
        due_at = finalisation_due_at(session.session_date, start, days=days)
        async with begin() as uow:
            if await uow.store.finalisation(session.session_id) is not None:
                continue  # finalised since the query
            if not await uow.store.insert_overdue_notice(session.session_id, due_at, now):
                continue
            await uow.emit(
                SessionFinalisationOverdue(
                    session_id=session.session_id,
                    uai=session.uai,
                    session_date=session.session_date,
                    due_at=due_at,
                    detected_at=now,
                )
            )
        raised.append(session.session_id)
    if raised:
        log.info("overdue finalisations reported", count=len(raised))
    return raised
