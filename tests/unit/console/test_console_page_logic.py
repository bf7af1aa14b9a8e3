"""What the invigilation, finalisation and académie pages work out themselves: the buttons of a
seat, the time left, what the finalisation form lacks, the schools' order and the chart's bars."""

from __future__ import annotations

from services.console.pages_academie import chart, sorted_schools
from services.console.pages_finalisation import read_form
from services.console.pages_invigilation import seat_actions, time_left

AS_OF = __import__("datetime").datetime.fromisoformat("2025-11-13T08:00:00+00:00")
CANDIDATES = [
    {"candidate_id": "a", "first_name": "Anna", "last_name": "Abel"},
    {"candidate_id": "b", "first_name": "Bob", "last_name": "Bernard"},
]


def seat(state: str, confirmed: bool = False, end: str | None = None) -> dict:
    return {"test_state": state, "presence_confirmed": confirmed, "theoretical_end_at": end}


def test_a_seat_offers_the_buttons_of_where_its_test_stands():
    assert seat_actions(seat("not_started")) == ["presence"]
    assert seat_actions(seat("not_started", confirmed=True)) == ["annuler-presence", "debut"]
    assert seat_actions(seat("started")) == ["reprise", "fin", "termine"]
    assert seat_actions(seat("completed")) == [] == seat_actions(seat("ended_by_invigilator"))


def test_time_left_is_counted_from_the_services_clock():
    assert time_left(seat("started", end="2025-11-13T09:45:30+00:00"), AS_OF) == (
        "105 min restantes (fin prévue à 10:45)"
    )
    assert time_left(seat("started", end="2025-11-13T07:50:00+00:00"), AS_OF) == (
        "Temps dépassé de 10 min (fin prévue à 08:50)"
    )
    assert time_left(seat("completed", end="2025-11-13T09:45:00+00:00"), AS_OF) == ""


def test_the_form_says_what_is_missing_and_where():
    form, _ = read_form({"outcome-a": "completed", "report-a-code": "E4"}, CANDIDATES)
    assert form.errors == {
        "report-a-question": "Anna Abel : le signalement E4 demande le numéro de la question.",
        "outcome-b": "Bob Bernard : indiquez s'il était présent et comment son test s'est terminé.",
        "has_incident-oui": form.errors["has_incident-oui"],
        "has_joining_issue-oui": form.errors["has_joining_issue-oui"],
    }
    absent, _ = read_form(
        {
            "outcome-a": "absent",
            "report-a-code": "C6",
            "outcome-b": "absent",
            "has_incident": "non",
            "has_joining_issue": "oui",
            "room-code": "C1",
        },
        CANDIDATES,
    )
    # an absent candidate's report, a report about one candidate given for the room (C1 wants a
    # description too)
    assert set(absent.errors) == {"report-a-code", "room-code", "room-description"}


def test_a_complete_form_is_the_apis_body():
    form, body = read_form(
        {
            "outcome-a": "completed",
            "outcome-b": "technical",
            "report-b-code": "C7",
            "report-b-description": "écran noir",
            "room-code": "E4",
            "room-question": "12",
            "has_incident": "oui",
            "has_joining_issue": "non",
            "examiner_global_comment": "  ",
        },
        CANDIDATES,
    )
    assert form.problems == []
    assert body == {
        "examiner_global_comment": None,
        "has_incident": True,
        "has_joining_issue": False,
        "candidate_reports": [
            {"candidate_id": "a", "present": True, "abort_reason": None},
            {
                "candidate_id": "b",
                "present": True,
                "abort_reason": "technical",
                "issue_reports": [{"code": "C7", "description": "écran noir", "question_number": None}],
            },
        ],
        "session_incidents": [{"code": "E4", "description": None, "question_number": 12}],
    }
    long, _ = read_form({"examiner_global_comment": "é" * 501}, [])
    assert long.errors["examiner_global_comment"] == "Le commentaire global a 501 caractères : 500 au plus."


def school(uai: str, name: str, step: str, rate: float | None) -> dict:
    return {"uai": uai, "name": name, "step": step, "certifiability_rate": rate}


def test_schools_sort_by_any_column_steps_in_their_order():
    steps = ["planned", "convoked", "held"]
    schools = [
        school("2", "b", "done", 0.5),
        school("1", "A", "convoked", None),
        school("3", "c", "planned", 0.9),
    ]
    assert [s["uai"] for s in sorted_schools(schools, steps, "etape", False)] == ["3", "1", "2"]
    assert [s["uai"] for s in sorted_schools(schools, steps, "nom", True)] == ["3", "2", "1"]
    # a school with no learner has no rate: after every rate, whichever the order
    assert [s["uai"] for s in sorted_schools(schools, steps, "certifiabilite", False)] == ["2", "3", "1"]
    assert [s["uai"] for s in sorted_schools(schools, steps, "certifiabilite", True)] == ["3", "2", "1"]


def test_the_chart_draws_each_step_in_proportion():
    drawn = chart(
        {"schools": 4, "steps": [{"label": "planifié", "reached": 4}, {"label": "convoqué", "reached": 1}]}
    )
    full, quarter = (b["width"] for b in drawn["bars"])
    assert abs(full - 4 * quarter) <= 2 and drawn["bars"][1]["y"] > drawn["bars"][0]["y"]
