"""Finalisation: the referent's form closes the session and raises SessionFinalised (pix-domain §5.2).

One unit of work: the room is loaded under the session's lock, the domain checks every rule
(``finalise_session``), and the finalisation row and its event are written together.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import structlog

from services.finalisation.domain.finalisation import (
    CandidateReport,
    FinalisationRequest,
    SessionIncident,
    finalise_session,
)
from services.finalisation.domain.finalisation import FinalisedCandidate as DomainFinalisedCandidate
from services.finalisation.domain.finalisation import SessionFinalised as DomainSessionFinalised
from services.finalisation.domain.invigilation import SessionRoom
from services.finalisation.domain.issue_reports import IssueReport
from services.finalisation.domain.sessions import ScheduledSession
from services.finalisation.usecases.ports import Begin
from services.finalisation.usecases.rooms import locked_room, require_not_cancelled
from shared.contracts import events

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class FinalisationForm:
    """The referent's form as submitted, which the finalisation and its amendment both take.

    Candidates in ``reports_without_issues`` gave no issue report list: what the invigilator
    recorded live for them stands instead. ``session_incidents`` are those transcribed from the
    paper PV (the room's live incidents always go too)."""

    reports: Sequence[CandidateReport]
    reports_without_issues: frozenset[str] = frozenset()
    has_incident: bool | None = None
    has_joining_issue: bool | None = None
    examiner_global_comment: str | None = None
    session_incidents: tuple[IssueReport, ...] = ()


async def finalise(
    begin: Begin, session_id: str, form: FinalisationForm, *, now: datetime, by: str | None = None
) -> events.SessionFinalised:
    """Finalise and raise SessionFinalised."""
    async with begin() as uow:
        session, room = await locked_room(uow.store, session_id)
        incidents_before = len(room.incidents)
        require_not_cancelled(session)
        request = finalisation_request(room, form)
        finalised = finalise_session(room, request, now)
        event = session_finalised(session, finalised)
        await uow.store.insert_finalisation(session_id, now, event.model_dump(mode="json"), by)
        await uow.emit(event)
        await uow.store.save_room(room, incidents_before, now)
    log.info(
        "session finalised",
        session_id=session_id,
        candidates=len(event.candidates),
        publishable=event.is_publishable,
    )
    return event


def finalisation_request(room: SessionRoom, form: FinalisationForm) -> FinalisationRequest:
    """The form as the domain reads it: a present candidate given no issue report list gets what
    the invigilator recorded live for them."""
    completed = [
        CandidateReport(
            r.candidate_id,
            r.present,
            r.abort_reason,
            tuple(room.incidents_for(r.candidate_id))
            if r.candidate_id in form.reports_without_issues and r.present
            else r.issue_reports,
        )
        for r in form.reports
    ]
    return FinalisationRequest(
        completed,
        form.has_incident,  # type: ignore[arg-type]
        form.has_joining_issue,  # type: ignore[arg-type]
        form.examiner_global_comment,
        form.session_incidents,
    )


def session_finalised(
    session: ScheduledSession, finalised: DomainSessionFinalised
) -> events.SessionFinalised:
    """The SessionFinalised event of a finalisation (the first one, or an amendment's new form)."""
    return events.SessionFinalised(
        session_id=finalised.session_id,
        session_number=finalised.session_number,
        uai=session.uai,
        certification_center=session.certification_center,
        session_date=finalised.session_date,
        session_time=session.session_time,
        finalised_at=finalised.finalised_at,
        examiner_global_comment=finalised.examiner_global_comment,
        has_incident=finalised.has_incident,
        has_joining_issue=finalised.has_joining_issue,
        is_publishable=finalised.is_publishable,
        had_invigilator_access=finalised.had_invigilator_access,
        candidates=[_finalised_candidate(c) for c in finalised.candidates],
        session_incidents=[_session_incident(i) for i in finalised.session_incidents],
        pix_session_number=session.pix_session_number,
    )


def _finalised_candidate(c: DomainFinalisedCandidate) -> events.FinalisedCandidate:
    return events.FinalisedCandidate(
        candidate_id=c.candidate_id,
        learner_id=c.learner_id or "",
        ine=c.ine,
        first_name=c.first_name,
        last_name=c.last_name,
        birthdate=c.birthdate,
        division=c.division or "",
        present=c.present,
        completed=c.completed,
        abort_reason=c.abort_reason.value if c.abort_reason else None,
        extra_time_percentage=c.extra_time_percentage,
        started_at=c.started_at,
        ended_at=c.ended_at,
        test_state=c.test_state.value,
        issue_reports=[_issue_report(r) for r in c.issue_reports],
    )


def _issue_report(r: IssueReport) -> events.IssueReport:
    return events.IssueReport(
        category=r.category.value,
        subcategory=r.subcategory.value if r.subcategory else None,
        code=r.code,
        description=r.description,
        question_number=r.question_number,
    )


def _session_incident(i: SessionIncident) -> events.SessionIncident:
    return events.SessionIncident(
        **_issue_report(i.report).model_dump(), recorded_at=i.recorded_at, source=i.source.value
    )
