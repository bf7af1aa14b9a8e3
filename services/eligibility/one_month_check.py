"""The one-month check: at a session's due date, ask remediation for its students not yet certifiable.

`check_remediations` is one tick (tests call it with a ManualClock); `remediation_job` loops it.
Each (session, due date) is claimed in `remediation_checks` in the same transaction as the event,
so the request is raised once, whatever restarts, replicas or replays happen.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import date
from zoneinfo import ZoneInfo

import structlog

from services.eligibility import store
from services.eligibility.domain.remediation import check_due_date, remediation_requests
from shared.contracts.events import MissingCompetences, RemediationRequested
from shared.service import Runtime

log = structlog.get_logger(__name__)


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def today(runtime: Runtime) -> date:
    """The school day it is now (sessions are dated in the académie's time zone)."""
    return runtime.clock.now().astimezone(ZoneInfo(runtime.settings.remediation_timezone)).date()


async def check_remediations(runtime: Runtime) -> list[RemediationRequested]:
    """One tick: raise what is due and not raised yet; return the events raised."""
    lead_days = runtime.settings.remediation_lead_days
    now = runtime.clock.now()
    day = today(runtime)
    async with runtime.pool.acquire() as conn:
        due = await store.sessions_due_for_check(conn, day, lead_days)
    raised: list[RemediationRequested] = []
    for session in due:
        event = await _check_session(
            runtime, session["session_id"], session["uai"], session["session_date"], lead_days, now
        )
        if event is not None:
            raised.append(event)
    return raised


async def _check_session(
    runtime: Runtime, session_id: str, uai: str, session_date: date, lead_days: int, now
) -> RemediationRequested | None:
    due_date = check_due_date(session_date, lead_days)
    async with runtime.unit_of_work() as uow:
        candidates = await store.session_candidates(uow.conn, session_id)
        learner_ids = [c["learner_id"] for c in candidates]
        known = [i for i in learner_ids if _is_uuid(i)]
        assessments = await store.assessments_of(uow.conn, known)
        divisions = {c["learner_id"]: c["division"] for c in candidates}
        divisions |= await store.learner_divisions(uow.conn, known)
        requests = remediation_requests(session_id, session_date, learner_ids, assessments, lead_days)
        claimed = await store.claim_check(
            uow.conn, session_id, due_date, session_date, uai, len(candidates), len(requests), now
        )
        if not claimed or not requests:
            return None
        event = RemediationRequested(
            session_id=session_id,
            uai=uai,
            session_date=session_date,
            due_date=due_date,
            learners=[
                MissingCompetences(
                    learner_id=r.learner_id,
                    division=divisions[r.learner_id],
                    status=r.status.value,
                    certifiable_competences=r.competences_certifiable,
                    competences_needed=r.competences_missing,
                    competences_at_level_zero=list(r.zero_level_competences),
                )
                for r in requests
            ],
            requested_at=now,
        )
        await uow.emit(event)
    log.info("remediation requested", session_id=session_id, learners=len(requests))
    return event


async def remediation_job(runtime: Runtime) -> None:
    """Every REMEDIATION_CHECK_INTERVAL_SECONDS; a failed tick is logged and retried next time."""
    while True:
        try:
            await check_remediations(runtime)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("one-month check failed; retrying at next tick")
        await asyncio.sleep(runtime.settings.remediation_check_interval_seconds)
