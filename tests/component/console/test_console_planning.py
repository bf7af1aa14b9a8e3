"""Page 3, Planning, against the real scheduler app and Keycloak: rooms and staff, the proposed plan
as a week of half-days × rooms, its confirmation, an impossible plan's explanation, and the session
page's tabs and Modifier form."""

from __future__ import annotations

import html
import re

import pytest

from tests.component.console.test_console_certifiability import rows_of
from tests.component.scheduler.builders import school_body
from tests.console_support import (
    IN_PROCESS_URL,
    PLANNED_CLASS,
    PLANNED_CLASS_SIZE,
    SCHOOL_NAMES,
    bearer,
    console_app,
    in_process,
    seed,
    sign_in,
    staff,
)
from tests.keycloak import SCHOOL_A, SCHOOL_B

pytestmark = pytest.mark.integration

PUBLIC_URL = IN_PROCESS_URL
PAGE = f"/etablissements/{SCHOOL_A}/planification"


@pytest.fixture
async def seeded(start_service, tmp_path):
    return await seed(start_service, tmp_path)


@pytest.fixture
async def console(seeded):
    async with in_process(console_app(seeded, PUBLIC_URL)) as http:
        await sign_in(http, staff(SCHOOL_A))
        yield http


async def _school_sessions(seeded) -> list[dict]:
    found = await seeded.scheduler.http.get(f"/schools/{SCHOOL_A}/sessions", headers=bearer(SCHOOL_A))
    return found.json()


async def test_the_page_shows_rooms_workstations_and_staff_availability(console, seeded):
    body = school_body(name=SCHOOL_NAMES[SCHOOL_A])
    body["staff"][2]["availability"] = [{"date": "2025-11-04", "half_day": "morning"}]
    assert (
        await seeded.scheduler.http.put(f"/schools/{SCHOOL_A}", json=body, headers=bearer(SCHOOL_A))
    ).status_code == 200
    page = await console.get(PAGE)
    assert page.status_code == 200, page.text
    assert rows_of(page.text, "rooms-table") == [
        ["Salle 101", "30", "Bâtiment principal"],
        ["CDI", "18", "Bâtiment B"],
    ]
    assert rows_of(page.text, "staff-table") == [
        ["Mme Dupré", "à toute demi-journée d'ouverture"],
        ["M. Martin", "à toute demi-journée d'ouverture"],
        ["Mme Cœur", "04/11/2025 matin"],
    ]
    assert f'value="{PLANNED_CLASS}"' in page.text


async def test_a_proposed_plan_is_a_week_of_half_days_by_rooms_then_confirmed(console, seeded):
    before = await _school_sessions(seeded)
    proposed = await console.post(PAGE, data={"divisions": [PLANNED_CLASS]})
    assert proposed.status_code == 303, proposed.text
    plan_url = proposed.headers["location"]
    assert re.search(r"/planifications/[0-9a-f-]{36}$", plan_url)
    page = await console.get(plan_url)
    assert page.status_code == 200, page.text
    text = " ".join(html.unescape(page.text).split())
    assert "Proposé" in text and "Confirmer le planning" in text
    assert f"{PLANNED_CLASS_SIZE} élève(s) à placer ({PLANNED_CLASS}), 1 session(s)" in text
    # the week: Monday to Friday, morning and afternoon, a column per room
    head = page.text[page.text.index('id="week-1"') :]
    assert re.search(r"<caption>Semaine du \d\d/\d\d/\d{4}</caption>", head)
    rows = rows_of(page.text, "week-1")
    assert [r[0].split()[0] for r in rows[::2]] == ["Lundi", "Mardi", "Mercredi", "Jeudi", "Vendredi"]
    assert all(len(r) == 3 for r in rows)  # the half-day, then Salle 101 and CDI
    filled = [cell for r in rows for cell in r[1:] if cell not in ("—", "fermé")]
    assert len(filled) == 1 and f"{PLANNED_CLASS} ({PLANNED_CLASS_SIZE} élève(s))" in filled[0]
    wednesday_afternoon = rows[5]  # the default hours: Wednesday morning only
    assert wednesday_afternoon[0].startswith("Mercredi") and wednesday_afternoon[1:] == ["fermé", "fermé"]
    assert (await _school_sessions(seeded)) == before  # a proposal creates nothing

    confirmed = await console.post(f"{plan_url}/confirmer")
    assert confirmed.status_code == 303 and confirmed.headers["location"].endswith(plan_url)
    done = html.unescape((await console.get(plan_url)).text)
    assert "Planning confirmé" in done and "Confirmer le planning" not in done
    created = [s for s in await _school_sessions(seeded) if s["plan_id"]]
    assert [s["candidates_count"] for s in created] == [PLANNED_CLASS_SIZE]

    again = await console.post(f"{plan_url}/confirmer")
    assert again.status_code == 409
    assert "Confirmation refusée" in html.unescape(again.text) and "plan.already_confirmed" in again.text


async def test_an_impossible_plan_says_why_and_offers_no_confirmation(console, seeded):
    body = school_body(name=SCHOOL_NAMES[SCHOOL_A], staff=[])
    await seeded.scheduler.http.put(f"/schools/{SCHOOL_A}", json=body, headers=bearer(SCHOOL_A))
    proposed = await console.post(PAGE, data={"divisions": [PLANNED_CLASS]})
    page = await console.get(proposed.headers["location"])
    text = html.unescape(page.text)
    assert "Impossible" in text and "Aucun planning possible" in text
    assert "aucun surveillant" in text
    assert "Confirmer le planning" not in text


async def test_a_class_the_school_does_not_have_is_refused_on_the_planning_page(console):
    refused = await console.post(PAGE, data={"divisions": ["ZZ9"]})
    assert refused.status_code == 422
    assert "Planification refusée" in html.unescape(refused.text) and "class.unknown" in refused.text


async def test_the_session_page_has_its_tabs_its_documents_and_a_modifier_form(console, seeded):
    session_id = seeded.sessions[SCHOOL_A]
    page = await console.get(f"/sessions/{session_id}")
    text = html.unescape(page.text)
    assert 'role="tablist"' in text and ">Détails</button>" in text and ">Candidats (3)</button>" in text
    assert f"/sessions/{session_id}/documents/attendance-sheet.pdf" in text
    assert f'href="{PUBLIC_URL}/sessions/{session_id}/modifier"' in text

    form = await console.get(f"/sessions/{session_id}/modifier")
    assert form.status_code == 200 and 'value="13:30"' not in form.text
    assert '<option value="Salle 101" selected>' in form.text
    saved = await console.post(
        f"/sessions/{session_id}/modifier",
        data={
            "room": "CDI",
            "invigilators": ["Mme Dupré", "M. Martin"],
            "date": "2025-11-13",
            "time": "13:30",
            "site": "Bâtiment B",
            "observations": "Apporter les casques",
        },
    )
    assert saved.status_code == 303 and saved.headers["location"].endswith(f"/sessions/{session_id}")
    detail = (await seeded.scheduler.http.get(f"/sessions/{session_id}", headers=bearer(SCHOOL_A))).json()
    assert (detail["room"], detail["time"], detail["observations"]) == (
        "CDI",
        "13:30",
        "Apporter les casques",
    )

    refused = await console.post(
        f"/sessions/{session_id}/modifier",
        data={
            "room": "CDI",
            "invigilators": ["Mme Dupré"],
            "date": "2026-06-30",
            "time": "13:30",
            "site": "Bâtiment B",
        },
    )
    assert refused.status_code == 422, refused.text
    text = html.unescape(refused.text)
    assert "Modification refusée" in text and "session.outside_window" in text
    assert 'value="2026-06-30"' in text  # what was typed is kept
    unreadable = await console.post(
        f"/sessions/{session_id}/modifier",
        data={
            "room": "CDI",
            "invigilators": ["Mme Dupré"],
            "date": "2026-13-45",
            "time": "13:30",
            "site": "B",
        },
    )
    assert unreadable.status_code == 422 and "Valeur non valide : Date." in html.unescape(unreadable.text)
    unchanged = (await seeded.scheduler.http.get(f"/sessions/{session_id}", headers=bearer(SCHOOL_A))).json()
    assert unchanged["date"] == "2025-11-13"


async def test_another_schools_planning_and_sessions_cannot_be_changed(console, seeded):
    assert (await console.get(f"/etablissements/{SCHOOL_B}/planification")).status_code == 404
    assert (await console.post(f"/etablissements/{SCHOOL_B}/planification", data={})).status_code == 404
    other = seeded.sessions[SCHOOL_B]
    assert (await console.get(f"/sessions/{other}/modifier")).status_code == 404
    posted = await console.post(
        f"/sessions/{other}/modifier",
        data={"room": "CDI", "invigilators": ["Mme Dupré"], "date": "2025-11-13", "time": "10:00"},
    )
    assert posted.status_code == 404


RESOURCES = f"{PAGE}/salles-et-surveillants"


def resources(rooms: list[tuple[str, str, str]], staff: list[tuple[str, str]]) -> dict[str, list[str]]:
    return {
        "room_name": [r[0] for r in rooms],
        "room_workstations": [r[1] for r in rooms],
        "room_site": [r[2] for r in rooms],
        "staff_name": [s[0] for s in staff],
        "staff_availability": [s[1] for s in staff],
    }


async def _school(seeded) -> dict:
    """The school as the form writes it: its classes are left out, they are the scheduler's read
    model of eligibility's events, which other tests' rosters on the shared topics keep moving."""
    school = (await seeded.scheduler.http.get(f"/schools/{SCHOOL_A}", headers=bearer(SCHOOL_A))).json()
    school.pop("classes", None)
    return school


async def test_rooms_and_staff_are_changed_through_the_schedulers_put(console, seeded):
    form = await console.get(RESOURCES)
    assert form.status_code == 200 and 'value="Salle 101"' in form.text and 'value="CDI"' in form.text
    before = await _school(seeded)
    saved = await console.post(
        RESOURCES,
        data=resources(
            [("Salle 101", "28", ""), ("CDI", "18", "Bâtiment B"), ("Salle 204", "24", ""), ("", "", "")],
            [
                ("Mme Dupré", ""),
                ("M. Martin", "04/11/2025 matin\n05/11/2025 matin"),
                ("Mme Cœur", ""),
                ("", ""),
            ],
        ),
    )
    assert saved.status_code == 303 and saved.headers["location"].endswith(PAGE)
    after = await _school(seeded)
    assert [(r["name"], r["workstations"]) for r in after["rooms"]] == [
        ("Salle 101", 28),
        ("CDI", 18),
        ("Salle 204", 24),
    ]
    assert after["staff"][1]["availability"] == [
        {"date": "2025-11-04", "half_day": "morning"},
        {"date": "2025-11-05", "half_day": "morning"},
    ]
    for kept in ("name", "level", "city", "site", "hours"):
        assert after[kept] == before[kept], kept
    page = await console.get(PAGE)
    assert ["Salle 204", "24", "Bâtiment principal"] in rows_of(page.text, "rooms-table")


async def test_rooms_and_staff_that_do_not_read_or_that_the_scheduler_refuses_change_nothing(console, seeded):
    before = await _school(seeded)
    unreadable = await console.post(
        RESOURCES, data=resources([("Salle 101", "trente", "")], [("Mme Dupré", "demain matin")])
    )
    assert unreadable.status_code == 422
    text = html.unescape(unreadable.text)
    assert "Rien n'a été enregistré" in text and "le nombre de postes doit être un entier" in text
    assert "Mme Dupré, ligne 1 : « demain matin » n'est pas une demi-journée" in text
    assert 'value="trente"' in text  # what was typed is shown again
    refused = await console.post(
        RESOURCES, data=resources([("CDI", "18", ""), ("CDI", "12", "")], [("Mme Dupré", "")])
    )
    assert refused.status_code == 422 and "school.duplicate_room" in refused.text
    assert await _school(seeded) == before
