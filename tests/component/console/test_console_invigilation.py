"""Page 4, the invigilator space, against the real finalisation service fed with the scheduler's own
events: the kit's session number and password sign in, presence, start, resume, end and incidents go
through the invigilator API, the room's live part follows what another tablet does, refusals are
said in French."""

from __future__ import annotations

import html

import httpx
import pytest

from tests.console_support import IN_PROCESS_URL, in_process, seed
from tests.console_support_finalisation import console_app_with_finalisation, seed_finalisation

pytestmark = pytest.mark.integration

PUBLIC_URL = IN_PROCESS_URL
HTMX = {"HX-Request": "true"}


@pytest.fixture
async def invigilation(start_service, tmp_path):
    return await seed_finalisation(start_service, await seed(start_service, tmp_path))


@pytest.fixture
async def console(invigilation):
    async with in_process(console_app_with_finalisation(invigilation, PUBLIC_URL)) as http:
        yield http


async def log_in(console, invigilation, password: str | None = None) -> httpx.Response:
    return await console.post(
        "/surveillance",
        data={
            "session_number": str(invigilation.session_number),
            "password": password or invigilation.password,
        },
    )


def text_of(response: httpx.Response) -> str:
    return html.unescape(response.text)


def seat_url(invigilation, index: int, action: str) -> str:
    candidate = invigilation.candidates[index]["candidate_id"]
    return f"/surveillance/{invigilation.session_id}/candidats/{candidate}/{action}"


async def test_the_kit_signs_in_and_a_wrong_password_is_said_in_french(console, invigilation):
    wrong = await log_in(console, invigilation, password="C-NOTIT9")
    assert wrong.status_code == 401
    assert "Numéro de session ou mot de passe incorrect." in text_of(wrong)
    empty = await console.post("/surveillance", data={"session_number": "douze", "password": ""})
    assert empty.status_code == 422
    assert 'id="session_number-error"' in empty.text and 'id="password-error"' in empty.text

    signed = await log_in(console, invigilation)
    assert signed.status_code == 303
    assert signed.headers["location"] == f"{PUBLIC_URL}/surveillance/{invigilation.session_id}"
    room = await console.get(f"/surveillance/{invigilation.session_id}")
    assert room.status_code == 200, room.text
    text = text_of(room)
    assert f"Session {invigilation.session_number}" in text and "Salle 101" in text
    assert "surveillé par Mme Dupré, M. Martin" in text
    assert text.count("À confirmer") == 3 and "0 présent(s) confirmé(s)" in text
    for c in invigilation.candidates:
        assert f"{c['last_name']} {c['first_name']}" in text
    # the live part asks for itself again, with htmx served by the console
    assert '<script src="/static/htmx/htmx.min.js"></script>' in room.text
    assert f'hx-get="{PUBLIC_URL}/surveillance/{invigilation.session_id}/salle"' in room.text
    assert 'hx-trigger="every 5s"' in room.text
    assert (await console.get("/static/htmx/htmx.min.js")).status_code == 200


async def test_presence_start_time_left_resume_and_end(console, invigilation):
    await log_in(console, invigilation)
    confirmed = await console.post(seat_url(invigilation, 0, "presence"), headers=HTMX)
    assert confirmed.status_code == 200 and confirmed.text.lstrip().startswith('<div id="room-live"')
    assert "1 présent(s) confirmé(s)" in text_of(confirmed) and "Test commencé" in confirmed.text

    started = await console.post(seat_url(invigilation, 0, "debut"), headers=HTMX)
    assert "1 test(s) en cours" in text_of(started)
    assert "En cours" in started.text and "min restantes (fin prévue à" in text_of(started)

    invigilation.clock.advance(minutes=30)
    later = text_of(await console.get(f"/surveillance/{invigilation.session_id}/salle"))
    before = int(text_of(started).split(" min restantes")[0].rsplit(">", 1)[-1])
    after = int(later.split(" min restantes")[0].rsplit(">", 1)[-1])
    assert before - after == 30, (before, after)

    resumed = await console.post(seat_url(invigilation, 0, "reprise"), headers=HTMX)
    assert resumed.status_code == 200 and "En cours" in resumed.text
    ended = await console.post(seat_url(invigilation, 0, "fin"), headers=HTMX)
    assert "Terminé par le surveillant" in text_of(ended) and "1 terminé(s) sur 3" in text_of(ended)

    # without JavaScript the same button is a form that comes back to the room
    plain = await console.post(seat_url(invigilation, 1, "presence"))
    assert plain.status_code == 303 and plain.headers["location"].endswith(invigilation.session_id)


async def test_what_another_tablet_does_shows_in_the_live_part(console, invigilation):
    await log_in(console, invigilation)
    first = text_of(await console.get(f"/surveillance/{invigilation.session_id}/salle"))
    assert "0 présent(s) confirmé(s)" in first
    other = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=invigilation.finalisation.app), base_url="http://finalisation"
    )
    async with other:
        login = await other.post(
            "/invigilator/login",
            json={"session_number": invigilation.session_number, "password": invigilation.password},
        )
        token = login.json()["token"]
        candidate = invigilation.candidates[2]["candidate_id"]
        done = await other.post(
            f"/invigilator/sessions/{invigilation.session_id}/candidates/{candidate}/presence",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert done.status_code == 200, done.text
    again = text_of(await console.get(f"/surveillance/{invigilation.session_id}/salle"))
    assert "1 présent(s) confirmé(s)" in again


async def test_refusals_and_incidents(console, invigilation):
    await log_in(console, invigilation)
    refused = await console.post(seat_url(invigilation, 0, "debut"), headers=HTMX)
    assert "Confirmez d'abord la présence du candidat." in text_of(refused)

    room = f"/surveillance/{invigilation.session_id}"
    candidate = invigilation.candidates[1]
    missing = await console.post(
        f"{room}/incidents", data={"candidate_id": candidate["candidate_id"], "code": "C7"}
    )
    assert missing.status_code == 422 and "Ce signalement demande une description." in text_of(missing)
    recorded = await console.post(
        f"{room}/incidents",
        data={"candidate_id": candidate["candidate_id"], "code": "C7", "description": "souris en panne"},
    )
    assert recorded.status_code == 303
    text = text_of(await console.get(room))
    assert "Incidents (1)" in text
    assert (
        f"{candidate['first_name']} {candidate['last_name']} : C7 — Problème technique non bloquant" in text
    )
    assert "souris en panne" in text
    whole_room = await console.post(f"{room}/incidents", data={"code": "E4", "question_number": "12"})
    assert whole_room.status_code == 303
    assert "Toute la salle : E4" in text_of(await console.get(room))


async def test_without_a_token_the_room_sends_to_the_sign_in(console, invigilation):
    page = await console.get(f"/surveillance/{invigilation.session_id}")
    assert page.status_code == 303
    assert page.headers["location"].endswith("/surveillance?motif=auth.missing_token")
    live = await console.get(f"/surveillance/{invigilation.session_id}/salle", headers=HTMX)
    assert live.status_code == 204 and live.headers["HX-Redirect"].endswith("motif=auth.missing_token")
    form = await console.get("/surveillance?motif=auth.missing_token")
    assert "Connectez-vous à l'espace surveillant." in text_of(form)
