"""The proposed plan's week view: half-days × rooms, Monday to Friday, closed half-days marked."""

from __future__ import annotations

import datetime as dt

from services.console.plan_view import plan_weeks


def planned(day: str, half_day: str, room: str, time: str = "08:00") -> dict:
    return {"date": day, "half_day": half_day, "room": room, "time": time, "classes": [], "invigilators": []}


def test_each_week_holding_a_session_is_monday_to_friday_morning_and_afternoon():
    first = planned("2025-11-04", "afternoon", "CDI", "13:30")
    later = planned("2025-11-13", "morning", "Salle 101")
    rooms, weeks = plan_weeks([later, first], ["Salle 101", "CDI"])
    assert rooms == ["Salle 101", "CDI"]
    assert [w.monday for w in weeks] == [dt.date(2025, 11, 3), dt.date(2025, 11, 10)]
    assert [r.label for r in weeks[0].rows[:3]] == [
        "Lundi 03/11 matin",
        "Lundi 03/11 après-midi",
        "Mardi 04/11 matin",
    ]
    assert len(weeks[0].rows) == 10
    cells = {(r.day, r.half_day, room): s for r in weeks[0].rows for room, s in r.cells.items() if s}
    assert cells == {(dt.date(2025, 11, 4), "afternoon", "CDI"): [first]}


def test_a_room_only_the_plan_names_gets_its_column_and_a_saturday_extends_the_week():
    rooms, [week] = plan_weeks([planned("2025-11-08", "morning", "Gymnase")], ["Salle 101"])
    assert rooms == ["Salle 101", "Gymnase"]
    assert week.rows[-1].label == "Samedi 08/11 après-midi"


def test_half_days_the_school_is_closed_are_marked():
    _, [week] = plan_weeks(
        [planned("2025-11-03", "morning", "CDI")],
        ["CDI"],
        {"monday": ["morning", "afternoon"], "wednesday": ["morning"]},
    )
    closed = [r.label for r in week.rows if r.closed]
    assert "Mercredi 05/11 après-midi" in closed and "Mercredi 05/11 matin" not in closed
    assert "Mardi 04/11 matin" in closed  # Tuesday is not among the open days given
    assert not any(r.closed for r in week.rows[:2])
