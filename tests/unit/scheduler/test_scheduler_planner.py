import math
from collections import Counter
from datetime import date, time, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.scheduler.domain.calendar import Window
from services.scheduler.domain.errors import DomainError, PlanningError
from services.scheduler.domain.planner import (
    SLOT_MINUTES,
    ClassGroup,
    HalfDay,
    PlanningRequest,
    Room,
    SchoolHours,
    StaffMember,
    TimeRange,
    classes_to_plan,
    plan_sessions,
)

MONDAY = date(2024, 3, 4)
KNOWN_CODES = {
    "planner.no_room",
    "planner.no_school_day",
    "planner.no_slot",
    "planner.no_invigilator",
    "planner.insufficient_capacity",
}


def classes(*sizes: int, prefix: str = "3") -> tuple[ClassGroup, ...]:
    return tuple(
        ClassGroup(f"{prefix}{chr(65 + k)}", tuple(f"{prefix}{chr(65 + k)}-{i}" for i in range(size)))
        for k, size in enumerate(sizes)
    )


def staff(count: int) -> tuple[StaffMember, ...]:
    return tuple(StaffMember(f"Surveillant {k:02d}") for k in range(count))


# ------------------------------------------------------------------------------------- properties


@st.composite
def schools(draw):
    start = MONDAY + timedelta(days=draw(st.integers(0, 6)))
    window = Window(start, start + timedelta(days=draw(st.integers(0, 15))))
    days = [window.start + timedelta(days=k) for k in range((window.end - window.start).days + 1)]
    half_days = [(d, hd) for d in days for hd in HalfDay]
    sizes = draw(st.lists(st.integers(0, 45), max_size=6))
    rooms = tuple(
        Room(f"Salle {k}", draw(st.integers(0, 35)), site=draw(st.sampled_from(["", "Bât. A"])))
        for k in range(draw(st.integers(0, 4)))
    )
    members = []
    for k in range(draw(st.integers(0, 6))):
        if draw(st.booleans()):
            members.append(StaffMember(f"P{k}"))
        else:
            members.append(
                StaffMember(f"P{k}", frozenset(draw(st.lists(st.sampled_from(half_days), max_size=12))))
            )
    morning = draw(
        st.sampled_from(
            [
                TimeRange(time(8), time(12)),
                TimeRange(time(8, 30), time(12, 15)),
                TimeRange(time(8), time(9, 30)),
            ]
        )
    )
    afternoon = draw(st.sampled_from([TimeRange(time(13, 30), time(17, 30)), TimeRange(time(14), time(16))]))
    closures = tuple(Window(d, d) for d in draw(st.lists(st.sampled_from(days), max_size=4)))
    hours = SchoolHours(morning=morning, afternoon=afternoon, closures=closures)
    # half-days already holding sessions of the school (their rooms and staff are booked)
    taken = frozenset(draw(st.lists(st.sampled_from(half_days), max_size=6)))
    return PlanningRequest(classes(*sizes), rooms, tuple(members), window, hours, taken_half_days=taken)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schools())
def test_a_returned_plan_respects_every_rule(request: PlanningRequest):
    try:
        plan = plan_sessions(request)
    except PlanningError as error:
        assert error.code in KNOWN_CODES
        assert error.message
        return

    rooms = {room.name: room for room in request.rooms}
    staff_by_name = {member.name: member for member in request.staff}
    days = [
        request.window.start + timedelta(days=k)
        for k in range((request.window.end - request.window.start).days + 1)
    ]
    most_staff = max(
        (
            sum(m.is_available(d, hd) for m in request.staff)
            for d in days
            for hd in HalfDay
            if request.hours.is_open(d, hd)
            and (d, hd) not in request.taken_half_days
            and request.hours.hours(hd).minutes >= SLOT_MINUTES
        ),
        default=0,
    )
    largest_usable = max(
        [min(r.workstations, 20 * most_staff) for r in request.rooms if r.workstations > 0], default=0
    )
    for session in plan.sessions:
        # capacity and 1/20 ratio
        assert 0 < len(session.student_ids) <= rooms[session.room].workstations
        assert len(session.invigilators) >= math.ceil(len(session.student_ids) / 20)
        assert len(set(session.invigilators)) == len(session.invigilators)
        # never against existing sessions, inside the window, on an open half-day, within its hours
        assert (session.day, session.half_day) not in request.taken_half_days
        assert request.window.contains(session.day)
        assert request.hours.is_open(session.day, session.half_day)
        hours = request.hours.hours(session.half_day)
        assert session.start >= hours.start
        assert session.ends_at.time() <= hours.end and session.ends_at.date() == session.day
        assert session.test_ends_at < session.ends_at
        for name in session.invigilators:
            assert staff_by_name[name].is_available(session.day, session.half_day)

    # no room nor person in two overlapping sessions
    for i, a in enumerate(plan.sessions):
        for b in plan.sessions[i + 1 :]:
            if a.starts_at < b.ends_at and b.starts_at < a.ends_at:
                assert a.room != b.room
                assert not set(a.invigilators) & set(b.invigilators)

    # every student exactly once
    placed = Counter(sid for s in plan.sessions for sid in s.student_ids)
    expected = Counter(sid for group in request.classes for sid in group.student_ids)
    assert placed == expected

    # a class that fits in the largest usable room is never split
    for group in request.classes:
        holding = [s for s in plan.sessions if any(name == group.name for name, _ in s.classes)]
        if group.student_ids and len(group.student_ids) <= largest_usable:
            assert len(holding) == 1

    assert set(plan.half_days) == {(s.day, s.half_day) for s in plan.sessions}


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(1, 40), min_size=1, max_size=12), st.integers(2, 6))
def test_a_well_resourced_school_always_gets_a_plan(sizes, room_count):
    request = PlanningRequest(
        classes(*sizes),
        tuple(Room(f"S{k}", 30) for k in range(room_count)),
        staff(12),
        Window(MONDAY, MONDAY + timedelta(days=27)),
    )
    plan = plan_sessions(request)
    assert sum(len(s.student_ids) for s in plan.sessions) == sum(sizes)


# -------------------------------------------------------------------------------------- examples


def test_large_class_is_split_with_a_note_not_an_error():
    request = PlanningRequest(
        classes(38, prefix="2nde "), (Room("B12", 30), Room("CDI", 18)), staff(3), Window(MONDAY, MONDAY)
    )
    plan = plan_sessions(request)
    assert sorted(len(s.student_ids) for s in plan.sessions) == [18, 20]
    assert {s.start for s in plan.sessions} == {time(8)}  # both groups at the same time
    assert plan.notes == (
        "classe 2nde A (38 élèves) plus grande que la plus grande salle utilisable (30 places) :"
        " répartie en 2 groupes (20 + 18)",
    )


def test_small_classes_share_a_room_and_half_days_are_few():
    request = PlanningRequest(
        classes(12, 10, 25, 28, 30, 27),
        (Room("A", 30), Room("B", 30)),
        staff(6),
        Window(MONDAY, MONDAY + timedelta(days=10)),
    )
    plan = plan_sessions(request)
    assert len(plan.half_days) == 2  # 132 students, 60 seats a slot, 2 slots a half-day
    assert any(len(s.classes) == 2 for s in plan.sessions)


def test_sessions_are_back_to_back_two_hour_slots():
    request = PlanningRequest(classes(30, 30), (Room("A", 30),), staff(2), Window(MONDAY, MONDAY))
    plan = plan_sessions(request)
    assert [s.start for s in plan.sessions] == [time(8), time(10)]
    assert all((s.ends_at - s.starts_at).seconds == SLOT_MINUTES * 60 for s in plan.sessions)


def test_staff_shortage_is_explained_with_the_date():
    thursday = date(2024, 3, 14)
    request = PlanningRequest(
        classes(30, 30, 30, 30, 30),
        (Room("A", 30), Room("B", 30)),
        (
            StaffMember("Ana", frozenset({(thursday, HalfDay.MORNING)})),
            StaffMember("Bob", frozenset({(thursday, HalfDay.MORNING)})),
        ),
        Window(thursday, thursday),
    )
    with pytest.raises(PlanningError) as caught:
        plan_sessions(request)
    assert caught.value.code == "planner.insufficient_capacity"
    assert "14/03/2024 matin : 4 surveillants nécessaires, 2 disponible(s)" in caught.value.reasons
    assert caught.value.message.startswith("90 élève(s) sur 150 sans place")


def test_no_school_day_in_the_window_is_an_error():
    saturday = date(2024, 3, 9)
    request = PlanningRequest(
        classes(20), (Room("A", 30),), staff(2), Window(saturday, saturday + timedelta(days=1))
    )
    with pytest.raises(PlanningError) as caught:
        plan_sessions(request)
    assert caught.value.code == "planner.no_school_day"
    assert "09/03/2024 – 10/03/2024" in caught.value.message


def test_closures_count_as_no_school_day():
    hours = SchoolHours(closures=(Window(MONDAY, MONDAY + timedelta(days=4)),))
    request = PlanningRequest(
        classes(20), (Room("A", 30),), staff(2), Window(MONDAY, MONDAY + timedelta(days=4)), hours
    )
    with pytest.raises(PlanningError) as caught:
        plan_sessions(request)
    assert caught.value.code == "planner.no_school_day"


def test_hours_too_short_for_a_session():
    hours = SchoolHours(morning=TimeRange(time(8), time(9, 30)), afternoon=TimeRange(time(14), time(15)))
    request = PlanningRequest(classes(20), (Room("A", 30),), staff(2), Window(MONDAY, MONDAY), hours)
    with pytest.raises(PlanningError) as caught:
        plan_sessions(request)
    assert caught.value.code == "planner.no_slot"


def test_nobody_available():
    request = PlanningRequest(
        classes(20), (Room("A", 30),), (StaffMember("Ana", frozenset()),), Window(MONDAY, MONDAY)
    )
    with pytest.raises(PlanningError) as caught:
        plan_sessions(request)
    assert caught.value.code == "planner.no_invigilator"


def test_no_usable_room():
    request = PlanningRequest(classes(20), (Room("A", 0),), staff(2), Window(MONDAY, MONDAY))
    with pytest.raises(PlanningError) as caught:
        plan_sessions(request)
    assert caught.value.code == "planner.no_room"


def test_not_before_skips_past_days():
    request = PlanningRequest(
        classes(20),
        (Room("A", 30),),
        staff(1),
        Window(MONDAY, MONDAY + timedelta(days=4)),
        not_before=MONDAY + timedelta(days=3),
    )
    plan = plan_sessions(request)
    assert plan.sessions[0].day == MONDAY + timedelta(days=3)


def test_invigilation_is_spread_across_staff():
    request = PlanningRequest(
        classes(20, 20, 20, 20), (Room("A", 30),), staff(4), Window(MONDAY, MONDAY + timedelta(days=1))
    )
    plan = plan_sessions(request)
    assert Counter(name for s in plan.sessions for name in s.invigilators) == Counter(
        {f"Surveillant {k:02d}": 1 for k in range(4)}
    )


def test_no_students_is_an_empty_plan():
    plan = plan_sessions(PlanningRequest((), (Room("A", 30),), staff(1), Window(MONDAY, MONDAY)))
    assert plan.sessions == () and plan.half_days == ()


def test_a_student_in_two_classes_is_refused():
    request = PlanningRequest(
        (ClassGroup("3A", ("x",)), ClassGroup("3B", ("x",))),
        (Room("A", 30),),
        staff(1),
        Window(MONDAY, MONDAY),
    )
    with pytest.raises(PlanningError) as caught:
        plan_sessions(request)
    assert caught.value.code == "planner.duplicate_student"


def test_half_days_already_taken_are_never_proposed():
    request = PlanningRequest(
        classes=(ClassGroup("3A", tuple(f"a{i}" for i in range(25))),),
        rooms=(Room("B12", 30),),
        staff=(StaffMember("Mme Dupré"), StaffMember("M. Martin")),
        window=Window(MONDAY, MONDAY + timedelta(days=4)),
        taken_half_days=frozenset({(MONDAY, HalfDay.MORNING), (MONDAY, HalfDay.AFTERNOON)}),
    )
    plan = plan_sessions(request)
    assert [s.day for s in plan.sessions] == [MONDAY + timedelta(days=1)]


# ---- which classes a plan covers ----------------------------------------------------------------


PLANNABLE = {"2A": ["2A-1", "2A-2"], "3A": ["3A-1", "3A-2", "3A-3"], "3B": ["3B-1"], "4C": ["4C-1"]}
SCHOOL = ["2A", "3A", "3B", "3C", "4C"]  # 3C: everyone in it is already enrolled


def test_without_divisions_every_class_with_students_to_plan_is_planned():
    groups = classes_to_plan(PLANNABLE, divisions=None, school_divisions=SCHOOL)
    assert [g.name for g in groups] == ["2A", "3A", "3B", "4C"]
    assert groups[1] == ClassGroup("3A", ("3A-1", "3A-2", "3A-3"))


def test_only_the_named_divisions_are_planned_in_the_school_order():
    groups = classes_to_plan(PLANNABLE, divisions=["3B", "3A", "3B", "3C"], school_divisions=SCHOOL)
    assert [(g.name, g.student_ids) for g in groups] == [("3A", ("3A-1", "3A-2", "3A-3")), ("3B", ("3B-1",))]


def test_a_named_division_unknown_to_the_school_is_refused_by_name():
    with pytest.raises(DomainError) as refused:
        classes_to_plan(PLANNABLE, divisions=["3A", "3Z", "TG1"], school_divisions=SCHOOL)
    assert refused.value.code == "class.unknown"
    assert refused.value.details["divisions"] == ["3Z", "TG1"]
    assert refused.value.details["known"] == SCHOOL
    assert "3Z" in refused.value.message and "TG1" in refused.value.message


def test_overlapping_half_days_are_refused_so_no_slot_is_booked_twice():
    # morning slot 10:00–12:00 and afternoon slot 11:00–13:00 would share room and staff
    with pytest.raises(ValueError, match="commence avant la fin de la matinée"):
        SchoolHours(morning=TimeRange(time(8), time(12, 30)), afternoon=TimeRange(time(11), time(17)))
    SchoolHours(
        morning=TimeRange(time(8), time(12)), afternoon=TimeRange(time(12), time(16))
    )  # touching is fine
