"""Automatic planning through the API: proposal from the read model, confirmation, and why-not."""

from __future__ import annotations

import math
import uuid
from collections import Counter
from datetime import date

import pytest

from services.scheduler import handlers
from shared.contracts.envelope import Envelope
from shared.contracts.events import LearnerDeactivated
from tests.component.scheduler.builders import (
    NOW,
    add_class,
    add_learner,
    error_code,
    new_uai,
    outbox_events,
    put_school,
    session_body,
    snapshot,
)

pytestmark = pytest.mark.integration


async def lycée(svc, **overrides) -> tuple[str, dict[str, list[str]]]:
    uai = new_uai()
    await put_school(svc, uai, **overrides)
    classes = {
        "T1": await add_class(svc, uai, "T1", 25),
        "T2": await add_class(svc, uai, "T2", 28),
        "T3": await add_class(svc, uai, "T3", 12),
    }
    await add_learner(svc, uai, "T1", certifiable=False)
    return uai, classes


def assert_valid_plan(plan: dict, rooms: dict[str, int], classes: dict[str, list[str]]) -> None:
    sessions = plan["sessions"]
    placed = [lid for s in sessions for lid in s["learner_ids"]]
    assert sorted(placed) == sorted(lid for ids in classes.values() for lid in ids)
    for s in sessions:
        assert len(s["learner_ids"]) <= rooms[s["room"]]
        assert len(s["invigilators"]) >= math.ceil(len(s["learner_ids"]) / 20)
        assert date(2025, 11, 3) <= date.fromisoformat(s["date"]) <= date(2026, 3, 6)
    for key in ("room", "invigilators"):
        booked = Counter(
            (s["date"], s["time"], name)
            for s in sessions
            for name in (s[key] if isinstance(s[key], list) else [s[key]])
        )
        assert max(booked.values()) == 1, f"{key} double-booked"
    divisions = Counter(c["division"] for s in sessions for c in s["classes"])
    assert all(count == 1 for count in divisions.values()), "a class that fits a room was split"


async def test_plan_proposes_then_confirm_creates_sessions_and_enrolments(svc):
    uai, classes = await lycée(svc)
    response = await svc.http.post(f"/schools/{uai}/plans", json={"school_year": "2025-2026"})
    assert response.status_code == 201, response.text
    plan = response.json()
    assert plan["status"] == "proposed" and plan["students"] == 65 and plan["error"] is None
    assert_valid_plan(plan, {"Salle 101": 30, "CDI": 18}, classes)
    assert len(plan["half_days"]) == 1  # 65 students fit one half-day: 2 slots of 48 seats
    assert await svc.pool.fetchval("SELECT count(*) FROM sessions") == 0  # a proposal creates nothing

    confirmed = await svc.http.post(f"/plans/{plan['plan_id']}/confirm")
    assert confirmed.status_code == 200, confirmed.text
    body = confirmed.json()
    assert body["status"] == "confirmed" and len(body["session_ids"]) == len(plan["sessions"])
    sessions = (await svc.http.get(f"/schools/{uai}/sessions")).json()
    assert sum(s["candidates_count"] for s in sessions) == 65
    assert {s["plan_id"] for s in sessions} == {plan["plan_id"]}
    assert len(await outbox_events(svc, "session_created")) == len(sessions)
    enrolled = await outbox_events(svc, "candidates_enrolled")
    assert sorted(c["learner_id"] for e in enrolled for c in e["candidates"]) == sorted(
        lid for ids in classes.values() for lid in ids
    )

    before = await snapshot(svc)
    twice = await svc.http.post(f"/plans/{plan['plan_id']}/confirm")
    assert (twice.status_code, error_code(twice)) == (409, "plan.already_confirmed")
    assert await snapshot(svc) == before

    nothing_left = (await svc.http.post(f"/schools/{uai}/plans", json={"school_year": "2025-2026"})).json()
    assert nothing_left["status"] == "proposed" and nothing_left["sessions"] == []
    assert nothing_left["students"] == 0


async def test_plan_avoids_half_days_already_holding_sessions(svc):
    uai, _ = await lycée(svc)
    manual = await svc.http.post(
        f"/schools/{uai}/sessions", json=session_body(date="2025-11-03", time="08:00")
    )
    assert manual.status_code == 201
    plan = (await svc.http.post(f"/schools/{uai}/plans", json={"school_year": "2025-2026"})).json()
    assert ("2025-11-03", "morning") not in {(h["date"], h["half_day"]) for h in plan["half_days"]}
    assert (await svc.http.post(f"/plans/{plan['plan_id']}/confirm")).status_code == 200


@pytest.mark.parametrize(
    ("overrides", "code", "reason_part"),
    [
        ({"staff": []}, "planner.no_invigilator", "aucun surveillant"),
        ({"rooms": []}, "planner.no_room", "aucune salle"),
        (
            {"staff": [{"name": "Seul", "availability": [{"date": "2025-11-04", "half_day": "morning"}]}]},
            "planner.insufficient_capacity",
            "04/11/2025 matin",
        ),
        (
            {"hours": {"closures": [{"start": "2025-11-01", "end": "2026-03-31", "label": "travaux"}]}},
            "planner.no_school_day",
            "aucun jour de classe",
        ),
    ],
)
async def test_impossible_plan_says_why_and_cannot_be_confirmed(svc, overrides, code, reason_part):
    uai, _ = await lycée(svc, **overrides)
    plan = (await svc.http.post(f"/schools/{uai}/plans", json={"school_year": "2025-2026"})).json()
    assert plan["status"] == "impossible" and plan["sessions"] == []
    assert plan["error"]["code"] == code
    assert any(reason_part in reason for reason in plan["error"]["reasons"]), plan["error"]
    before = await snapshot(svc)
    response = await svc.http.post(f"/plans/{plan['plan_id']}/confirm")
    assert (response.status_code, error_code(response)) == (409, "plan.impossible")
    assert await snapshot(svc) == before


async def test_unknown_school_year_is_refused(svc):
    uai, _ = await lycée(svc)
    response = await svc.http.post(f"/schools/{uai}/plans", json={"school_year": "2031-2032"})
    assert (response.status_code, error_code(response)) == (422, "calendar.unknown")


async def test_plan_made_stale_by_a_roster_change_is_refused_whole(svc):
    uai, classes = await lycée(svc)
    plan = (await svc.http.post(f"/schools/{uai}/plans", json={"school_year": "2025-2026"})).json()
    gone = classes["T2"][0]
    event = LearnerDeactivated(learner_id=gone, uai=uai, division="T2", deactivated_at=NOW)
    async with svc.runtime.unit_of_work() as uow:
        envelope = Envelope.new(source="/certibus/eligibility", type=event.event_type, subject=gone)
        await handlers.on_learner_deactivated(uow, event, envelope)
    before = await snapshot(svc)
    response = await svc.http.post(f"/plans/{plan['plan_id']}/confirm")
    assert (response.status_code, error_code(response)) == (409, "plan.stale")
    assert response.json()["error"]["details"]["learner_ids"] == [gone]
    assert await snapshot(svc) == before


async def test_plan_overtaken_by_a_new_session_is_refused_whole(svc):
    uai, _ = await lycée(svc)
    plan = (await svc.http.post(f"/schools/{uai}/plans", json={"school_year": "2025-2026"})).json()
    first = plan["sessions"][0]
    clash = session_body(room=first["room"], date=first["date"], time=first["time"], invigilators=["Intrus"])
    assert (await svc.http.post(f"/schools/{uai}/sessions", json=clash)).status_code == 201
    before = await snapshot(svc)
    response = await svc.http.post(f"/plans/{plan['plan_id']}/confirm")
    assert (response.status_code, error_code(response)) == (409, "plan.conflict")
    assert response.json()["error"]["details"]["cause"] == "session.overlap"
    assert await snapshot(svc) == before


async def test_unknown_plan_is_404(svc):
    response = await svc.http.post(f"/plans/{uuid.uuid4()}/confirm")
    assert (response.status_code, error_code(response)) == (404, "plan.unknown")


async def test_plan_covers_only_the_divisions_asked_for(svc):
    uai, classes = await lycée(svc)
    await add_class(svc, uai, "2NDE4", 30)  # on the roster, not certified this year
    response = await svc.http.post(
        f"/schools/{uai}/plans", json={"school_year": "2025-2026", "divisions": ["T3", "T1", "T3"]}
    )
    assert response.status_code == 201, response.text
    plan = response.json()
    assert plan["status"] == "proposed" and plan["students"] == 37
    assert plan["divisions"] == ["T3", "T1"]
    assert_valid_plan(plan, {"Salle 101": 30, "CDI": 18}, {"T1": classes["T1"], "T3": classes["T3"]})
    assert (await svc.http.get(f"/plans/{plan['plan_id']}")).json()["divisions"] == ["T3", "T1"]

    assert (await svc.http.post(f"/plans/{plan['plan_id']}/confirm")).status_code == 200
    enrolled = await outbox_events(svc, "candidates_enrolled")
    assert {c["division"] for e in enrolled for c in e["candidates"]} == {"T1", "T3"}

    rest = (await svc.http.post(f"/schools/{uai}/plans", json={"school_year": "2025-2026"})).json()
    assert rest["divisions"] is None and rest["students"] == 28 + 30
    assert {c["division"] for s in rest["sessions"] for c in s["classes"]} == {"T2", "2NDE4"}


async def test_plan_naming_a_class_the_school_does_not_have_is_refused(svc):
    uai, _ = await lycée(svc)
    before = await snapshot(svc)
    response = await svc.http.post(
        f"/schools/{uai}/plans", json={"school_year": "2025-2026", "divisions": ["T1", "TG9"]}
    )
    assert (response.status_code, error_code(response)) == (422, "class.unknown")
    details = response.json()["error"]["details"]
    assert details["divisions"] == ["TG9"] and details["known"] == ["T1", "T2", "T3"]
    assert "TG9" in response.json()["error"]["message"]
    assert await snapshot(svc) == before

    empty = await svc.http.post(f"/schools/{uai}/plans", json={"school_year": "2025-2026", "divisions": []})
    assert (empty.status_code, error_code(empty)) == (422, "request.invalid")
    assert await snapshot(svc) == before


async def test_a_named_class_with_nobody_left_to_plan_plans_nothing(svc):
    uai, _ = await lycée(svc)
    first = (
        await svc.http.post(f"/schools/{uai}/plans", json={"school_year": "2025-2026", "divisions": ["T2"]})
    ).json()
    assert (await svc.http.post(f"/plans/{first['plan_id']}/confirm")).status_code == 200
    again = await svc.http.post(
        f"/schools/{uai}/plans", json={"school_year": "2025-2026", "divisions": ["T2"]}
    )
    assert again.status_code == 201, again.text
    assert again.json()["students"] == 0 and again.json()["sessions"] == []
