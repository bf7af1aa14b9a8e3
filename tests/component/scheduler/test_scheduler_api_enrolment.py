"""Enrolment by class through the API: school boundary, duplicates, certifiability overrides, extra time."""

from __future__ import annotations

import uuid
from datetime import date

import pytest

from tests.component.scheduler.builders import (
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


async def school_with_session(svc, room: str = "Salle 101") -> tuple[str, str]:
    uai = new_uai()
    await put_school(svc, uai)
    session = (await svc.http.post(f"/schools/{uai}/sessions", json=session_body(room=room))).json()
    return uai, session["session_id"]


async def test_enrolling_a_class_takes_only_that_school_and_class(svc):
    uai, sid = await school_with_session(svc)
    t1 = await add_class(svc, uai, "T1", 5)
    await add_class(svc, uai, "T2", 4)
    other = new_uai()
    await add_class(svc, other, "T1", 3)  # same class label, another school

    response = await svc.http.post(
        f"/sessions/{sid}/enrolments", json={"division": "T1", "extra_time": {t1[0]: 33}}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert sorted(c["learner_id"] for c in body["enrolled"]) == sorted(t1)
    assert body["refused"] == [] and body["already_enrolled"] == []

    [event] = await outbox_events(svc, "candidates_enrolled")
    assert event["uai"] == uai and sorted(c["learner_id"] for c in event["candidates"]) == sorted(t1)
    extra = {c["learner_id"]: c["extra_time_percentage"] for c in event["candidates"]}
    assert extra[t1[0]] == 33 and set(extra.values()) == {0, 33}
    assert all(c["ine"] and len(c["ine"]) == 11 for c in event["candidates"])

    detail = (await svc.http.get(f"/sessions/{sid}")).json()
    assert detail["candidates_count"] == 5
    again = (await svc.http.post(f"/sessions/{sid}/enrolments", json={"division": "T1"})).json()
    assert again["enrolled"] == [] and sorted(again["already_enrolled"]) == sorted(t1)
    assert len(await outbox_events(svc, "candidates_enrolled")) == 1


async def test_not_certifiable_is_refused_unless_overridden_with_a_reason(svc):
    uai, sid = await school_with_session(svc)
    ok = await add_class(svc, uai, "T3", 2)
    late = await add_learner(svc, uai, "T3", certifiable=False, last_name="Retard")
    blocked = await add_learner(svc, uai, "T3", certifiable=False, last_name="Bloqué")

    before = await snapshot(svc)
    blank = await svc.http.post(
        f"/sessions/{sid}/enrolments", json={"division": "T3", "overrides": {late: " "}}
    )
    assert (blank.status_code, error_code(blank)) == (422, "enrolment.override_reason_required")
    assert await snapshot(svc) == before

    response = await svc.http.post(
        f"/sessions/{sid}/enrolments",
        json={"division": "T3", "overrides": {late: "profil complété après la campagne"}},
    )
    body = response.json()
    assert sorted(c["learner_id"] for c in body["enrolled"]) == sorted([*ok, late])
    assert [(r["learner_id"], r["code"]) for r in body["refused"]] == [(blocked, "candidate.not_certifiable")]
    [event] = await outbox_events(svc, "candidates_enrolled")
    reasons = {c["learner_id"]: c["override_reason"] for c in event["candidates"]}
    assert reasons[late] == "profil complété après la campagne"
    assert reasons[ok[0]] is None
    stored = await svc.pool.fetchval("SELECT override_reason FROM candidates WHERE learner_id = $1", late)
    assert stored == "profil complété après la campagne"


async def test_same_person_twice_is_enrolled_once(svc):
    uai, sid = await school_with_session(svc)
    first = await add_learner(
        svc, uai, "T4", first_name="Léa", last_name="N'Diaye", birthdate=date(2008, 2, 3)
    )
    twin = await add_learner(
        svc, uai, "T4", first_name="LEA", last_name="n diaye", birthdate=date(2008, 2, 3)
    )
    body = (await svc.http.post(f"/sessions/{sid}/enrolments", json={"division": "T4"})).json()
    assert len(body["enrolled"]) == 1
    assert {body["enrolled"][0]["learner_id"], *body["already_enrolled"]} == {first, twin}


async def test_other_schools_learner_is_refused_and_nothing_changes(svc):
    uai, sid = await school_with_session(svc)
    mine = await add_learner(svc, uai, "T5")
    foreign = await add_learner(svc, new_uai(), "T5")
    before = await snapshot(svc)
    for body in (
        {"learner_ids": [mine, foreign]},
        {"division": "T5", "overrides": {foreign: "motif"}},
    ):
        response = await svc.http.post(f"/sessions/{sid}/enrolments", json=body)
        assert (response.status_code, error_code(response)) == (422, "enrolment.foreign_learner")
        assert response.json()["error"]["details"]["learner_ids"] == [foreign]
    assert await snapshot(svc) == before


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"division": "Terminale Z"}, "class.unknown"),
        ({}, "enrolment.nothing_selected"),
        ({"learner_ids": ["nobody"]}, "learner.unknown"),
        ({"division": "T6", "extra_time": {"__first__": 1000}}, "candidate.invalid_extra_time"),
        ({"division": "T6", "extra_time": {"__first__": -5}}, "candidate.invalid_extra_time"),
    ],
)
async def test_bad_enrolment_requests_are_refused(svc, body, code):
    uai, sid = await school_with_session(svc)
    first, *_ = await add_class(svc, uai, "T6", 2)
    if "extra_time" in body:
        body = {**body, "extra_time": {first: body["extra_time"]["__first__"]}}
    before = await snapshot(svc)
    response = await svc.http.post(f"/sessions/{sid}/enrolments", json=body)
    assert response.status_code == 422, response.text
    assert error_code(response) == code
    assert await snapshot(svc) == before


async def test_class_larger_than_the_room_is_refused_whole(svc):
    uai, sid = await school_with_session(svc, room="CDI")  # 18 workstations
    await add_class(svc, uai, "T7", 19)
    before = await snapshot(svc)
    response = await svc.http.post(f"/sessions/{sid}/enrolments", json={"division": "T7"})
    assert (response.status_code, error_code(response)) == (409, "room.capacity_exceeded")
    assert await snapshot(svc) == before


async def test_learner_already_in_another_live_session_is_refused(svc):
    uai, sid = await school_with_session(svc)
    other = (await svc.http.post(f"/schools/{uai}/sessions", json=session_body(time="13:30"))).json()
    learners = await add_class(svc, uai, "T8", 2)
    await svc.http.post(f"/sessions/{sid}/enrolments", json={"division": "T8"})
    body = (
        await svc.http.post(f"/sessions/{other['session_id']}/enrolments", json={"division": "T8"})
    ).json()
    assert body["enrolled"] == []
    assert sorted(r["learner_id"] for r in body["refused"]) == sorted(learners)
    assert {r["code"] for r in body["refused"]} == {"candidate.enrolled_elsewhere"}


async def test_unenrol_emits_candidate_unenrolled(svc):
    uai, sid = await school_with_session(svc)
    await add_class(svc, uai, "T9", 2)
    enrolled = (await svc.http.post(f"/sessions/{sid}/enrolments", json={"division": "T9"})).json()[
        "enrolled"
    ]
    gone = enrolled[0]
    assert (await svc.http.delete(f"/sessions/{sid}/candidates/{gone['candidate_id']}")).status_code == 204
    [event] = await outbox_events(svc, "candidate_unenrolled")
    assert (event["candidate_id"], event["learner_id"]) == (gone["candidate_id"], gone["learner_id"])
    assert (await svc.http.get(f"/sessions/{sid}")).json()["candidates_count"] == 1
    before = await snapshot(svc)
    missing = await svc.http.delete(f"/sessions/{sid}/candidates/{uuid.uuid4()}")
    assert (missing.status_code, error_code(missing)) == (404, "candidate.unknown")
    assert await snapshot(svc) == before


async def test_one_invigilator_for_twenty_candidates_is_kept_by_enrolment_and_edits(svc):
    uai, sid = await school_with_session(svc)  # Salle 101: 30 workstations, one invigilator
    await add_class(svc, uai, "T10", 21)
    before = await snapshot(svc)
    response = await svc.http.post(f"/sessions/{sid}/enrolments", json={"division": "T10"})
    assert (response.status_code, error_code(response)) == (409, "session.invigilators_short")
    assert response.json()["error"]["details"] == {"candidates": 21, "needed": 2, "invigilators": 1}
    assert await snapshot(svc) == before

    two = {"invigilators": ["Mme Dupré", "M. Martin"]}
    assert (await svc.http.patch(f"/sessions/{sid}", json=two)).status_code == 200
    assert (await svc.http.post(f"/sessions/{sid}/enrolments", json={"division": "T10"})).status_code == 201
    before = await snapshot(svc)
    fewer = await svc.http.patch(f"/sessions/{sid}", json={"invigilators": ["M. Martin"]})
    assert (fewer.status_code, error_code(fewer)) == (409, "session.invigilators_short")
    assert await snapshot(svc) == before
