"""The console's pages against the real scheduler and export apps and the real Keycloak: sign-in by
the authorisation code flow with PKCE, a school's checklist, sessions and their papers, class files,
and what a staff member of one school cannot see of another."""

from __future__ import annotations

import base64
import html
import io
import json
import re
import zipfile
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from itsdangerous import TimestampSigner
from pypdf import PdfReader

from services.console.app import SESSION_COOKIE, create_app
from services.console.settings import DEV_SESSION_SECRET, AssetsMissing
from tests.console_support import (
    IN_PROCESS_URL,
    RESULTS_CLASS,
    SCHOOL_NAMES,
    console_app,
    console_settings,
    in_process,
    seed,
    sign_in,
    staff,
)
from tests.keycloak import SCHOOL_A, SCHOOL_B

pytestmark = pytest.mark.integration

PUBLIC_URL = IN_PROCESS_URL


@pytest.fixture
async def seeded(start_service, tmp_path):
    return await seed(start_service, tmp_path)


@pytest.fixture
async def console(seeded):
    async with in_process(console_app(seeded, PUBLIC_URL)) as http:
        yield http


async def test_signing_in_uses_the_code_flow_with_pkce_and_lands_on_ones_school(console):
    start = await console.get("/connexion")
    query = parse_qs(urlsplit(start.headers["location"]).query)
    assert query["response_type"] == ["code"] and query["code_challenge_method"] == ["S256"]
    assert query["client_id"] == ["certibus-console"] and len(query["code_challenge"][0]) >= 43
    assert query["redirect_uri"] == [f"{PUBLIC_URL}/auth/callback"]

    back = await sign_in(console, staff(SCHOOL_A))
    assert back.status_code == 303 and back.headers["location"] == "/"
    assert SESSION_COOKIE in console.cookies
    home = await console.get("/")
    assert home.status_code == 303 and home.headers["location"].endswith(f"/etablissements/{SCHOOL_A}")


async def test_the_checklist_shows_the_steps_the_window_and_pix_certif_opening(console):
    await sign_in(console, staff(SCHOOL_A))
    page = await console.get(f"/etablissements/{SCHOOL_A}")
    assert page.status_code == 200, page.text
    text = page.text
    assert SCHOOL_NAMES[SCHOOL_A] in text and SCHOOL_NAMES[SCHOOL_B] not in text
    assert 'lang="fr"' in text and "/static/dsfr/dsfr.min.css" in text
    # the 2025-2026 lycée track (the scheduler's clock is in October 2025)
    assert "du 03/11/2025 au 06/03/2026" in text
    assert "06/10/2025" in text  # Pix Certif's opening
    for title in (
        "Consulter le kit de certification",
        "Convoquer les élèves",
        "Superviser les sessions",
        "Finaliser les sessions dans Pix Certif",
        "Importer les résultats dans le livret",
    ):
        assert title in text
    assert "1 session(s) convoquée(s) sur 1" in text
    assert "0 session(s) démarrée(s) sur 1" in text
    assert "fichier du livret produit le" in text
    assert (
        f'Vos établissements :\n    <a class="fr-tag fr-tag--sm" href="{PUBLIC_URL}/etablissements/{SCHOOL_A}">'
        in text
    )


async def test_another_schools_pages_and_files_are_not_found(console, seeded):
    await sign_in(console, staff(SCHOOL_A))
    for path in (
        f"/etablissements/{SCHOOL_B}",
        f"/etablissements/{SCHOOL_B}/sessions",
        f"/sessions/{seeded.sessions[SCHOOL_B]}",
        f"/etablissements/{SCHOOL_B}/resultats",
    ):
        refused = await console.get(path)
        assert refused.status_code == 404, path
        assert (
            "pas l'un de vos établissements" in html.unescape(refused.text)
            and SCHOOL_NAMES[SCHOOL_B] not in refused.text
        )
    for path in (
        f"/sessions/{seeded.sessions[SCHOOL_B]}/documents/attendance-sheet.pdf",
        f"/etablissements/{SCHOOL_B}/classes/{RESULTS_CLASS}/resultats.csv",
    ):
        assert (await console.get(path)).status_code == 404, path


async def test_the_session_page_shows_pix_certifs_fields_and_passes_its_papers_through(console, seeded):
    await sign_in(console, staff(SCHOOL_A))
    session_id = seeded.sessions[SCHOOL_A]
    listed = await console.get(f"/etablissements/{SCHOOL_A}/sessions")
    assert listed.status_code == 200 and f"/sessions/{session_id}" in listed.text
    page = await console.get(f"/sessions/{session_id}")
    assert page.status_code == 200, page.text
    detail = (await seeded.scheduler.http.get(f"/sessions/{session_id}", headers=_bearer(SCHOOL_A))).json()
    for label, value in (
        ("ID session", str(detail["session_number"])),
        ("Nom du site", detail["site"]),
        ("Salle", "Salle 101"),
        ("Surveillant(s)", "Mme Dupré, M. Martin"),
        ("Code d'accès", detail["access_code"]),
        ("Date", "13/11/2025"),
        ("Heure", "08:30"),
    ):
        assert f"<dt>{label}</dt><dd>" in html.unescape(page.text) and value in page.text, label
    assert "Candidats (3)" in page.text

    sheet = await console.get(f"/sessions/{session_id}/documents/attendance-sheet.pdf")
    assert sheet.status_code == 200 and sheet.headers["content-type"] == "application/pdf"
    assert "attachment" in sheet.headers["content-disposition"]
    assert (
        "émargement" in "".join(p.extract_text() for p in PdfReader(io.BytesIO(sheet.content)).pages).lower()
    )
    candidate = detail["candidates"][0]
    link = f"/sessions/{session_id}/candidats/{candidate['candidate_id']}/convocation.pdf"
    assert link in page.text
    convocation = await console.get(link)
    assert convocation.status_code == 200 and convocation.content.startswith(b"%PDF")
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(convocation.content)).pages)
    assert candidate["last_name"].upper() in text  # the convocation prints the surname in capitals
    bundle = await console.get(f"/sessions/{session_id}/dossier.zip")
    assert bundle.status_code == 200 and zipfile.ZipFile(io.BytesIO(bundle.content)).namelist()


async def test_results_give_the_class_csv_and_attestations(console):
    await sign_in(console, staff(SCHOOL_A))
    page = await console.get(f"/etablissements/{SCHOOL_A}/resultats", params={"classe": RESULTS_CLASS})
    assert (
        page.status_code == 200
        and "Exporter les résultats" in page.text
        and "Télécharger les attestations" in page.text
    )
    assert re.search(r"_resultats_TG1\.csv — \d+ élément\(s\), le \d\d/\d\d/\d{4}", page.text), page.text
    # the livret checklist of the class: Carl has no result yet, so he holds the class back
    text = html.unescape(page.text)
    assert "Livret scolaire (LSU/LSL)" in text and "1 point(s) bloquent l'export" in text
    assert "<td>Chevalier</td><td>Carl</td><td>aucun résultat de certification</td>" in text
    csv = await console.get(f"/etablissements/{SCHOOL_A}/classes/{RESULTS_CLASS}/resultats.csv")
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    text = csv.content.decode("utf-8-sig")
    assert (
        text.startswith('"Numéro de certification";"Prénom";"Nom"') and "Abel" in text and "Bernard" in text
    )
    pdf = await console.get(f"/etablissements/{SCHOOL_A}/classes/{RESULTS_CLASS}/attestations.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")


async def test_signed_out_pages_send_to_the_sign_in(console):
    page = await console.get(f"/etablissements/{SCHOOL_A}/sessions")
    assert (
        page.status_code == 303
        and page.headers["location"] == f"/connexion?next=/etablissements/{SCHOOL_A}/sessions"
    )
    assert "Se connecter" in (await console.get("/")).text


async def test_a_wrong_password_does_not_sign_in(console):
    with pytest.raises(AssertionError):
        await sign_in(console, staff(SCHOOL_A), password="not-the-password")
    assert (await console.get(f"/etablissements/{SCHOOL_A}")).status_code == 303


def test_missing_assets_stop_the_console_with_the_command_to_run(tmp_path):
    with pytest.raises(AssetsMissing, match=r"deploy/local/console-assets\.sh"):
        create_app(console_settings(PUBLIC_URL, console_assets_dir=tmp_path))


def _bearer(uai: str) -> dict[str, str]:
    from tests.console_support import bearer

    return bearer(uai)


def _session_of(console: httpx.AsyncClient) -> dict:
    signer = TimestampSigner(DEV_SESSION_SECRET)
    return json.loads(base64.b64decode(signer.unsign(console.cookies[SESSION_COOKIE])))


def _set_session(console: httpx.AsyncClient, data: dict) -> None:
    signed = TimestampSigner(DEV_SESSION_SECRET).sign(base64.b64encode(json.dumps(data).encode()))
    console.cookies.set(SESSION_COOKIE, signed.decode(), domain="127.0.0.1")


async def test_an_expired_access_token_is_refreshed_and_a_refused_refresh_signs_out(console):
    await sign_in(console, staff(SCHOOL_A))
    session = _session_of(console)
    old = session["user"]["access_token"]
    session["user"]["expires_at"] = 0  # as if the page were opened after the token's 5 minutes
    _set_session(console, session)
    page = await console.get(f"/etablissements/{SCHOOL_A}")
    assert page.status_code == 200, page.text
    refreshed = _session_of(console)["user"]
    assert refreshed["access_token"] != old and refreshed["expires_at"] > 0

    refreshed.update(expires_at=0, refresh_token="not-a-refresh-token")
    _set_session(console, {"user": refreshed})
    again = await console.get(f"/etablissements/{SCHOOL_A}")
    assert again.status_code == 303 and again.headers["location"].startswith("/connexion?next=")


async def test_once_pix_certifs_values_are_recorded_the_session_page_shows_them(console, seeded):
    session_id = seeded.sessions[SCHOOL_A]
    recorded = await seeded.scheduler.http.put(
        f"/sessions/{session_id}/pix-certif",
        json={"session_number": 90001, "access_code": "FMKP39", "invigilator_password": "C-b7K?2x"},
        headers=_bearer(SCHOOL_A),
    )
    assert recorded.status_code == 200, recorded.text
    await sign_in(console, staff(SCHOOL_A))
    text = html.unescape((await console.get(f"/sessions/{session_id}")).text)
    assert "<dt>ID session</dt><dd>90001 " in text and "(n° certibus 1)" in text
    assert "<dt>Code d'accès</dt><dd><code>FMKP39</code></dd>" in text
