"""The schools use cases in memory: create, replace, read back, and refusals that leave no trace."""

from __future__ import annotations

from services.scheduler.usecases import schools
from tests.unit.scheduler.fakes import InMemoryScheduler
from tests.unit.scheduler.usecase_support import (
    CLOCK,
    UAI,
    new_session,
    refused,
    school,
    school_body,
)


async def test_a_school_is_created_then_replaced_and_read_back_with_its_classes() -> None:
    scheduler = InMemoryScheduler()
    view, created = await schools.put_school(scheduler.begin, uai="0870045p", body=school_body(), clock=CLOCK)
    assert created and view.school.uai == UAI
    assert [r.site for r in view.school.rooms] == ["Bâtiment principal", "Bâtiment B"]  # room site defaults
    scheduler.add_class(UAI, "TG1", 3)
    scheduler.add_learner(UAI, "TG1", "not-yet", certifiable=False)

    view, created = await schools.put_school(
        scheduler.begin, uai=UAI, body=school_body(name="Lycée Gay-Lussac (Limoges)"), clock=CLOCK
    )
    assert not created
    read = await schools.get_school(scheduler.begin, uai=UAI)
    assert read.school.name == "Lycée Gay-Lussac (Limoges)"
    assert [(c.division, c.learners, c.certifiable) for c in read.classes] == [("TG1", 4, 3)]


async def test_refused_descriptions_store_nothing() -> None:
    scheduler = InMemoryScheduler()
    await refused(
        "school.invalid_uai",
        schools.put_school(scheduler.begin, uai="87004", body=school_body(), clock=CLOCK),
    )
    twice = school_body(
        rooms=[{"name": "Salle 101", "workstations": 30}, {"name": "salle  101", "workstations": 2}]
    )
    error = await refused(
        "school.duplicate_room", schools.put_school(scheduler.begin, uai=UAI, body=twice, clock=CLOCK)
    )
    assert error.details == {"names": ["Salle 101", "salle  101"]}
    backwards = school_body(hours={"closures": [{"start": "2025-12-20", "end": "2025-12-01"}]})
    await refused(
        "school.invalid_hours", schools.put_school(scheduler.begin, uai=UAI, body=backwards, clock=CLOCK)
    )
    assert scheduler.state.schools == {} and scheduler.commits == 0
    await refused("school.unknown", schools.get_school(scheduler.begin, uai=UAI))


async def test_a_room_that_a_coming_session_uses_cannot_be_dropped() -> None:
    scheduler = InMemoryScheduler()
    await school(scheduler)
    await new_session(scheduler, room="CDI", invigilators=["M. Martin"])
    without_cdi = school_body(rooms=[{"name": "Salle 101", "workstations": 30}])
    error = await refused(
        "room.in_use", schools.put_school(scheduler.begin, uai=UAI, body=without_cdi, clock=CLOCK)
    )
    assert error.details == {"rooms": ["CDI"]}
    assert [r.name for r in scheduler.state.schools[UAI].rooms] == ["Salle 101", "CDI"]
    renamed = school_body(
        rooms=[{"name": "Salle 101", "workstations": 30}, {"name": " cdi ", "workstations": 18}]
    )
    await schools.put_school(scheduler.begin, uai=UAI, body=renamed, clock=CLOCK)  # same room, other spelling
