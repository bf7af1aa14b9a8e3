"""The one-month check: at a session's due date, ask remediation for its students not yet certifiable.

``check_remediations`` is one tick (the job in app.py loops it; tests call it with any ``now``).
Each (session, due date) is claimed in ``remediation_checks`` in the same transaction as the event,
so the request is raised once, whatever restarts, replicas or replays happen.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from zoneinfo import ZoneInfo

import structlog

from services.eligibility.domain.remediation import check_due_date, remediation_requests
from services.eligibility.store import DueSession
from services.eligibility.usecases import BeginWork, Work
from shared.contracts.events import MissingCompetences, RemediationRequested

log = structlog.get_logger(__name__)


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def school_day(now: datetime, timezone: str) -> date:
    """The school day it is at ``now`` (sessions are dated in the académie's time zone)."""
    return now.astimezone(ZoneInfo(timezone)).date()


async def check_remediations(
    begin: BeginWork, *, now: datetime, timezone: str, lead_days: int
) -> list[RemediationRequested]:
    """One tick: raise what is due and not raised yet; return the events raised."""
    async with begin() as work:
        due = await work.store.sessions_due_for_check(school_day(now, timezone), lead_days)
    raised: list[RemediationRequested] = []
    for session in due:
        async with begin() as work:
            event = await _check_session(work, session, lead_days, now)
        if event is not None:
            log.info("remediation requested", session_id=session.session_id, learners=len(event.learners))
            raised.append(event)
    return raised


async def _check_session(
    work: Work, session: DueSession, lead_days: int, now: datetime
) -> RemediationRequested | None:
    """Claim the session's check for its due date; raise the request when someone needs remediation."""
    store, session_id = work.store, session.session_id
    due_date = check_due_date(session.session_date, lead_days)
    candidates = await store.session_candidates(session_id)
    learner_ids = [c.learner_id for c in candidates]
    known = [i for i in learner_ids if _is_uuid(i)]
    assessments = await store.assessments_of(known)
    divisions = {c.learner_id: c.division for c in candidates}
    divisions |= await store.learner_divisions(known)
    requests = remediation_requests(session_id, session.session_date, learner_ids, assessments, lead_days)
    claimed = await store.claim_check(
        session_id, due_date, session.session_date, session.uai, len(candidates), len(requests), now
    )
    if not claimed or not requests:
        return None
    event = RemediationRequested(
        session_id=session_id,
        uai=session.uai,
        session_date=session.session_date,
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
    await work.emit(event)
    return event
