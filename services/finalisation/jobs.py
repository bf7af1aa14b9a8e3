"""Overdue finalisation: chase sessions still not finalised N days after they took place.

``check_overdue`` is one tick (tests call it with a manual clock); ``overdue_job`` runs it every
``FINALISATION_OVERDUE_CHECK_SECONDS``. The notice table makes the event fire once per session,
even with several replicas ticking at the same time.
"""

from __future__ import annotations

import asyncio
from datetime import time, timedelta

import structlog

from services.finalisation import store
from services.finalisation.domain.overdue import SCHOOL_TIMEZONE, finalisation_due_at, is_finalisation_overdue
from shared.contracts.events import SessionFinalisationOverdue
from shared.service import Runtime

log = structlog.get_logger(__name__)


async def check_overdue(runtime: Runtime) -> list[str]:
    """Raise SessionFinalisationOverdue for each newly overdue session; return their ids."""
    now = runtime.clock.now()
    days = runtime.settings.finalisation_overdue_days
    last_date = now.astimezone(SCHOOL_TIMEZONE).date() - timedelta(days=days)
    raised: list[str] = []
    async with runtime.pool.acquire() as conn:
        rows = await store.unfinalised_sessions_up_to(conn, last_date)
    for row in rows:
        start = time.fromisoformat(row["session_time"])
        if not is_finalisation_overdue(
            row["session_date"], now, finalised_at=None, session_time=start, days=days
        ):
            continue
        due_at = finalisation_due_at(row["session_date"], start, days=days)
        async with runtime.unit_of_work() as uow:
            if await store.finalisation(uow.conn, row["session_id"]) is not None:
                continue  # finalised since the query
            if not await store.insert_overdue_notice(uow.conn, row["session_id"], due_at, now):
                continue
            await uow.emit(
                SessionFinalisationOverdue(
                    session_id=row["session_id"],
                    uai=row["uai"],
                    session_date=row["session_date"],
                    due_at=due_at,
                    detected_at=now,
                )
            )
        raised.append(row["session_id"])
    if raised:
        log.info("overdue finalisations reported", count=len(raised))
    return raised


async def overdue_job(runtime: Runtime) -> None:
    while True:
        try:
            await check_overdue(runtime)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("overdue check failed; retrying at the next tick")
        await asyncio.sleep(runtime.settings.finalisation_overdue_check_seconds)
