"""Page 5, finalising a session, against the real finalisation service: nothing is sent while a
candidate, a question or a report's detail is missing (the page says what and links to where), the
service's refusals come back in French on the candidate they name, then the referent's complete
form finalises the session."""

from __future__ import annotations

import html

import httpx
import pytest

from deploy.local.localinfra.realm import referent_user
from shared.contracts.events import SessionFinalised
from tests.console_support import IN_PROCESS_URL, in_process, seed, sign_in, staff
from tests.console_support_finalisation import console_app_with_finalisation, invigilate, seed_finalisation
from tests.keycloak import SCHOOL_A
from tests.support import outbox_events

pytestmark = pytest.mark.integration

PUBLIC_URL = IN_PROCESS_URL


@pytest.fixture
async def invigilation(start_service, tmp_path):
    return await seed_finalisation(start_service, await seed(start_service, tmp_path))


@pytest.fixture
async def console(invigilation):
    async with in_process(console_app_with_finalisation(invigilation, PUBLIC_URL)) as http:
        yield http


def text_of(response: httpx.Response) -> str:
    return html.unescape(response.text)


def complete_form(invigilation, outcomes: list[str], **extra: str) -> dict[str, str]:
    form = {"has_incident": "non", "has_joining_issue": "non", "examiner_global_comment": ""}
    for candidate, outcome in zip(invigilation.candidates, outcomes, strict=True):
        form[f"outcome-{candidate['candidate_id']}"] = outcome
    return {**form, **extra}


async def finalised(invigilation) -> list[SessionFinalised]:
    return await outbox_events(invigilation.finalisation, SessionFinalised)


async def test_the_form_lists_every_candidate_and_says_what_is_missing(console, invigilation):
    await sign_in(console, referent_user(SCHOOL_A))
    url = f"/sessions/{invigilation.session_id}/finalisation"
    form = await console.get(url)
    assert form.status_code == 200, form.text
    text = text_of(form)
    for c in invigilation.candidates:
        assert f"{c['last_name']} {c['first_name']}" in text
    assert "0</span> / 500 caractères" in text and 'maxlength="500"' in text
    assert '<script src="/static/console/counter.js"></script>' in form.text
    assert "Abandon : manque de temps ou départ prématuré" in text and "C6 — Suspicion de fraude" in text

    first = invigilation.candidates[0]
    empty = await console.post(url, data={f"outcome-{first['candidate_id']}": "completed"})
    assert empty.status_code == 422
    text = text_of(empty)
    assert "4 point(s) à corriger" in text  # two candidates and the two questions
    for c in invigilation.candidates[1:]:
        assert f'<a href="#outcome-{c["candidate_id"]}">{c["first_name"]} {c["last_name"]} : indiquez' in text
    assert '<a href="#has_incident-oui">' in text and '<a href="#has_joining_issue-oui">' in text
    # what was chosen stays chosen
    assert 'value="completed" checked' in text
    assert await finalised(invigilation) == []

    report = complete_form(
        invigilation,
        ["completed", "absent", "absent"],
        **{f"report-{first['candidate_id']}-code": "C7", "examiner_global_comment": "x" * 501},
    )
    details = text_of(await console.post(url, data=report))
    assert (
        f"{first['first_name']} {first['last_name']} : le signalement C7 demande une description." in details
    )
    assert "Le commentaire global a 501 caractères : 500 au plus." in details
    assert await finalised(invigilation) == []


async def test_the_services_refusals_in_french_then_the_session_is_finalised(console, invigilation):
    await sign_in(console, referent_user(SCHOOL_A))
    url = f"/sessions/{invigilation.session_id}/finalisation"
    nobody = await console.post(url, data=complete_form(invigilation, ["absent", "absent", "absent"]))
    assert nobody.status_code == 409
    assert "Aucun test n'a commencé dans cette session : elle ne peut pas être finalisée." in text_of(nobody)

    await invigilate(invigilation, completed=(0,), started=(1,))
    second = invigilation.candidates[1]
    wrong = await console.post(url, data=complete_form(invigilation, ["completed", "completed", "absent"]))
    assert wrong.status_code == 422
    assert (
        f'<a href="#outcome-{second["candidate_id"]}">{second["first_name"]} {second["last_name"]} : Ce candidat'
        " n'a pas terminé son test : indiquez la raison de l'abandon.</a>"
    ) in text_of(wrong)
    assert await finalised(invigilation) == []

    done = await console.post(
        url,
        data=complete_form(
            invigilation,
            ["completed", "technical", "absent"],
            **{
                f"report-{second['candidate_id']}-code": "E9",
                f"report-{second['candidate_id']}-question": "7",
                "has_incident": "oui",
                "examiner_global_comment": "Coupure réseau à 9 h 40.",
            },
        ),
    )
    assert done.status_code == 200, done.text
    text = text_of(done)
    assert f"Session {invigilation.session_number} finalisée" in text
    assert "examinée par le jury" in text and "E9 — Le logiciel installé" in text
    [event] = await finalised(invigilation)
    by_id = {c.candidate_id: c for c in event.candidates}
    assert by_id[second["candidate_id"]].abort_reason == "technical"
    assert [r.code for r in by_id[second["candidate_id"]].issue_reports] == ["E9"]
    assert event.has_incident and event.examiner_global_comment == "Coupure réseau à 9 h 40."
    again = await console.post(url, data=complete_form(invigilation, ["completed", "technical", "absent"]))
    assert "Cette session est déjà finalisée." in text_of(again)


async def test_only_the_referent_finalises(console, invigilation):
    await invigilate(invigilation, completed=(0,))
    await sign_in(console, staff(SCHOOL_A))
    url = f"/sessions/{invigilation.session_id}/finalisation"
    refused = await console.post(url, data=complete_form(invigilation, ["completed", "absent", "absent"]))
    assert refused.status_code == 404
    assert "réservée au référent Pix de l'établissement" in text_of(refused)
    assert await finalised(invigilation) == []
