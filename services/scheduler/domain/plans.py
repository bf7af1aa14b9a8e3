"""A plan proposal as a value: what the planner offers a school, stored until someone confirms it.

``propose`` turns a planning request into a ``PlanProposal`` (sessions, or why none exists);
``to_json``/``from_json`` are its one stored shape, which is also the body the API serves. The
stale-plan rule says which planned learners may no longer be enrolled when the plan is confirmed.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from services.scheduler.domain.calendar import TrackCalendar, Window
from services.scheduler.domain.enrolment import Learner
from services.scheduler.domain.errors import DomainError, PlanningError
from services.scheduler.domain.mef import DivisionChoice
from services.scheduler.domain.planner import HalfDay, PlanningRequest, SchoolHours, plan_sessions
from services.scheduler.domain.sessions import Session


@dataclass(frozen=True, slots=True)
class ProposedSession:
    day: date
    half_day: HalfDay
    time: str
    room: str
    site: str
    invigilators: tuple[str, ...]
    #: (division, number of its students here), in placement order
    classes: tuple[tuple[str, int], ...]
    learner_ids: tuple[str, ...]

    def describe(self) -> str:
        return f"{self.day.isoformat()} {self.time}, {self.room}"


@dataclass(frozen=True, slots=True)
class ProposalError:
    """Why no plan exists: the planner's code and message, and every blocking fact."""

    code: str
    message: str
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PlanProposal:
    window: Window
    students: int
    #: the classes asked for; None: every class of the school
    divisions: tuple[str, ...] | None
    sessions: tuple[ProposedSession, ...] = ()
    half_days: tuple[tuple[date, HalfDay], ...] = ()
    notes: tuple[str, ...] = ()
    error: ProposalError | None = None
    #: classes asked for by name that do not certify by their MEF
    warnings: tuple[str, ...] = ()
    #: planned in the calendar's catch-up week (issue 16)
    catch_up: bool = False

    @property
    def learner_ids(self) -> list[str]:
        return [lid for s in self.sessions for lid in s.learner_ids]

    def to_json(self) -> dict[str, Any]:
        return {
            "window": {"start": self.window.start.isoformat(), "end": self.window.end.isoformat()},
            "students": self.students,
            "divisions": None if self.divisions is None else list(self.divisions),
            "sessions": [
                {
                    "date": s.day.isoformat(),
                    "half_day": s.half_day.value,
                    "time": s.time,
                    "room": s.room,
                    "site": s.site,
                    "invigilators": list(s.invigilators),
                    "classes": [{"division": c, "students": n} for c, n in s.classes],
                    "learner_ids": list(s.learner_ids),
                }
                for s in self.sessions
            ],
            "half_days": [{"date": d.isoformat(), "half_day": h.value} for d, h in self.half_days],
            "notes": list(self.notes),
            "warnings": list(self.warnings),
            "catch_up": self.catch_up,
            "error": None
            if self.error is None
            else {
                "code": self.error.code,
                "message": self.error.message,
                "reasons": list(self.error.reasons),
            },
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PlanProposal:
        error = data["error"]
        return cls(
            window=Window(
                date.fromisoformat(data["window"]["start"]), date.fromisoformat(data["window"]["end"])
            ),
            students=data["students"],
            divisions=None if data["divisions"] is None else tuple(data["divisions"]),
            sessions=tuple(
                ProposedSession(
                    day=date.fromisoformat(s["date"]),
                    half_day=HalfDay(s["half_day"]),
                    time=s["time"],
                    room=s["room"],
                    site=s["site"],
                    invigilators=tuple(s["invigilators"]),
                    classes=tuple((c["division"], c["students"]) for c in s["classes"]),
                    learner_ids=tuple(s["learner_ids"]),
                )
                for s in data["sessions"]
            ),
            half_days=tuple(
                (date.fromisoformat(h["date"]), HalfDay(h["half_day"])) for h in data["half_days"]
            ),
            notes=tuple(data["notes"]),
            warnings=tuple(data.get("warnings", ())),  # absent from proposals stored before issue 16
            catch_up=bool(data.get("catch_up", False)),
            error=None
            if error is None
            else ProposalError(error["code"], error["message"], tuple(error["reasons"])),
        )


def propose(
    request: PlanningRequest,
    *,
    track: TrackCalendar,
    divisions: Sequence[str] | None,
    school_site: str,
    today: date | None = None,
    choice: DivisionChoice | None = None,
) -> PlanProposal:
    """The proposal for ``request`` (its ``not_before`` is set): sessions, or the reasons there are none.
    Before Pix Certif opens (``today`` given), a note says from which day the plan can be confirmed."""
    students = sum(len(group.student_ids) for group in request.classes)
    chosen = None if divisions is None else tuple(dict.fromkeys(divisions))
    warnings = choice.warnings if choice else ()
    not_before = request.not_before or request.window.start
    try:
        if track.window.end < not_before:
            raise PlanningError(
                "planner.window_over",
                f"la {track.describe()} est passée (premier jour planifiable : {not_before:%d/%m/%Y})",
                reasons=(f"fenêtre terminée le {track.window.end:%d/%m/%Y}",),
            )
        plan = plan_sessions(request)
    except PlanningError as refused:
        error = ProposalError(refused.code, refused.message, tuple(refused.reasons) or (refused.message,))
        return PlanProposal(track.window, students, chosen, error=error, warnings=warnings)
    notes = [*(choice.notes if choice else ()), *plan.notes]
    if today is not None and not track.is_pix_certif_open(today):
        assert track.pix_certif_opening is not None
        notes.append(
            f"Pix Certif n'ouvre qu'à partir du {track.pix_certif_opening:%d/%m/%Y} : la proposition ne"
            " pourra être confirmée (sessions créées) qu'à partir de cette date"
        )
    if students == 0:
        notes.append("aucun élève certifiable à planifier")
    return PlanProposal(
        window=track.window,
        students=students,
        divisions=chosen,
        sessions=tuple(
            ProposedSession(
                day=s.day,
                half_day=s.half_day,
                time=s.time_text,
                room=s.room,
                site=s.site or school_site,
                invigilators=tuple(s.invigilators),
                classes=tuple(s.classes),
                learner_ids=tuple(s.student_ids),
            )
            for s in plan.sessions
        ),
        half_days=tuple(plan.half_days),
        notes=tuple(notes),
        warnings=warnings,
    )


def taken_half_days(sessions: Iterable[Session], hours: SchoolHours) -> frozenset[tuple[date, HalfDay]]:
    """The half-days live sessions already hold (their 2-hour slot touches them): not proposed again."""
    taken: set[tuple[date, HalfDay]] = set()
    for session in sessions:
        start, end = session.starts_at.time(), session.ends_at.time()
        if start < hours.morning.end:
            taken.add((session.day, HalfDay.MORNING))
        if end > hours.afternoon.start or start >= hours.morning.end:
            taken.add((session.day, HalfDay.AFTERNOON))
    return frozenset(taken)


def stale_learners(
    proposal: PlanProposal, *, school_id: str, active: Mapping[str, Learner], elsewhere: Collection[str]
) -> list[str]:
    """Planned learners who may no longer be enrolled: gone or inactive (not in ``active``), no longer
    certifiable, moved to another school, or since enrolled in another live session."""
    return sorted(
        lid
        for lid in proposal.learner_ids
        if lid not in active
        or not active[lid].certifiable
        or active[lid].school_id != school_id
        or lid in elsewhere
    )


def check_not_stale(
    proposal: PlanProposal, *, school_id: str, active: Mapping[str, Learner], elsewhere: Collection[str]
) -> None:
    """Confirming is refused (``plan.stale``) while any planned learner is stale: plan again."""
    stale = stale_learners(proposal, school_id=school_id, active=active, elsewhere=elsewhere)
    if stale:
        raise DomainError(
            "plan.stale",
            f"{len(stale)} élève(s) de la proposition ne sont plus à planifier (classe, certifiabilité"
            " ou inscription changées) : recalculez la proposition",
            learner_ids=stale,
        )
