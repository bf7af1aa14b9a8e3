"""Schools and sessions through the HTTP API on real Postgres: formats, edits, and every refusal."""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import UTC, datetime

import pytest

from shared.clock import ManualClock
from shared.password_hash import verify_password
from shared.settings import DEV_INVIGILATOR_PASSWORD_KEY
from tests.component.scheduler.builders import (
    error_code,
    finalise,
    new_uai,
    outbox_events,
    put_school,
    school_body,
    session_body,
    snapshot,
)

pytestmark = pytest.mark.integration

ACCESS_CODE = re.compile(r"^[BCDFGHJKMPQRTVWXY]{4}[2346789]{2}$")
DISPLAYED_PASSWORD = re.compile(r"^C-[23456789bcdfghjkmpqrstvwxyBCDFGHJKMPQRSTVWXY!*?]{6}$")


async def test_school_upsert_is_idempotent_and_readable(svc):
    uai = new_uai()
    first = await svc.http.put(f"/schools/{uai.lower()}", json=school_body())
    again = await svc.http.put(f"/schools/{uai}", json=school_body())
    assert (first.status_code, again.status_code) == (201, 200)
    school = (await svc.http.get(f"/schools/{uai}")).json()
    assert school["uai"] == uai
    assert [(r["name"], r["workstations"], r["site"]) for r in school["rooms"]] == [
        ("Salle 101", 30, "Bâtiment principal"),
        ("CDI", 18, "Bâtiment B"),
    ]
    assert school["hours"]["open_half_days"]["wednesday"] == ["morning"]
    assert await svc.pool.fetchval("SELECT count(*) FROM rooms WHERE uai = $1", uai) == 2


@pytest.mark.parametrize(
    ("uai", "body", "status", "code"),
    [
        ("ABC", school_body(), 422, "school.invalid_uai"),
        (
            None,
            school_body(rooms=[{"name": "A", "workstations": 3}, {"name": " a ", "workstations": 4}]),
            422,
            "school.duplicate_room",
        ),
        (None, school_body(staff=[{"name": "X"}, {"name": "x"}]), 422, "school.duplicate_staff"),
        (
            None,
            school_body(hours={"morning": {"start": "12:00", "end": "08:00"}}),
            422,
            "school.invalid_hours",
        ),
        (None, school_body(hours={"morning": {"start": "8h", "end": "12:00"}}), 422, "school.invalid_hours"),
        (
            None,
            school_body(
                hours={
                    "morning": {"start": "08:00", "end": "12:30"},
                    "afternoon": {"start": "11:00", "end": "17:00"},
                }
            ),
            422,
            "school.invalid_hours",
        ),
        (None, school_body(level="université"), 422, "request.invalid"),
    ],
)
async def test_invalid_school_is_refused_and_nothing_is_stored(svc, uai, body, status, code):
    uai = uai or new_uai()
    before = await snapshot(svc)
    response = await svc.http.put(f"/schools/{uai}", json=body)
    assert response.status_code == status
    assert error_code(response) == code
    assert await snapshot(svc) == before


async def test_unknown_school_is_404(svc):
    uai = new_uai()
    for response in (
        await svc.http.get(f"/schools/{uai}"),
        await svc.http.post(f"/schools/{uai}/sessions", json=session_body()),
        await svc.http.post(f"/schools/{uai}/plans", json={}),
        await svc.http.get(f"/schools/{uai}/sessions"),
    ):
        assert response.status_code == 404
        assert error_code(response) == "school.unknown"


async def test_created_session_has_pix_formats_and_publishes_only_the_hash(svc):
    uai = new_uai()
    await put_school(svc, uai)
    response = await svc.http.post(
        f"/schools/{uai}/sessions", json=session_body(room="cdi", observations="Apporter des écouteurs")
    )
    assert response.status_code == 201, response.text
    session = response.json()
    assert session["room"] == "CDI" and session["site"] == "Bâtiment B"
    assert session["certification_center"] == "Lycée Gay-Lussac"
    assert ACCESS_CODE.match(session["access_code"])
    assert DISPLAYED_PASSWORD.match(session["invigilator_password"])
    assert session["session_number"] > 0 and session["time"] == "08:30"

    [created] = await outbox_events(svc, "session_created")
    assert created["session_id"] == session["session_id"]
    assert created["access_code"] == session["access_code"]
    assert created["address"] == "Bâtiment B" and created["description"] == "Apporter des écouteurs"
    assert created["school_level"] == "lycee"
    verifier = created["invigilator_password_verifier"]
    assert verify_password(session["invigilator_password"], verifier, key=DEV_INVIGILATOR_PASSWORD_KEY)
    assert "invigilator_password_hash" not in created
    plain = session["invigilator_password"][2:]
    raw = await svc.pool.fetchval("SELECT string_agg(encode(payload, 'escape'), '') FROM outbox")
    assert plain not in raw

    listed = (await svc.http.get(f"/schools/{uai}/sessions")).json()
    assert [s["session_id"] for s in listed] == [session["session_id"]]
    assert "invigilator_password" not in listed[0]


async def test_session_numbers_come_from_a_sequence(svc):
    uai = new_uai()
    await put_school(svc, uai)
    first = (await svc.http.post(f"/schools/{uai}/sessions", json=session_body())).json()
    second = (await svc.http.post(f"/schools/{uai}/sessions", json=session_body(time="13:30"))).json()
    assert second["session_number"] > first["session_number"]
    assert first["access_code"] != second["access_code"]


@pytest.mark.parametrize(
    ("change", "status", "code", "in_message"),
    [
        ({"room": "Gymnase"}, 422, "room.unknown", "Gymnase"),
        ({"time": "8:30"}, 422, "session.invalid_time", "HH:MM"),
        ({"time": "24:00"}, 422, "session.invalid_time", "HH:MM"),
        ({"date": "2026-04-02"}, 422, "session.outside_window", "03/11/2025 – 06/03/2026"),
        ({"date": "2025-10-01", "time": "08:00"}, 422, "session.in_past", "passé"),
        ({"date": "2024-01-10"}, 422, "session.in_past", "passé"),
        ({"date": "2025-11-13", "time": "09:30"}, 409, "session.overlap", "Salle 101"),
        ({"room": "CDI", "time": "09:00"}, 409, "invigilator.busy", "Mme Dupré"),
        ({"invigilators": [" "]}, 422, "session.invigilator_required", "surveillant"),
    ],
)
async def test_bad_session_is_refused_with_a_clear_error_and_state_unchanged(
    svc, change, status, code, in_message
):
    uai = new_uai()
    await put_school(svc, uai)
    assert (await svc.http.post(f"/schools/{uai}/sessions", json=session_body())).status_code == 201
    before = await snapshot(svc)
    response = await svc.http.post(f"/schools/{uai}/sessions", json=session_body(**change))
    assert response.status_code == status, response.text
    assert error_code(response) == code
    assert in_message in response.json()["error"]["message"]
    assert await snapshot(svc) == before


async def test_collège_window_is_its_own(svc):
    uai = new_uai()
    await put_school(svc, uai, level="college")
    refused = await svc.http.post(f"/schools/{uai}/sessions", json=session_body())
    assert error_code(refused) == "session.outside_window"
    assert "16/03/2026 – 13/06/2026" in refused.json()["error"]["message"]
    before = await snapshot(svc)
    closed = await svc.http.post(f"/schools/{uai}/sessions", json=session_body(date="2026-03-19"))
    assert (closed.status_code, error_code(closed)) == (409, "session.before_pix_certif_opening")
    assert closed.json()["error"]["message"] == (
        "Pix Certif n'ouvre aux centres collège qu'à partir du 16/02/2026 (date estimée) : aucune session"
        " 2025-2026 ne peut être créée avant"
    )
    assert await snapshot(svc) == before
    svc.runtime.clock = ManualClock(datetime(2026, 2, 15, 22, 59, tzinfo=UTC))  # 23:59 in Paris, the eve
    eve = await svc.http.post(f"/schools/{uai}/sessions", json=session_body(date="2026-03-19"))
    assert error_code(eve) == "session.before_pix_certif_opening"
    svc.runtime.clock = ManualClock(datetime(2026, 2, 15, 23, 0, tzinfo=UTC))  # midnight in Paris
    accepted = await svc.http.post(f"/schools/{uai}/sessions", json=session_body(date="2026-03-19"))
    assert accepted.status_code == 201, accepted.text


async def test_edit_emits_session_updated_with_changed_fields(svc):
    uai = new_uai()
    await put_school(svc, uai)
    session = (await svc.http.post(f"/schools/{uai}/sessions", json=session_body())).json()
    response = await svc.http.patch(
        f"/sessions/{session['session_id']}",
        json={"time": "10:30", "invigilators": ["M. Martin", "Mme Cœur"]},
    )
    assert response.status_code == 200, response.text
    assert response.json()["time"] == "10:30"
    [updated] = await outbox_events(svc, "session_updated")
    assert updated["changed_fields"] == ["examiners", "time"]
    assert updated["examiners"] == ["M. Martin", "Mme Cœur"]
    assert updated["access_code"] == session["access_code"]

    same = await svc.http.patch(f"/sessions/{session['session_id']}", json={"time": "10:30"})
    assert same.status_code == 200
    assert len(await outbox_events(svc, "session_updated")) == 1


async def test_edit_into_an_overlap_or_invalid_time_is_refused(svc):
    uai = new_uai()
    await put_school(svc, uai)
    await svc.http.post(f"/schools/{uai}/sessions", json=session_body())
    other = (await svc.http.post(f"/schools/{uai}/sessions", json=session_body(time="13:30"))).json()
    before = await snapshot(svc)
    for change, code in (({"time": "09:00"}, "session.overlap"), ({"time": "1330"}, "session.invalid_time")):
        response = await svc.http.patch(f"/sessions/{other['session_id']}", json=change)
        assert error_code(response) == code
    assert await snapshot(svc) == before


async def test_finalised_session_can_no_longer_be_edited_deleted_or_enrolled(svc):
    uai = new_uai()
    await put_school(svc, uai)
    session = (await svc.http.post(f"/schools/{uai}/sessions", json=session_body())).json()
    await finalise(svc, session)
    before = await snapshot(svc)
    sid = session["session_id"]
    for response, code in (
        (await svc.http.patch(f"/sessions/{sid}", json={"time": "10:00"}), "session.started"),
        (await svc.http.delete(f"/sessions/{sid}"), "session.started"),
        # candidates change until finalisation (Pix SCO), not after: a rule of its own
        (await svc.http.post(f"/sessions/{sid}/enrolments", json={"division": "T1"}), "session.finalised"),
        (await svc.http.delete(f"/sessions/{sid}/candidates/{uuid.uuid4()}"), "session.finalised"),
        (
            await svc.http.patch(
                f"/sessions/{sid}/candidates/{uuid.uuid4()}", json={"extra_time_percentage": 33}
            ),
            "session.finalised",
        ),
    ):
        assert response.status_code == 409, response.text
        assert error_code(response) == code
    assert await snapshot(svc) == before
    shown = (await svc.http.get(f"/sessions/{sid}")).json()
    assert shown["started"] is True and shown["lifecycle"] == "finalised"


async def test_delete_cancels_the_session_and_frees_its_slot(svc):
    uai = new_uai()
    await put_school(svc, uai)
    session = (await svc.http.post(f"/schools/{uai}/sessions", json=session_body())).json()
    response = await svc.http.delete(f"/sessions/{session['session_id']}", params={"reason": "grève"})
    assert response.status_code == 204
    [cancelled] = await outbox_events(svc, "session_cancelled")
    assert cancelled["session_id"] == session["session_id"] and cancelled["reason"] == "grève"
    assert (await svc.http.get(f"/schools/{uai}/sessions")).json() == []
    again = await svc.http.delete(f"/sessions/{session['session_id']}")
    assert (again.status_code, error_code(again)) == (409, "session.cancelled")
    assert (await svc.http.post(f"/schools/{uai}/sessions", json=session_body())).status_code == 201


async def test_unknown_session_is_404(svc):
    sid = uuid.uuid4()
    for response in (
        await svc.http.get(f"/sessions/{sid}"),
        await svc.http.patch(f"/sessions/{sid}", json={"time": "10:00"}),
        await svc.http.delete(f"/sessions/{sid}"),
        await svc.http.get(f"/sessions/{sid}/documents/convocations.pdf"),
    ):
        assert (response.status_code, error_code(response)) == (404, "session.unknown")


async def test_room_used_by_a_future_session_cannot_be_removed(svc):
    uai = new_uai()
    await put_school(svc, uai)
    await svc.http.post(f"/schools/{uai}/sessions", json=session_body(room="CDI"))
    before = await snapshot(svc)
    response = await svc.http.put(
        f"/schools/{uai}", json=school_body(rooms=[{"name": "Salle 101", "workstations": 30}])
    )
    assert (response.status_code, error_code(response)) == (409, "room.in_use")
    assert await snapshot(svc) == before


async def test_openapi_is_served(svc):
    spec = (await svc.http.get("/openapi.json")).json()
    assert "/plans/{plan_id}/confirm" in spec["paths"]
    assert "/sessions/{session_id}/documents/{kind}.pdf" in spec["paths"]
    assert (await svc.http.get("/docs")).status_code == 200


async def test_two_schools_creating_sessions_at_once_never_share_an_access_code(svc, monkeypatch):
    from services.scheduler.domain import sessions as domain_sessions

    def first_free(taken, rng=None):  # the same draw for everyone: only the taken set tells them apart
        return next(code for code in ("BCDF23", "BCDF24", "BCDF26") if code not in taken)

    monkeypatch.setattr(domain_sessions, "generate_access_code", first_free)
    schools = [new_uai(), new_uai()]
    for uai in schools:
        await put_school(svc, uai)
    responses = await asyncio.gather(
        *(svc.http.post(f"/schools/{uai}/sessions", json=session_body()) for uai in schools)
    )
    assert [r.status_code for r in responses] == [201, 201], [r.text for r in responses]
    assert {r.json()["access_code"] for r in responses} == {"BCDF23", "BCDF24"}


async def test_the_plain_invigilator_password_is_never_logged_even_at_debug(svc):
    import logging

    root = logging.getLogger()
    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    keep = Keep(level=logging.DEBUG)
    keep.setFormatter(root.handlers[0].formatter if root.handlers else logging.Formatter())
    level = root.level
    root.addHandler(keep)
    root.setLevel(logging.DEBUG)
    try:
        uai = new_uai()
        await put_school(svc, uai)
        session = (await svc.http.post(f"/schools/{uai}/sessions", json=session_body())).json()
        sid = session["session_id"]
        await svc.http.patch(f"/sessions/{sid}", json={"observations": "salle du fond"})
        await svc.http.get(f"/sessions/{sid}")
        await svc.http.get(f"/sessions/{sid}/documents/invigilator-kit.pdf")
        await svc.http.get(f"/sessions/{sid}/bundle.zip")
        await svc.http.delete(f"/sessions/{sid}")
    finally:
        root.removeHandler(keep)
        root.setLevel(level)
    bare = session["invigilator_password"][2:]
    assert lines, "nothing was logged: the capture is broken"
    assert not [line for line in lines if bare in line]
