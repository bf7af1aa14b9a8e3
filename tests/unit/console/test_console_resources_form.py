"""The rooms-and-staff form read back: rows kept in order, empty names dropped, errors by field."""

from __future__ import annotations

from services.console.resources_form import read_resources_form, typed_rows


def test_rows_read_into_the_schools_rooms_and_staff():
    form = read_resources_form(
        ["Salle 101", "", "CDI"],
        ["30", "", "18"],
        ["", "", "Bâtiment B"],
        ["Mme Dupré", "M. Martin", ""],
        ["", "04/11/2025 matin\n\n5/11/2025 Après-midi", "ignored"],
    )
    assert form.errors == {}
    rooms, staff = form.body()
    assert rooms == [
        {"name": "Salle 101", "workstations": 30, "site": ""},
        {"name": "CDI", "workstations": 18, "site": "Bâtiment B"},
    ]
    assert staff == [
        {"name": "Mme Dupré", "availability": None},
        {
            "name": "M. Martin",
            "availability": [
                {"date": "2025-11-04", "half_day": "morning"},
                {"date": "2025-11-05", "half_day": "afternoon"},
            ],
        },
    ]


def test_what_does_not_read_is_named_by_row_field_and_line():
    form = read_resources_form(
        ["Salle 101"], ["trente"], [""], ["Mme Dupré"], ["04/11/2025 matin\n31/02/2025 matin"]
    )
    assert set(form.errors) == {"room-1-workstations", "staff-1-availability"}
    assert "Salle « Salle 101 »" in form.errors["room-1-workstations"]
    assert form.errors["staff-1-availability"].startswith("Mme Dupré, ligne 2 : « 31/02/2025 matin »")


def test_the_school_as_the_form_shows_it_reads_back_to_the_same():
    school = {
        "rooms": [{"name": "CDI", "workstations": 18, "site": "Bâtiment B"}],
        "staff": [
            {"name": "Mme Cœur", "availability": [{"date": "2025-11-04", "half_day": "afternoon"}]},
            {"name": "M. Martin", "availability": None},
            {"name": "Mme Absente", "availability": []},
        ],
    }
    rooms, staff = typed_rows(school)
    assert staff[0]["availability"] == "04/11/2025 après-midi" and staff[2]["availability"] == "jamais"
    form = read_resources_form(
        [r["name"] for r in rooms],
        [r["workstations"] for r in rooms],
        [r["site"] for r in rooms],
        [s["name"] for s in staff],
        [s["availability"] for s in staff],
    )
    assert form.body() == (school["rooms"], school["staff"])
