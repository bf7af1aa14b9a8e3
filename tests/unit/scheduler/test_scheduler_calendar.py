import json
from datetime import date

import pytest

from services.scheduler.domain.calendar import (
    CertificationCalendar,
    SchoolLevel,
    Track,
    Window,
    school_year_of,
)
from services.scheduler.domain.errors import DomainError

CALENDAR = CertificationCalendar.load()


def test_2023_2024_windows_and_openings():
    lycee = CALENDAR.for_level("2023-2024", SchoolLevel.LYCEE)
    college = CALENDAR.for_level("2023-2024", SchoolLevel.COLLEGE)
    assert lycee.window == Window(date(2023, 11, 6), date(2024, 3, 29))
    assert lycee.pix_certif_opening == date(2023, 10, 9)
    assert college.window == Window(date(2024, 3, 4), date(2024, 6, 14))
    assert college.pix_certif_opening == date(2024, 2, 5)


@pytest.mark.parametrize(
    "level",
    [
        SchoolLevel.LYCEE_PRO,
        SchoolLevel.CAP,
        SchoolLevel.BTS,
        SchoolLevel.CPGE,
        SchoolLevel.AGRICULTURE,
        SchoolLevel.AEFE,
    ],
)
def test_every_non_college_level_follows_the_lycee_dates(level):
    assert CALENDAR.for_level("2024-2025", level) == CALENDAR.for_level("2024-2025", Track.LYCEE)


def test_later_years_from_the_reference():
    assert CALENDAR.for_level("2024-2025", Track.LYCEE).window == Window(date(2024, 11, 7), date(2025, 3, 7))
    assert CALENDAR.for_level("2024-2025", Track.COLLEGE).window == Window(
        date(2025, 3, 17), date(2025, 6, 13)
    )
    college_2026 = CALENDAR.for_level("2025-2026", Track.COLLEGE)
    assert college_2026.catch_up == Window(date(2026, 6, 15), date(2026, 6, 19))
    assert college_2026.allows(date(2026, 6, 18))
    assert not college_2026.allows(date(2026, 6, 14))


def test_refusal_names_the_window():
    with pytest.raises(DomainError) as caught:
        CALENDAR.check_session_date(date(2024, 6, 16), SchoolLevel.COLLEGE)
    assert caught.value.code == "session.outside_window"
    assert caught.value.message == (
        "16/06/2024 est hors de la fenêtre de certification collège 2023-2024 (04/03/2024 – 14/06/2024)"
    )


def test_window_bounds_are_inclusive():
    college = CALENDAR.for_level("2023-2024", Track.COLLEGE)
    college.check_session_date(date(2024, 3, 4))
    college.check_session_date(date(2024, 6, 14))
    with pytest.raises(DomainError):
        college.check_session_date(date(2024, 3, 3))


def test_unknown_year_is_a_domain_error():
    with pytest.raises(DomainError) as caught:
        CALENDAR.for_level("2030-2031", Track.LYCEE)
    assert caught.value.code == "calendar.unknown"


def test_a_new_year_is_data_only(tmp_path):
    data = json.loads((CertificationCalendar.load.__defaults__[0]).read_text(encoding="utf-8"))
    data["years"]["2026-2027"] = {"lycee": {"window": {"start": "2026-11-02", "end": "2027-03-05"}}}
    path = tmp_path / "calendar.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    calendar = CertificationCalendar.load(path)
    assert calendar.for_date(date(2026, 12, 1), SchoolLevel.BTS).window.start == date(2026, 11, 2)
    assert "2026-2027" in calendar.school_years()


@pytest.mark.parametrize(
    ("day", "year"),
    [(date(2023, 9, 1), "2023-2024"), (date(2024, 8, 31), "2023-2024"), (date(2024, 3, 14), "2023-2024")],
)
def test_school_year_of(day, year):
    assert school_year_of(day) == year


def test_pix_certif_opening():
    lycee = CALENDAR.for_level("2023-2024", Track.LYCEE)
    assert not lycee.is_pix_certif_open(date(2023, 10, 8))
    assert lycee.is_pix_certif_open(date(2023, 10, 9))
