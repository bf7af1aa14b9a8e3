"""The invigilator and the referent in a real browser, against the real scheduler, export and
finalisation services and the real Keycloak: invigilate on a 768 px tablet (the room follows what
another tablet does without a reload), then finalise the session — refused while incomplete, the
page saying what and where, then accepted. axe-core checks every page; screenshots are saved."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest

from deploy.local.localinfra.realm import referent_user, user_password
from tests.browser.test_console_in_chromium import shot
from tests.console_support import seed
from tests.console_support_finalisation import (
    Invigilation,
    console_app_with_finalisation,
    invigilate,
    seed_finalisation,
)
from tests.keycloak import SCHOOL_A
from tests.serving import served

pytestmark = [pytest.mark.integration, pytest.mark.browser]


@pytest.fixture
async def invigilation(start_service, tmp_path) -> Invigilation:
    return await seed_finalisation(start_service, await seed(start_service, tmp_path))


@pytest.fixture
async def console_url(invigilation) -> AsyncIterator[str]:
    # the room is asked again every second, so the test sees another tablet's click quickly
    async with served(
        lambda url: console_app_with_finalisation(invigilation, url, console_live_refresh_seconds=1)
    ) as url:
        yield url


async def another_tablet_confirms(invigilation: Invigilation, index: int) -> None:
    """A second invigilator's tablet, straight on finalisation's API."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=invigilation.finalisation.app), base_url="http://finalisation"
    ) as tablet:
        login = await tablet.post(
            "/invigilator/login",
            json={"session_number": invigilation.session_number, "password": invigilation.password},
        )
        candidate = invigilation.candidates[index]["candidate_id"]
        done = await tablet.post(
            f"/invigilator/sessions/{invigilation.session_id}/candidates/{candidate}/presence",
            headers={"Authorization": f"Bearer {login.json()['token']}"},
        )
        assert done.status_code == 200, done.text


def full_name(candidate: dict) -> str:
    return f"{candidate['first_name']} {candidate['last_name']}"


async def test_invigilating_on_a_768px_tablet(browser, console_url, invigilation, output):
    context = await browser.new_context(viewport={"width": 768, "height": 1024}, locale="fr-FR")
    page = await context.new_page()
    await page.goto(console_url)
    await page.get_by_role("link", name="Espace surveillant").click()
    await page.get_by_label("Numéro de session").fill(str(invigilation.session_number))
    await page.get_by_label("Mot de passe de la session").fill("C-PASFAUX")
    await page.get_by_role("button", name="Accéder à la session").click()
    await page.get_by_text("Numéro de session ou mot de passe incorrect.").wait_for()
    await shot(page, output, "1-surveillance-connexion-refusee-768")

    await page.get_by_label("Mot de passe de la session").fill(invigilation.password)
    await page.get_by_label("Mot de passe de la session").press("Enter")  # by keyboard
    await page.wait_for_url(f"{console_url}/surveillance/{invigilation.session_id}")
    await page.locator("#candidates tbody tr").nth(2).wait_for()
    assert await page.locator("#candidates tbody tr").count() == 3
    await shot(page, output, "2-surveillance-salle-768")

    first, _, third = sorted(invigilation.candidates, key=lambda c: (c["last_name"], c["first_name"]))
    row = page.locator(f'tr[data-candidate="{first["candidate_id"]}"]')
    confirm = page.get_by_role("button", name=f"Confirmer la présence : {full_name(first)}")
    await confirm.focus()
    await page.keyboard.press("Enter")
    await row.locator(".seat-presence", has_text="Confirmée").wait_for()
    await page.get_by_role("button", name=f"Test commencé : {full_name(first)}").click()
    await row.locator(".seat-state", has_text="En cours").wait_for()
    assert re.search(
        r"\d+ min restantes \(fin prévue à \d\d:\d\d\)", await row.locator(".seat-time").inner_text()
    )

    # another tablet confirms a candidate: the room shows it without a reload
    await page.evaluate("window.__notReloaded = true")
    await another_tablet_confirms(invigilation, invigilation.candidates.index(third))
    await page.locator(
        f'tr[data-candidate="{third["candidate_id"]}"] .seat-presence', has_text="Confirmée"
    ).wait_for(timeout=10_000)
    assert await page.evaluate("window.__notReloaded === true")

    # an incident for the candidate, written as it happens
    await page.get_by_label("Concerne").select_option(first["candidate_id"])
    await page.get_by_label("Type d'incident").select_option("C7")
    await page.get_by_label("Description").fill("Souris en panne, remplacée")
    await page.get_by_role("button", name="Enregistrer l'incident").click()
    await page.locator("#incident-list li", has_text="C7 — Problème technique non bloquant").wait_for()
    assert await page.evaluate("document.documentElement.scrollWidth") <= 768
    await shot(page, output, "3-surveillance-en-cours-768")
    await context.close()


async def choose(page, radio_id: str) -> None:
    """A DSFR radio button is chosen through its label (the input itself is drawn by the label)."""
    await page.locator(f'label[for="{radio_id}"]').click()
    assert await page.locator(f"#{radio_id}").is_checked()


async def sign_in_as(page, console_url: str, username: str) -> None:
    await page.goto(console_url)
    await page.get_by_role("link", name="Se connecter").click()
    await page.wait_for_url(re.compile(r"/realms/certibus/"))
    await page.locator("#username").fill(username)
    await page.locator("#password").fill(user_password(username))
    await page.locator("#kc-login").click()
    await page.wait_for_url(re.compile(re.escape(console_url) + r"/(etablissements/.*)?$"))


async def test_finalising_is_refused_while_incomplete_then_accepted(
    browser, console_url, invigilation, output
):
    await invigilate(invigilation, completed=(0,), started=(1,))
    context = await browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
    page = await context.new_page()
    await sign_in_as(page, console_url, referent_user(SCHOOL_A))
    await page.goto(f"{console_url}/sessions/{invigilation.session_id}")
    await page.get_by_role("link", name="Finaliser la session").click()
    await page.get_by_role("heading", level=1, name=re.compile("Finaliser la session")).wait_for()
    await shot(page, output, "1-finalisation-1280")
    # the same form on the tablet: nothing wider than its screen
    await page.set_viewport_size({"width": 768, "height": 1024})
    assert await page.evaluate("document.documentElement.scrollWidth") <= 768
    await shot(page, output, "1-finalisation-768")
    await page.set_viewport_size({"width": 1280, "height": 900})

    # nothing chosen: refused, the page lists what is missing and links to where
    await page.get_by_role("button", name="Finaliser la session").click()
    problems = page.locator("#form-problems")
    await problems.wait_for()
    assert "5 point(s) à corriger" in await problems.inner_text()  # three candidates, two questions
    await shot(page, output, "2-finalisation-incomplete-1280")
    completed, started, absent = invigilation.candidates
    await problems.get_by_role("link", name=re.compile(full_name(started))).click()
    assert await page.evaluate("document.activeElement.id") == f"outcome-{started['candidate_id']}"

    # said complete although their test did not finish: the service's refusal, in French, on their row
    for candidate, outcome in ((completed, "completed"), (started, "completed"), (absent, "absent")):
        await choose(page, f"outcome-{candidate['candidate_id']}-{outcome}")
    await choose(page, "has_incident-non")
    await choose(page, "has_joining_issue-non")
    comment = page.get_by_label(re.compile("Commentaire global"))
    await comment.fill("Une coupure réseau de cinq minutes.")
    assert await page.locator("#comment-length").inner_text() == str(
        len("Une coupure réseau de cinq minutes.")
    )
    await page.get_by_role("button", name="Finaliser la session").click()
    await problems.wait_for()
    assert "n'a pas terminé son test : indiquez la raison de l'abandon" in await problems.inner_text()
    await shot(page, output, "3-finalisation-refusee-1280")

    await choose(page, f"outcome-{started['candidate_id']}-technical")
    await page.get_by_role("button", name="Finaliser la session").click()
    await page.locator("#finalised").wait_for()
    assert "Elle sera examinée par le jury" in await page.locator("#finalised").inner_text()
    await shot(page, output, "4-finalisation-acceptee-1280")
    await context.close()
