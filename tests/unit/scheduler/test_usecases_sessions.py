"""The sessions use cases in memory: create, edit (only what changed), cancel, and their refusals."""

from __future__ import annotations

import uuid

from services.scheduler.schemas import EnrolmentIn, SessionPatch
from services.scheduler.usecases import enrolment, sessions
from shared.contracts.events import SessionCancelled, SessionCreated, SessionUpdated
from tests.unit.scheduler.fakes import InMemoryScheduler
from tests.unit.scheduler.usecase_support import CALENDAR, CLOCK, UAI, fast_hash, new_session, refused, school


async def _patch(scheduler: InMemoryScheduler, session_id: uuid.UUID, **changes) -> None:
    await sessions.patch_session(
        scheduler.begin,
        session_id=session_id,
        body=SessionPatch(**changes),
        clock=CLOCK,
        calendar=CALENDAR,
        hash_password=fast_hash,
    )


async def test_a_session_is_created_in_the_rooms_spelling_with_its_site_and_a_hashed_password() -> None:
    scheduler = InMemoryScheduler()
    await school(scheduler)
    session_id = await new_session(scheduler, room=" cdi ", invigilators=["M. Martin"])
    row = scheduler.state.sessions[session_id]
    assert (row.session.room, row.session.site) == ("CDI", "Bâtiment B")
    [created] = scheduler.emitted(SessionCreated)
    assert created.invigilator_password_verifier == fast_hash(row.session.invigilator_password)
    assert created.school_level == "lycee" and created.examiners == ["M. Martin"]

    found = await sessions.list_sessions(scheduler.begin, uai=UAI)
    assert [r.session_id for r in found.sessions] == [session_id] and found.candidates == {}


async def test_a_clash_or_a_date_outside_the_window_is_refused_and_leaves_no_trace() -> None:
    scheduler = InMemoryScheduler()
    await school(scheduler)
    await new_session(scheduler)
    await refused("session.overlap", new_session(scheduler, time="09:30", invigilators=["M. Martin"]))
    await refused("invigilator.busy", new_session(scheduler, room="CDI", time="09:00"))
    await refused("session.outside_window", new_session(scheduler, date="2025-10-20"))
    await refused("session.invalid_time", new_session(scheduler, time="25:00"))
    await refused("school.unknown", sessions.list_sessions(scheduler.begin, uai="0000001A"))
    assert len(scheduler.state.sessions) == 1 and len(scheduler.emitted(SessionCreated)) == 1


async def test_an_edit_names_the_changed_fields_and_a_smaller_room_must_seat_the_candidates() -> None:
    scheduler = InMemoryScheduler()
    await school(
        scheduler, rooms=[{"name": "Salle 101", "workstations": 30}, {"name": "Labo", "workstations": 2}]
    )
    session_id = await new_session(scheduler)
    await _patch(scheduler, session_id, observations="  ")  # nothing changes: no event
    assert scheduler.emitted(SessionUpdated) == []
    await _patch(scheduler, session_id, time="10:00", observations="tiers temps")
    [updated] = scheduler.emitted(SessionUpdated)
    assert updated.changed_fields == ["time", "description"] and updated.time == "10:00"

    scheduler.add_class(UAI, "TG1", 3)
    await enrolment.enrol(
        scheduler.begin, session_id=session_id, body=EnrolmentIn(division="TG1"), clock=CLOCK
    )
    error = await refused("room.capacity_exceeded", _patch(scheduler, session_id, room="labo"))
    assert error.details == {"capacity": 2, "enrolled": 3}
    assert scheduler.state.sessions[session_id].session.room == "Salle 101"


async def test_a_started_session_can_be_neither_edited_nor_cancelled() -> None:
    scheduler = InMemoryScheduler()
    await school(scheduler)
    first, second = await new_session(scheduler), await new_session(scheduler, time="14:00")
    await sessions.delete_session(scheduler.begin, session_id=second, reason="doublon", clock=CLOCK)
    [cancelled] = scheduler.emitted(SessionCancelled)
    assert cancelled.reason == "doublon"
    await refused("session.cancelled", _patch(scheduler, second, time="15:00"))

    async with scheduler.begin() as uow:
        await uow.store.mark_started(first, CLOCK.now())
    await refused("session.started", _patch(scheduler, first, time="15:00"))
    await refused(
        "session.started",
        sessions.delete_session(scheduler.begin, session_id=first, reason=None, clock=CLOCK),
    )
    await refused("session.unknown", _patch(scheduler, uuid.uuid4(), time="15:00"))
