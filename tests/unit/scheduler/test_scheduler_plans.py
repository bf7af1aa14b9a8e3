"""The plan proposal as a value, without a database: its stored shape, the stale rule, taken half-days."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest

from services.scheduler.domain.calendar import CertificationCalendar, SchoolLevel
from services.scheduler.domain.enrolment import Learner
from services.scheduler.domain.errors import DomainError
from services.scheduler.domain.planner import (
    ClassGroup,
    HalfDay,
    PlanningRequest,
    Room,
    SchoolHours,
    StaffMember,
)
from services.scheduler.domain.plans import (
    PlanProposal,
    check_not_stale,
    propose,
    stale_learners,
    taken_half_days,
)
from services.scheduler.domain.sessions import Session

TRACK = CertificationCalendar.load().for_level("2025-2026", SchoolLevel.LYCEE)


def request(students: int, *, not_before: date | None = None) -> PlanningRequest:
    return PlanningRequest(
        classes=(ClassGroup("TG1", tuple(f"l{i}" for i in range(students))),),
        rooms=(Room("Salle 101", 30),),
        staff=(StaffMember("Mme Dupré"), StaffMember("M. Martin")),
        window=TRACK.window,
        not_before=not_before or TRACK.window.start,
    )


def learner(learner_id: str, *, school: str = "0870045P", certifiable: bool = True) -> Learner:
    return Learner(learner_id, school, "Nom", "Zoé", date(2008, 5, 17), "TG1", certifiable)


def test_a_proposal_is_stored_and_read_back_as_the_same_value() -> None:
    proposal = propose(request(25), track=TRACK, divisions=["TG1", "TG1"], school_site="Principal")
    assert proposal.error is None and proposal.divisions == ("TG1",)
    assert proposal.sessions[0].site == "Principal" and sorted(proposal.learner_ids) == sorted(
        f"l{i}" for i in range(25)
    )
    stored = proposal.to_json()
    assert stored["sessions"][0]["date"] == proposal.sessions[0].day.isoformat()
    assert stored["sessions"][0]["classes"] == [{"division": "TG1", "students": 25}]
    assert PlanProposal.from_json(stored) == proposal


def test_no_plan_says_why_and_a_past_window_is_one_reason() -> None:
    late = propose(
        request(3, not_before=TRACK.window.end + timedelta(days=1)),
        track=TRACK,
        divisions=None,
        school_site="",
    )
    assert late.error is not None and late.error.code == "planner.window_over" and late.sessions == ()
    assert late.error.reasons and PlanProposal.from_json(late.to_json()) == late
    empty = propose(request(0), track=TRACK, divisions=None, school_site="")
    assert empty.error is None and empty.notes[-1] == "aucun élève certifiable à planifier"


def test_stale_learners_are_gone_inactive_uncertifiable_moved_or_enrolled_elsewhere() -> None:
    proposal = propose(request(6), track=TRACK, divisions=None, school_site="")
    active = {
        "l0": learner("l0"),
        "l2": learner("l2", certifiable=False),
        "l3": learner("l3", school="0190011X"),
        "l4": learner("l4"),
        "l5": learner("l5"),
    }  # l1 is gone or inactive
    stale = stale_learners(proposal, school_id="0870045P", active=active, elsewhere={"l4"})
    assert stale == ["l1", "l2", "l3", "l4"]
    with pytest.raises(DomainError) as caught:
        check_not_stale(proposal, school_id="0870045P", active=active, elsewhere={"l4"})
    assert caught.value.code == "plan.stale" and caught.value.details == {"learner_ids": stale}
    everyone = {f"l{i}": learner(f"l{i}") for i in range(6)}
    check_not_stale(proposal, school_id="0870045P", active=everyone, elsewhere=())


def test_a_session_holds_the_half_days_its_two_hour_slot_touches() -> None:
    hours = SchoolHours()
    day = date(2025, 11, 13)

    def at(start: str) -> Session:
        return Session(1, "Site", "Salle 101", ("Mme Dupré",), day, start, "BCDF23", "kjHv!7")

    assert hours.morning.end == time(12, 0)
    assert taken_half_days([at("08:30")], hours) == {(day, HalfDay.MORNING)}
    assert taken_half_days([at("11:00")], hours) == {(day, HalfDay.MORNING)}  # ends 13:00, before 13:30
    assert taken_half_days([at("11:45")], hours) == {(day, HalfDay.MORNING), (day, HalfDay.AFTERNOON)}
    assert taken_half_days([at("14:00")], hours) == {(day, HalfDay.AFTERNOON)}
