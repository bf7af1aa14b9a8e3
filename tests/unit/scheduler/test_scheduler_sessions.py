import random
from datetime import date, datetime

import pytest

from services.scheduler.domain.calendar import CertificationCalendar, Track
from services.scheduler.domain.codes import ACCESS_CODE_PATTERN, is_valid_invigilator_password
from services.scheduler.domain.errors import DomainError
from services.scheduler.domain.planner import Room
from services.scheduler.domain.sessions import (
    Session,
    create_session,
    ensure_deletable,
    parse_session_time,
    record_test_started,
    update_session,
)

COLLEGE = CertificationCalendar.load().for_level("2023-2024", Track.COLLEGE)
ROOMS = (Room("B12", 30, "Bâtiment B"), Room("CDI", 18))
NOW = datetime(2024, 3, 1, 9, 0)


def new(
    number=1,
    *,
    room="B12",
    day=date(2024, 3, 14),
    time="08:00",
    existing=(),
    invigilators=("Mme Dupré",),
    now=NOW,
    taken=frozenset(),
) -> Session:
    return create_session(
        number=number,
        site="Bâtiment B",
        room=room,
        invigilators=list(invigilators),
        day=day,
        time=time,
        calendar=COLLEGE,
        rooms=ROOMS,
        existing=existing,
        now=now,
        taken_codes=taken,
        rng=random.Random(number),
    )


def code_of(call) -> str:
    with pytest.raises(DomainError) as caught:
        call()
    return caught.value.code


def test_created_session_has_pix_fields_and_codes():
    session = new(1)
    assert ACCESS_CODE_PATTERN.match(session.access_code)
    assert is_valid_invigilator_password(session.invigilator_password)
    assert session.displayed_password == "C-" + session.invigilator_password
    assert session.theoretical_test_end == datetime(2024, 3, 14, 9, 45)
    assert session.ends_at == datetime(2024, 3, 14, 10, 0)
    assert session.examiner == "Mme Dupré"


def test_access_code_unique_among_live_sessions():
    first = new(1)
    second = create_session(
        number=2,
        site="S",
        room="CDI",
        invigilators=["X"],
        day=date(2024, 3, 14),
        time="08:00",
        calendar=COLLEGE,
        rooms=ROOMS,
        existing=[first],
        now=NOW,
        taken_codes={first.access_code},
        rng=random.Random(1),
    )
    assert second.access_code != first.access_code


@pytest.mark.parametrize("time", ["8:00", "24:00", "12:60", "0800", "08:00:00", "", " 08:00"])
def test_invalid_times_are_refused(time):
    assert code_of(lambda: new(time=time)) == "session.invalid_time"


def test_valid_time_regex_edges():
    assert parse_session_time("00:00").hour == 0
    assert parse_session_time("23:59").minute == 59


def test_outside_window_is_refused_with_the_window():
    with pytest.raises(DomainError) as caught:
        new(day=date(2024, 6, 16), now=datetime(2024, 6, 1))
    assert caught.value.code == "session.outside_window"
    assert "(04/03/2024 – 14/06/2024)" in caught.value.message


def test_past_sessions_are_refused():
    assert code_of(lambda: new(now=datetime(2024, 3, 14, 8, 1))) == "session.in_past"


def test_unknown_room():
    assert code_of(lambda: new(room="Gymnase")) == "room.unknown"


def test_overlap_in_the_same_room_is_refused_but_back_to_back_is_fine():
    first = new(1, time="08:00")
    assert (
        code_of(lambda: new(2, time="09:59", existing=[first], invigilators=["Other"])) == "session.overlap"
    )
    new(2, time="10:00", existing=[first], invigilators=["Other"])
    new(3, room="CDI", time="08:30", existing=[first], invigilators=["Other"])


def test_an_invigilator_cannot_be_in_two_rooms_at_once():
    first = new(1, time="08:00")
    assert code_of(lambda: new(2, room="CDI", time="09:00", existing=[first])) == "invigilator.busy"


def test_required_fields():
    assert code_of(lambda: new(invigilators=[" "])) == "session.invigilator_required"


def test_editable_until_a_test_started():
    session = new(1)
    moved = update_session(
        session,
        calendar=COLLEGE,
        rooms=ROOMS,
        existing=[session],
        now=NOW,
        time="10:00",
        observations="tiers temps",
    )
    assert moved.time == "10:00" and moved.observations == "tiers temps"
    assert moved.access_code == session.access_code
    started = record_test_started(moved, datetime(2024, 3, 14, 10, 5))
    assert (
        code_of(
            lambda: update_session(started, calendar=COLLEGE, rooms=ROOMS, existing=[], now=NOW, room="CDI")
        )
        == "session.started"
    )


def test_editing_other_fields_of_a_session_whose_start_has_passed_is_allowed_until_started():
    session = new(1)
    later = datetime(2024, 3, 14, 8, 30)
    assert (
        update_session(
            session, calendar=COLLEGE, rooms=ROOMS, existing=[], now=later, invigilators=["M. Martin"]
        ).examiner
        == "M. Martin"
    )
    assert (
        code_of(
            lambda: update_session(
                session, calendar=COLLEGE, rooms=ROOMS, existing=[], now=later, time="08:15"
            )
        )
        == "session.in_past"
    )


def test_deletion_refused_once_a_test_started():
    session = new(1)
    ensure_deletable(session)
    started = record_test_started(session, datetime(2024, 3, 14, 8, 10))
    assert code_of(lambda: ensure_deletable(started)) == "session.started"
    assert record_test_started(started, datetime(2024, 3, 14, 9)).first_test_started_at == datetime(
        2024, 3, 14, 8, 10
    )
