"""The calendar file as an operator writes it: the packaged years, and every rule a bad file breaks."""

import json
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
import structlog

from services.scheduler import app as scheduler_app
from services.scheduler.app import Settings, warn_about_the_current_year
from services.scheduler.domain.calendar import (
    CALENDAR_FILE,
    CalendarState,
    CertificationCalendar,
    Track,
    Window,
)
from services.scheduler.domain.calendar_file import CalendarFileError, read_calendar_file
from services.scheduler.domain.errors import DomainError
from services.scheduler.usecases.common import SchoolClock

CALENDAR = CertificationCalendar.load()


def test_the_packaged_file_has_2023_2024_to_2026_2027():
    assert {"2023-2024", "2024-2025", "2025-2026", "2026-2027"} <= set(CALENDAR.school_years())


def test_the_published_2025_2026_windows_and_catch_up_weeks():
    lycee = CALENDAR.for_level("2025-2026", Track.LYCEE)
    college = CALENDAR.for_level("2025-2026", Track.COLLEGE)
    assert (lycee.window, lycee.catch_up) == (
        Window(date(2025, 11, 3), date(2026, 3, 6)),
        Window(date(2026, 3, 9), date(2026, 3, 13)),
    )
    assert (college.window, college.catch_up) == (
        Window(date(2026, 3, 16), date(2026, 6, 13)),
        Window(date(2026, 6, 15), date(2026, 6, 19)),
    )
    assert not lycee.provisional and not college.provisional
    # Pix never published them: estimated, 4 weeks before the window as in 2023-2024
    assert (lycee.pix_certif_opening, lycee.opening_estimated) == (date(2025, 10, 6), True)
    assert (college.pix_certif_opening, college.opening_estimated) == (date(2026, 2, 16), True)


def test_2026_2027_is_provisional_with_its_note():
    status = CALENDAR.status("2026-2027", Track.COLLEGE)
    assert status.state is CalendarState.PROVISIONAL
    assert "2025-2026" in status.calendar.note
    warnings = status.warnings(date(2026, 12, 4))
    assert warnings[0].startswith("calendrier collège 2026-2027 provisoire")
    assert (
        warnings[-1]
        == "Pix Certif n'ouvre qu'à partir du 15/02/2027 : aucune session ne peut être créée avant"
    )


def test_a_year_without_calendar_is_missing_and_says_so():
    status = CALENDAR.status("2027-2028", Track.LYCEE)
    assert status.state is CalendarState.MISSING
    assert status.warnings(date(2027, 9, 1))[0].startswith(
        "aucun calendrier de certification lycée pour 2027-2028"
    )


def test_a_published_year_with_pix_certif_open_has_no_warning():
    assert CALENDAR.status("2023-2024", Track.LYCEE).warnings(date(2023, 10, 9)) == ()


def test_session_creation_before_the_opening_names_the_date():
    lycee = CALENDAR.for_level("2023-2024", Track.LYCEE)
    lycee.check_pix_certif_open(date(2023, 10, 9))
    with pytest.raises(DomainError) as caught:
        lycee.check_pix_certif_open(date(2023, 10, 8))
    assert caught.value.code == "session.before_pix_certif_opening"
    assert caught.value.message == (
        "Pix Certif n'ouvre aux centres lycée qu'à partir du 09/10/2023 : aucune session 2023-2024 ne peut"
        " être créée avant"
    )
    assert caught.value.details["pix_certif_opening"] == "2023-10-09"


def _file(tmp_path, year: str, entry: dict) -> str:
    path = tmp_path / "calendar.json"
    path.write_text(json.dumps({"years": {year: entry}}), encoding="utf-8")
    return path


LYCEE = {"window": {"start": "2027-11-02", "end": "2028-03-03"}}


@pytest.mark.parametrize(
    ("year", "entry", "problem"),
    [
        (
            "2027-2028",
            {"lycee": {**LYCEE, "catch_up": {"start": "2028-03-01", "end": "2028-03-10"}}},
            "year 2027-2028, field lycee.catch_up.start: the catch-up week (2028-03-01) must start after the"
            " window ends (2028-03-03); it overlaps the window",
        ),
        (
            "2027-2028",
            {"lycee": {"window": {"start": "2027-11-02", "end": "2028-09-15"}}},
            "year 2027-2028, field lycee.window.end: 2028-09-15 is outside the school year 2027-2028"
            " (2027-09-01 – 2028-08-31)",
        ),
        (
            "2027-2028",
            {"lycee": {"window": {"start": "2028-03-03", "end": "2027-11-02"}}},
            "year 2027-2028, field lycee.window.end: 2027-11-02 is before start 2028-03-03",
        ),
        (
            "2027-2028",
            {"lycee": {**LYCEE, "pix_certif_opening": "2027-11-10"}},
            "year 2027-2028, field lycee.pix_certif_opening: Pix Certif opens (2027-11-10) after the window"
            " starts (2027-11-02)",
        ),
        (
            "2027-2028",
            {"provisional": True, "lycee": LYCEE},
            "year 2027-2028, field note: a provisional year says why in a note",
        ),
        (
            "2027-2028",
            {"lycee": {**LYCEE, "window": {"start": "2027-11-31", "end": "2028-03-03"}}},
            "year 2027-2028, field lycee.window.start: Input should be a valid date or datetime, day value is"
            " outside expected range",
        ),
        ("2027-2029", {"lycee": LYCEE}, "year 2027-2029, field (the year itself): a school year is written"),
        (
            "2027-2028",
            {"lycee": {**LYCEE, "opening": "2027-10-04"}},
            "year 2027-2028, field lycee.opening: Extra inputs",
        ),
    ],
)
def test_a_bad_file_names_the_file_the_year_and_the_field(tmp_path, year, entry, problem):
    path = _file(tmp_path, year, entry)
    with pytest.raises(CalendarFileError) as caught:
        read_calendar_file(path)
    assert str(caught.value).startswith(f"calendar file {path}: ")
    assert caught.value.problems[0].startswith(problem)


def test_a_file_that_is_not_json_names_the_line(tmp_path):
    path = tmp_path / "calendar.json"
    path.write_text('{"years": {\n  "2027-2028": {,}\n}}', encoding="utf-8")
    with pytest.raises(CalendarFileError, match=r"calendar\.json: line 2: not JSON"):
        read_calendar_file(path)


def test_a_bad_file_stops_the_service_at_start_up(tmp_path, monkeypatch):
    path = _file(tmp_path, "2027-2028", {"lycee": {"window": {"start": "2027-11-02", "end": "2028-09-15"}}})
    monkeypatch.setenv("SCHEDULER_CALENDAR_FILE", str(path))
    with pytest.raises(ValueError, match=r"year 2027-2028, field lycee\.window\.end"):
        Settings()


def test_the_operator_file_is_read_from_the_setting_and_its_former_name(tmp_path, monkeypatch):
    path = _file(tmp_path, "2027-2028", {"lycee": LYCEE})
    monkeypatch.setenv("SCHEDULER_CALENDAR_FILE", str(path))
    assert Settings().scheduler_calendar_file == path
    monkeypatch.delenv("SCHEDULER_CALENDAR_FILE")
    assert Settings().scheduler_calendar_file == CALENDAR_FILE
    monkeypatch.setenv("CALENDAR_FILE", str(path))
    assert Settings().scheduler_calendar_file == path
    assert CertificationCalendar.load(path).school_years() == ("2027-2028",)


def _logged_at(day: datetime, calendar: CertificationCalendar) -> list[dict]:
    """What start-up logs on that day (a fresh logger: the module's own may already be cached on the
    real configuration by an earlier test that built the app, and would bypass the capture)."""
    clock = SchoolClock(lambda: day, ZoneInfo("Europe/Paris"))
    with structlog.testing.capture_logs() as logs, pytest.MonkeyPatch.context() as patch:
        patch.setattr(scheduler_app, "log", structlog.get_logger(scheduler_app.__name__))
        warn_about_the_current_year(calendar, clock, CALENDAR_FILE)
    return logs


def test_start_up_warns_when_the_current_year_is_provisional():
    logs = _logged_at(datetime(2026, 12, 4, 8, tzinfo=UTC), CALENDAR)
    assert [(x["event"], x["log_level"], x["track"]) for x in logs] == [
        ("calendar.current_year_provisional", "warning", "college"),
        ("calendar.current_year_provisional", "warning", "lycee"),
    ]
    assert logs[0]["school_year"] == "2026-2027" and logs[0]["calendar_file"] == str(CALENDAR_FILE)
    assert logs[0]["warnings"][0].startswith("calendrier collège 2026-2027 provisoire")


def test_start_up_warns_when_the_current_year_is_missing_and_not_when_it_is_published():
    missing = _logged_at(datetime(2027, 10, 1, 8, tzinfo=UTC), CALENDAR)
    assert {(x["event"], x["school_year"]) for x in missing} == {
        ("calendar.current_year_missing", "2027-2028")
    }
    assert _logged_at(datetime(2025, 12, 1, 8, tzinfo=UTC), CALENDAR) == []
