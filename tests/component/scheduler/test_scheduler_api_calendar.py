"""The calendar as the operator's data and the certifying classes by MEF, through the scheduler's
HTTP app on a real PostgreSQL: the checklist's warnings, the refusal before Pix Certif opens, and the
planner's default classes."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest

from services.scheduler.app import definition
from services.scheduler.domain.calendar import CALENDAR_FILE
from shared.clock import ManualClock
from tests.component.scheduler.builders import NOW, add_class, error_code, new_uai, put_school, snapshot

pytestmark = pytest.mark.integration

THIRD, FIFTH, TERMINALE = "10310019110", "10110001110", "20212012110"


async def collège(svc) -> tuple[str, dict[str, list[str]]]:
    """A collège whose roster holds two 3e classes and a 5e class (SIECLE MEF codes)."""
    uai = new_uai()
    await put_school(svc, uai, level="college", name="Collège Colette")
    classes = {
        "3A": await add_class(svc, uai, "3A", 12, mef_code=THIRD),
        "3B": await add_class(svc, uai, "3B", 10, mef_code=THIRD),
        "5A": await add_class(svc, uai, "5A", 9, mef_code=FIFTH),
    }
    return uai, classes


def planned(plan: dict) -> dict[str, int]:
    found: dict[str, int] = {}
    for session in plan["sessions"]:
        for group in session["classes"]:
            found[group["division"]] = found.get(group["division"], 0) + group["students"]
    return found


async def test_the_planner_takes_the_certifying_classes_by_mef_by_default(svc):
    svc.runtime.clock = ManualClock(datetime(2026, 2, 16, 8, tzinfo=UTC))  # Pix Certif (collège) open
    uai, classes = await collège(svc)
    response = await svc.http.post(f"/schools/{uai}/plans", json={})
    assert response.status_code == 201, response.text
    plan = response.json()
    assert plan["status"] == "proposed" and plan["divisions"] is None
    assert planned(plan) == {"3A": 12, "3B": 10}
    assert sorted(lid for s in plan["sessions"] for lid in s["learner_ids"]) == sorted(
        classes["3A"] + classes["3B"]
    )
    assert "classes certifiantes (selon le MEF) : 3A, 3B" in plan["notes"]
    assert any("5A (5e, MEF 10110001110)" in note for note in plan["notes"]), plan["notes"]
    assert plan["warnings"] == []
    confirmed = await svc.http.post(f"/plans/{plan['plan_id']}/confirm")
    assert confirmed.status_code == 200, confirmed.text
    assert len(confirmed.json()["session_ids"]) == len(plan["sessions"])


async def test_another_class_only_when_asked_and_then_with_a_warning(svc):
    svc.runtime.clock = ManualClock(datetime(2026, 2, 16, 8, tzinfo=UTC))
    uai, _ = await collège(svc)
    plan = (await svc.http.post(f"/schools/{uai}/plans", json={"divisions": ["3A", "5A"]})).json()
    assert planned(plan) == {"3A": 12, "5A": 9}
    assert plan["warnings"] == [
        "classe 5A (5e, MEF 10110001110) demandée explicitement : son MEF n'est pas un niveau certifiant"
        " (3e ; terminale, CAP, BTS 2e année, CPGE 2e année)"
    ]
    stored = (await svc.http.get(f"/plans/{plan['plan_id']}")).json()
    assert stored["warnings"] == plan["warnings"]


async def test_a_plan_before_pix_certif_opens_says_so_and_cannot_be_confirmed_until_then(svc):
    uai, _ = await collège(svc)  # NOW: October 2025, Pix Certif opens to collèges on 16/02/2026
    plan = (await svc.http.post(f"/schools/{uai}/plans", json={})).json()
    assert plan["status"] == "proposed", plan
    assert (
        "Pix Certif n'ouvre qu'à partir du 16/02/2026 : la proposition ne pourra être confirmée (sessions"
        " créées) qu'à partir de cette date"
    ) in plan["notes"]
    assert all(date.fromisoformat(s["date"]) >= date(2026, 2, 16) for s in plan["sessions"])
    before = await snapshot(svc)
    refused = await svc.http.post(f"/plans/{plan['plan_id']}/confirm")
    assert (refused.status_code, error_code(refused)) == (409, "session.before_pix_certif_opening")
    assert "16/02/2026" in refused.json()["error"]["message"]
    assert await snapshot(svc) == before
    svc.runtime.clock = ManualClock(datetime(2026, 2, 16, 8, tzinfo=UTC))
    confirmed = await svc.http.post(f"/plans/{plan['plan_id']}/confirm")
    assert confirmed.status_code == 200, confirmed.text


async def test_the_checklist_shows_the_year_its_warnings_and_the_classes_by_mef(svc):
    uai, _ = await collège(svc)
    checklist = (await svc.http.get(f"/schools/{uai}/checklist")).json()
    assert checklist["calendar"] == {
        "school_year": "2025-2026",
        "track": "college",
        "state": "published",
        "window": {"start": "2026-03-16", "end": "2026-06-13"},
        "catch_up": {"start": "2026-06-15", "end": "2026-06-19"},
        "pix_certif_opening": "2026-02-16",
        "pix_certif_opening_estimated": True,
        "note": "",
        "source": checklist["calendar"]["source"],
    }
    assert checklist["warnings"] == [
        "date d'ouverture de Pix Certif collège 2025-2026 estimée (16/02/2026), non publiée par Pix",
        "Pix Certif n'ouvre qu'à partir du 16/02/2026 : aucune session ne peut être créée avant",
    ]
    assert checklist["certifying_divisions"] == ["3A", "3B"]
    assert [(c["division"], c["level"], c["certifying"], c["learners"]) for c in checklist["classes"]] == [
        ("3A", "3e", True, 12),
        ("3B", "3e", True, 10),
        ("5A", "5e", False, 9),
    ]


async def test_the_checklist_warns_of_a_provisional_year(svc):
    svc.runtime.clock = ManualClock(datetime(2026, 12, 4, 8, tzinfo=UTC))
    uai = new_uai()
    await put_school(svc, uai)  # a lycée
    checklist = (await svc.http.get(f"/schools/{uai}/checklist")).json()
    assert checklist["calendar"]["state"] == "provisional"
    assert checklist["warnings"][0].startswith("calendrier lycée 2026-2027 provisoire (dates officielles non")


async def test_a_current_year_missing_from_the_operator_file(start_service, tmp_path):
    data = json.loads(CALENDAR_FILE.read_text(encoding="utf-8"))
    only_2023 = {"years": {"2023-2024": data["years"]["2023-2024"]}}
    path = tmp_path / "calendar.json"
    path.write_text(json.dumps(only_2023), encoding="utf-8")
    svc = await start_service(definition, scheduler_calendar_file=path)
    svc.runtime.clock = ManualClock(NOW)
    uai = new_uai()
    await put_school(svc, uai)
    await add_class(svc, uai, "T1", 5, mef_code=TERMINALE)
    checklist = (await svc.http.get(f"/schools/{uai}/checklist")).json()
    assert checklist["calendar"]["state"] == "missing" and checklist["calendar"]["window"] is None
    assert checklist["warnings"] == [
        "aucun calendrier de certification lycée pour 2025-2026 : les sessions de cette année sont"
        " refusées (calendar.unknown) tant que l'opérateur n'a pas chargé ce calendrier"
    ]
    refused = await svc.http.post(f"/schools/{uai}/plans", json={})
    assert (refused.status_code, error_code(refused)) == (422, "calendar.unknown")
