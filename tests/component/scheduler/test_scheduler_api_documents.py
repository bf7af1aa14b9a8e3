"""Session papers through the API: real PDFs whose text reads back, zip bundles, ConvocationsIssued."""

from __future__ import annotations

import hashlib
import io
import re
import uuid
import zipfile

import pytest
from pypdf import PdfReader

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

BIG_ROOMS = [{"name": "Salle info", "workstations": 50}, {"name": "CDI", "workstations": 18}]


async def session_with(svc, students: int, **session) -> tuple[str, dict]:
    uai = new_uai()
    await put_school(svc, uai, rooms=BIG_ROOMS)
    created = (
        await svc.http.post(f"/schools/{uai}/sessions", json=session_body(room="Salle info", **session))
    ).json()
    if students:
        await add_class(svc, uai, "1G2", students)
        enrolled = await svc.http.post(
            f"/sessions/{created['session_id']}/enrolments", json={"division": "1G2"}
        )
        assert len(enrolled.json()["enrolled"]) == students
    return uai, (await svc.http.get(f"/sessions/{created['session_id']}")).json()


def pages(content: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(content)).pages]


async def pdf(svc, session: dict, kind: str) -> list[str]:
    response = await svc.http.get(f"/sessions/{session['session_id']}/documents/{kind}.pdf")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    return pages(response.content)


async def test_attendance_sheet_has_pix_columns_and_20_candidates_a_page(svc):
    _, session = await session_with(svc, 45, invigilators=["Mme Dupré", "M. Martin", "Mme Cœur"])
    texts = await pdf(svc, session, "attendance-sheet")
    assert len(texts) == 3
    for text in texts:
        for column in ("Nom de naissance", "Prénom", "Date de naissance (jj/mm/aaaa)", "Classe", "Signature"):
            assert column in text
        assert f"N° {session['session_number']}" in text
    names = [c["last_name"].upper() for c in session["candidates"]]
    per_page = [sum(name in text for name in names) for text in texts]
    assert per_page == [20, 20, 5]
    first = min(session["candidates"], key=lambda c: (c["last_name"].casefold(), c["first_name"].casefold()))
    assert first["birthdate"][8:10] + "/" + first["birthdate"][5:7] + "/" + first["birthdate"][:4] in texts[0]


async def test_invigilator_kit_prints_the_c_password_and_the_access_code(svc):
    _, session = await session_with(svc, 3, time="13:30")
    [text] = await pdf(svc, session, "invigilator-kit")
    assert session["invigilator_password"] in text
    assert re.search(r"C-\S{6}", text)
    assert session["access_code"] in text
    assert "15:15" in text  # 13:30 + 1 h 45


async def test_one_convocation_per_student(svc):
    _, session = await session_with(svc, 4)
    texts = await pdf(svc, session, "convocations")
    assert len(texts) == 4
    for candidate in session["candidates"]:
        assert sum(candidate["last_name"].upper() in t for t in texts) == 1
    assert all("Salle info" in t and "Convocation" in t for t in texts)


async def test_single_student_convocation(svc):
    _, session = await session_with(svc, 2)
    candidate = session["candidates"][1]
    response = await svc.http.get(
        f"/sessions/{session['session_id']}/candidates/{candidate['candidate_id']}/convocation.pdf"
    )
    [text] = pages(response.content)
    assert candidate["last_name"].upper() in text and candidate["first_name"] in text
    assert session["candidates"][0]["last_name"].upper() not in text
    missing = await svc.http.get(
        f"/sessions/{session['session_id']}/candidates/{uuid.uuid4()}/convocation.pdf"
    )
    assert (missing.status_code, error_code(missing)) == (404, "candidate.unknown")


async def test_blank_incident_and_fraud_forms(svc):
    _, session = await session_with(svc, 0)
    incident = " ".join(await pdf(svc, session, "incident-report"))
    fraud = " ".join(await pdf(svc, session, "fraud-report"))
    assert "PV d’incident" in incident and "E12" in incident and "C6" in incident
    assert "fraude" in fraud and "Signature du candidat" in fraud


async def test_session_and_day_bundles(svc):
    uai, morning = await session_with(svc, 5)
    afternoon = (
        await svc.http.post(f"/schools/{uai}/sessions", json=session_body(room="CDI", time="13:30"))
    ).json()
    bundle = await svc.http.get(f"/sessions/{morning['session_id']}/bundle.zip")
    assert bundle.headers["content-type"] == "application/zip"
    n = morning["session_number"]
    assert sorted(zipfile.ZipFile(io.BytesIO(bundle.content)).namelist()) == [
        f"convocations-session-{n}.pdf",
        f"feuille-emargement-session-{n}.pdf",
        f"kit-surveillant-session-{n}.pdf",
        f"pv-fraude-session-{n}.pdf",
        f"pv-incident-session-{n}.pdf",
    ]
    day = await svc.http.get(f"/schools/{uai}/days/{morning['date']}/bundle.zip")
    assert day.status_code == 200
    folders = {name.split("/")[0] for name in zipfile.ZipFile(io.BytesIO(day.content)).namelist()}
    assert folders == {f"session-{n}", f"session-{afternoon['session_number']}"}
    empty = await svc.http.get(f"/schools/{uai}/days/2025-12-01/bundle.zip")
    assert (empty.status_code, error_code(empty)) == (404, "day.no_session")


async def test_issuing_convocations_records_the_bundle_fingerprint(svc):
    _, session = await session_with(svc, 6)
    sid = session["session_id"]
    response = await svc.http.post(f"/sessions/{sid}/convocations")
    assert response.status_code == 201, response.text
    issued = response.json()
    bundle = (await svc.http.get(f"/sessions/{sid}/bundle.zip")).content
    assert issued["bundle_sha256"] == hashlib.sha256(bundle).hexdigest()
    [event] = await outbox_events(svc, "convocations_issued")
    assert event["bundle_sha256"] == issued["bundle_sha256"]
    assert sorted(event["candidate_ids"]) == sorted(c["candidate_id"] for c in session["candidates"])
    assert event["bundle_file"] == f"certification-session-{session['session_number']}.zip"
    [document] = (await svc.http.get(f"/sessions/{sid}")).json()["documents"]
    assert document["sha256"] == issued["bundle_sha256"] and document["candidates"] == 6


async def test_document_refusals(svc):
    _, session = await session_with(svc, 0)
    sid = session["session_id"]
    before = await snapshot(svc)
    nobody = await svc.http.post(f"/sessions/{sid}/convocations")
    assert (nobody.status_code, error_code(nobody)) == (409, "convocations.no_candidate")
    unknown = await svc.http.get(f"/sessions/{sid}/documents/bulletin.pdf")
    assert (unknown.status_code, error_code(unknown)) == (404, "document.unknown")
    missing = await svc.http.get(f"/sessions/{uuid.uuid4()}/bundle.zip")
    assert (missing.status_code, error_code(missing)) == (404, "session.unknown")
    assert await snapshot(svc) == before


async def test_a_bundle_is_kept_once_rendered_and_rendered_anew_when_its_session_changes(svc):
    uai, session = await session_with(svc, 3)
    session_id = session["session_id"]
    first = await svc.http.get(f"/sessions/{session_id}/bundle.zip")
    kept = await svc.pool.fetchval(
        "SELECT rendered_at FROM rendered_documents WHERE key = $1", f"session:{session_id}:bundle"
    )
    second = await svc.http.get(f"/sessions/{session_id}/bundle.zip")
    assert second.content == first.content and kept is not None
    assert (
        await svc.pool.fetchval(  # the second download was a read: the kept row is untouched
            "SELECT rendered_at FROM rendered_documents WHERE key = $1", f"session:{session_id}:bundle"
        )
        == kept
    )

    await add_class(svc, uai, "1G3", 1)
    assert (
        await svc.http.post(f"/sessions/{session_id}/enrolments", json={"division": "1G3"})
    ).status_code == 201
    enrolled = await svc.http.get(f"/sessions/{session_id}/bundle.zip")
    assert enrolled.content != first.content
    assert (await svc.http.patch(f"/sessions/{session_id}", json={"time": "10:00"})).status_code == 200
    moved = await svc.http.get(f"/sessions/{session_id}/bundle.zip")
    assert moved.content not in (first.content, enrolled.content)
