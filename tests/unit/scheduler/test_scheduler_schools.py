"""The school rules without a database: UAI shape, description checks, rooms kept, names, capacity."""

from __future__ import annotations

from datetime import date

import pytest

from services.scheduler.domain.errors import DomainError
from services.scheduler.domain.planner import Room
from services.scheduler.domain.schools import (
    check_rooms_kept,
    check_school,
    normalise_uai,
    room_name,
    site_for,
    staff_members,
)
from services.scheduler.domain.sessions import Session, check_room_capacity, name_key
from services.scheduler.schemas import HoursIn

HOURS = HoursIn().model_dump(mode="json")
ROOMS = (Room("Salle 101", 30), Room("CDI", 18, "Bâtiment B"))


def code_of(call) -> str:
    with pytest.raises(DomainError) as caught:
        call()
    return caught.value.code


def session(room: str, day: date) -> Session:
    return Session(1, "Site", room, ("Mme Dupré",), day, "08:30", "BCDF23", "kjHv!7")


@pytest.mark.parametrize("given", ["0870045P", " 0870045p ", "1234567A"])  # shape only, as before
def test_a_uai_is_seven_digits_and_a_letter_upper_cased(given: str) -> None:
    assert normalise_uai(given) == given.strip().upper()


@pytest.mark.parametrize("given", ["087004P", "08700455", "A870045P", "0870045PP", ""])
def test_other_uais_are_refused(given: str) -> None:
    assert code_of(lambda: normalise_uai(given)) == "school.invalid_uai"


def test_a_description_is_refused_for_bad_hours_or_a_name_given_twice() -> None:
    check_school(HOURS, ["Salle 101", "CDI"], ["Mme Dupré"])
    assert code_of(lambda: check_school({**HOURS, "morning": {"start": "8h", "end": "12:00"}}, [], [])) == (
        "school.invalid_hours"
    )
    backwards = {**HOURS, "closures": [{"start": "2025-12-20", "end": "2025-12-01", "label": ""}]}
    assert code_of(lambda: check_school(backwards, [], [])) == "school.invalid_hours"
    assert code_of(lambda: check_school(HOURS, ["CDI", " cdi"], [])) == "school.duplicate_room"
    assert code_of(lambda: check_school(HOURS, [], ["M. Martin", "m.  martin"])) == "school.duplicate_staff"


def test_a_room_a_coming_session_uses_must_stay_whatever_its_spelling() -> None:
    coming, past = session("CDI", date(2025, 11, 13)), session("Labo", date(2025, 9, 1))
    check_rooms_kept(["Salle 101", "cdi"], [coming, past], today=date(2025, 10, 1))  # Labo's session is over
    with pytest.raises(DomainError) as caught:
        check_rooms_kept(["Salle 101"], [coming], today=date(2025, 10, 1))
    assert caught.value.code == "room.in_use" and caught.value.details == {"rooms": ["CDI"]}


def test_names_compare_without_case_or_spacing_and_keep_the_schools_spelling() -> None:
    assert name_key("  Salle   101 ") == name_key("salle 101")
    assert room_name(ROOMS, "salle  101") == "Salle 101"
    assert room_name(ROOMS, "Gymnase") == "Gymnase"
    assert site_for(ROOMS, "cdi", None, "Principal") == "Bâtiment B"
    assert site_for(ROOMS, "Salle 101", None, "Principal") == "Principal"
    assert site_for(ROOMS, "cdi", "Annexe", "Principal") == "Annexe"


def test_a_room_must_seat_the_candidates_already_enrolled() -> None:
    check_room_capacity(session("CDI", date(2025, 11, 13)), ROOMS, 18)
    with pytest.raises(DomainError) as caught:
        check_room_capacity(session("CDI", date(2025, 11, 13)), ROOMS, 19)
    assert caught.value.code == "room.capacity_exceeded"
    assert caught.value.details == {"capacity": 18, "enrolled": 19}


def test_stored_availability_becomes_the_planners_staff() -> None:
    always, once = staff_members(
        [("Mme Dupré", None), ("M. Martin", [{"date": "2025-11-13", "half_day": "morning"}])]
    )
    assert always.available is None
    assert once.is_available(date(2025, 11, 13), "morning") and not once.is_available(
        date(2025, 11, 13), "afternoon"
    )
