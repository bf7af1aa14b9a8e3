"""The Pix Certif link through the API on real Postgres: a plan's sessions file, Pix's values brought
back by file or per session, what the documents then print, SessionUpdated, and every refusal."""

from __future__ import annotations

import csv
import io

import pytest
from pypdf import PdfReader

from services.scheduler.domain.pix_certif import COLUMNS
from shared.password_hash import verify_password
from shared.settings import DEV_INVIGILATOR_PASSWORD_KEY
from tests.component.scheduler.builders import (
    add_class,
    error_code,
    new_uai,
    outbox_events,
    put_school,
    session_body,
    snapshot,
)

pytestmark = pytest.mark.integration

HEADER = (
    "\ufeffNuméro de session certibus;* Nom du site;* Nom de la salle;* Date de début (format: JJ/MM/AAAA);"
    "* Heure de début (heure locale format: HH:MM);* Surveillant(s);Classe(s);Candidats;"
    "Numéro de session Pix;Code d'accès;Mot de passe de session\n"
)
PIX = [(61234, "FMKP39", "b7K?2x"), (61235, "BCDF23", "C-Xq9*mt")]


async def confirmed_plan(svc) -> tuple[str, dict, list[dict]]:
    uai = new_uai()
    await put_school(svc, uai)
    await add_class(svc, uai, "T1", 25)
    await add_class(svc, uai, "T2", 12)
    plan = (await svc.http.post(f"/schools/{uai}/plans", json={"school_year": "2025-2026"})).json()
    assert plan["status"] == "proposed", plan
    confirmed = await svc.http.post(f"/plans/{plan['plan_id']}/confirm")
    assert confirmed.status_code == 200, confirmed.text
    sessions = (await svc.http.get(f"/schools/{uai}/sessions")).json()
    return uai, plan, sessions


def rows(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig")), delimiter=";"))


def filled(content: bytes, values: list[tuple[int, str, str]]) -> bytes:
    """The downloaded file with the three Pix columns filled, as the staff does."""
    header, *lines = rows(content)
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(header)
    for line, (number, code, password) in zip(lines, values, strict=False):
        writer.writerow([*line[:8], number, code, password])
    return ("\ufeff" + out.getvalue()).encode()


async def upload(svc, uai: str, content: bytes, name: str = "sessions-pix.csv"):
    return await svc.http.post(
        f"/schools/{uai}/pix-certif-sessions", files={"file": (name, content, "text/csv")}
    )


async def test_a_plan_exports_its_sessions_to_create_in_pix_certif(svc):
    uai, plan, sessions = await confirmed_plan(svc)
    proposed = await svc.http.get(f"/plans/{plan['plan_id']}/pix-certif-sessions.csv")
    assert proposed.status_code == 200, proposed.text
    assert proposed.headers["content-type"].startswith("text/csv")
    assert proposed.content.decode().startswith(HEADER)
    header, *lines = rows(proposed.content)
    assert tuple(header) == COLUMNS
    assert len(lines) == len(sessions) == 2
    for line, session in zip(lines, sessions, strict=True):
        day = session["date"]
        assert line == [
            str(session["session_number"]),
            session["site"],
            session["room"],
            f"{day[8:10]}/{day[5:7]}/{day[:4]}",
            session["time"],
            ", ".join(session["invigilators"]),
            line[6],
            str(session["candidates_count"]),
            "",
            "",
            "",
        ]
    assert sorted(line[6] for line in lines) == ["T1", "T2"]
    assert f"sessions-pix-certif-{uai}-2025-2026-" in proposed.headers["content-disposition"]


async def test_a_proposed_plan_lists_its_sessions_without_certibus_numbers(svc):
    uai = new_uai()
    await put_school(svc, uai)
    await add_class(svc, uai, "T1", 10)
    plan = (await svc.http.post(f"/schools/{uai}/plans", json={"school_year": "2025-2026"})).json()
    response = await svc.http.get(f"/plans/{plan['plan_id']}/pix-certif-sessions.csv")
    [line] = rows(response.content)[1:]
    proposed = plan["sessions"][0]
    assert line[0] == "" and line[2] == proposed["room"] and line[6:8] == ["T1", "10"]


async def test_the_filled_file_records_pix_values_everywhere_and_once(svc):
    uai, plan, sessions = await confirmed_plan(svc)
    exported = (await svc.http.get(f"/plans/{plan['plan_id']}/pix-certif-sessions.csv")).content
    before_updates = len(await outbox_events(svc, "session_updated"))

    response = await upload(svc, uai, filled(exported, PIX))
    assert response.status_code == 200, response.text
    body = response.json()
    assert sorted(body["recorded"]) == sorted(s["session_id"] for s in sessions)
    assert body["unchanged"] == [] and body["skipped_lines"] == []

    for session, (number, code, password) in zip(sessions, PIX, strict=True):
        detail = (await svc.http.get(f"/sessions/{session['session_id']}")).json()
        assert (detail["pix_session_number"], detail["pix_access_code"]) == (number, code)
        assert detail["invigilator_password"] == "C-" + password.removeprefix("C-")
        assert detail["session_number"] == session["session_number"]  # certibus's own stays
        kit = (await svc.http.get(f"/sessions/{session['session_id']}/documents/invigilator-kit.pdf")).content
        text = PdfReader(io.BytesIO(kit)).pages[0].extract_text()
        assert str(number) in text and code in text and detail["invigilator_password"] in text
        assert session["access_code"] not in text
        sheet = await svc.http.get(f"/sessions/{session['session_id']}/documents/attendance-sheet.pdf")
        assert f"N° {number}" in PdfReader(io.BytesIO(sheet.content)).pages[0].extract_text()

    updates = (await outbox_events(svc, "session_updated"))[before_updates:]
    assert len(updates) == 2
    for update, (number, code, password) in zip(
        sorted(updates, key=lambda u: u["pix_session_number"]), PIX, strict=True
    ):
        assert update["changed_fields"] == ["pix_session_number", "pix_access_code", "invigilator_password"]
        assert (update["pix_session_number"], update["pix_access_code"]) == (number, code)
        assert password.removeprefix("C-") not in str(update)
        verifier = update["invigilator_password_verifier"]
        assert verify_password(password.removeprefix("C-"), verifier, key=DEV_INVIGILATOR_PASSWORD_KEY)

    again = await upload(svc, uai, filled(exported, PIX))
    assert again.status_code == 200 and again.json()["recorded"] == []
    assert sorted(again.json()["unchanged"]) == sorted(s["session_id"] for s in sessions)
    assert len(await outbox_events(svc, "session_updated")) == before_updates + 2

    # the re-downloaded file shows what was recorded
    redownloaded = rows((await svc.http.get(f"/plans/{plan['plan_id']}/pix-certif-sessions.csv")).content)
    assert [line[8:] for line in redownloaded[1:]] == [[str(n), c, p.removeprefix("C-")] for n, c, p in PIX]


async def test_lines_name_sessions_by_place_and_blank_lines_are_skipped(svc):
    uai, _, sessions = await confirmed_plan(svc)
    first, second = sessions
    day = first["date"]
    text = (
        "Nom du site;Nom de la salle;Date de début (format: JJ/MM/AAAA);Heure de début (heure locale"
        " format: HH:MM);Numéro de session Pix;Code d'accès;Mot de passe de session\n"
        f"{first['site'].upper()};{first['room']};{day[8:10]}/{day[5:7]}/{day[:4]};{first['time']};"
        "70001;fmkp39;C-b7K?2x\n"
        f"{second['site']};{second['room']};01/01/2026;08:00;;;\n"
    )
    response = await upload(svc, uai, text.encode("cp1252"))
    assert response.status_code == 200, response.text
    assert response.json()["recorded"] == [first["session_id"]]
    assert response.json()["skipped_lines"] == [3]
    detail = (await svc.http.get(f"/sessions/{first['session_id']}")).json()
    assert (detail["pix_session_number"], detail["pix_access_code"]) == (70001, "FMKP39")


async def test_a_file_with_errors_is_refused_whole_with_file_line_and_column(svc):
    uai, _, sessions = await confirmed_plan(svc)
    other_uai, _, [taken, _] = await confirmed_plan(svc)
    assert (
        await upload(
            svc,
            other_uai,
            f"Numéro de session certibus;Numéro de session Pix;Code d'accès;"
            f"Mot de passe de session\n{taken['session_number']};80000;FMKP39;b7K?2x\n".encode(),
        )
    ).status_code == 200
    first, second = sessions
    text = (
        "Numéro de session certibus;Numéro de session Pix;Code d'accès;Mot de passe de session\n"
        f"{first['session_number']};80001;FMKP39;b7K?2x\n"  # fine on its own
        f"{second['session_number']};12ab;TOIM91;b7K?2x\n"  # bad number, bad code
        f"{second['session_number']};80000;BCDF23;C-ab\n"  # taken elsewhere, bad password
        "999999;80002;BCDF23;b7K?2x\n"  # no such session here
        f"{first['session_number']};80003;BCDF23;b7K?2x\n"  # first named twice
        ";80004;BCDF23;b7K?2x\n"  # names no session
        f"{second['session_number']};80005;;b7K?2x\n"  # code missing
        f"{second['session_number']};80006\n"  # too few cells
    )
    before = await snapshot(svc)
    response = await upload(svc, uai, text.encode(), name="pix.csv")
    assert response.status_code == 422, response.text
    assert error_code(response) == "pix_certif.rejected"
    details = response.json()["error"]["details"]
    assert details["file"] == "pix.csv"
    found = [(e["file"], e["line"], e["column"], e["rule"]) for e in details["errors"]]
    assert found == [
        ("pix.csv", 3, "Numéro de session Pix", "pix.invalid_session_number"),
        ("pix.csv", 3, "Code d'accès", "pix.invalid_access_code"),
        ("pix.csv", 4, "Mot de passe de session", "pix.invalid_password"),
        ("pix.csv", 7, "Numéro de session certibus", "cell.required"),
        ("pix.csv", 8, "Code d'accès", "cell.required"),
        ("pix.csv", 9, None, "row.column_count"),
        ("pix.csv", 5, "Numéro de session certibus", "pix.session_unknown"),
        ("pix.csv", 6, "Numéro de session certibus", "pix.duplicate_session"),
    ]
    assert all(e["message"] for e in details["errors"])
    assert await snapshot(svc) == before

    # fixed, the same file is refused only for the number held by the other school's session
    fixed = (
        "Numéro de session certibus;Numéro de session Pix;Code d'accès;Mot de passe de session\n"
        f"{second['session_number']};80000;BCDF23;b7K?2x\n"
    )
    response = await upload(svc, uai, fixed.encode(), name="pix.csv")
    [error] = response.json()["error"]["details"]["errors"]
    assert (error["line"], error["column"], error["rule"]) == (
        2,
        "Numéro de session Pix",
        "pix.session_number_taken",
    )


@pytest.mark.parametrize(
    ("content", "rule"),
    [
        (b"", "file.empty"),
        ("Numéro de session certibus;Code d'accès\n1;FMKP39\n".encode(), "file.missing_columns"),
        (
            "Numéro de session certibus;Numéro de session Pix;Code d'accès;Mot de passe de session\n".encode(),
            "file.no_rows",
        ),
    ],
)
async def test_whole_file_problems(svc, content, rule):
    uai = new_uai()
    await put_school(svc, uai)
    response = await upload(svc, uai, content)
    assert (response.status_code, error_code(response)) == (422, "pix_certif.rejected")
    assert [e["rule"] for e in response.json()["error"]["details"]["errors"]] == [rule]


async def test_one_session_at_a_time(svc):
    uai = new_uai()
    await put_school(svc, uai)
    created = (await svc.http.post(f"/schools/{uai}/sessions", json=session_body())).json()
    other = (
        await svc.http.post(
            f"/schools/{uai}/sessions", json=session_body(room="CDI", invigilators=["M. Martin"])
        )
    ).json()
    path = f"/sessions/{created['session_id']}/pix-certif"
    body = {"session_number": 90001, "access_code": "FMKP39", "invigilator_password": "C-b7K?2x"}

    before = await snapshot(svc)
    for wrong, code in (
        ({"session_number": 0}, "pix.invalid_session_number"),
        ({"access_code": "TOIM91"}, "pix.invalid_access_code"),
        ({"invigilator_password": "C-aeiou1"}, "pix.invalid_password"),
    ):
        response = await svc.http.put(path, json={**body, **wrong})
        assert (response.status_code, error_code(response)) == (422, code)
    assert await snapshot(svc) == before

    response = await svc.http.put(path, json=body)
    assert response.status_code == 200, response.text
    assert (response.json()["pix_session_number"], response.json()["invigilator_password"]) == (
        90001,
        "C-b7K?2x",
    )
    [update] = (await outbox_events(svc, "session_updated"))[-1:]
    assert update["session_id"] == created["session_id"] and update["pix_session_number"] == 90001

    taken = await svc.http.put(f"/sessions/{other['session_id']}/pix-certif", json=body)
    assert (taken.status_code, error_code(taken)) == (409, "pix.session_number_taken")
    same = await svc.http.put(path, json=body)
    assert same.status_code == 200
    assert len(await outbox_events(svc, "session_updated")) == 1  # the same values raise nothing

    await svc.pool.execute(
        "UPDATE sessions SET first_test_started_at = now() WHERE session_id = $1", created["session_id"]
    )
    started = await svc.http.put(path, json={**body, "session_number": 90002})
    assert (started.status_code, error_code(started)) == (409, "session.started")
