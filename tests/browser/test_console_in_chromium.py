"""A staff member in a real browser: sign in through Keycloak's own login form, see only their
school's checklist, open a session, download a class's results CSV; by keyboard on a 768 px tablet.
Each page's screenshot is saved under the test's output folder (out/test-output/console/…)."""

from __future__ import annotations

import json
import re

import pytest

from deploy.local.localinfra.realm import user_password
from tests.browser.conftest import REPO
from tests.console_support import RESULTS_CLASS, SCHOOL_NAMES, staff
from tests.keycloak import SCHOOL_A, SCHOOL_B

pytestmark = [pytest.mark.integration, pytest.mark.browser]

AXE = REPO / "services" / "console" / "assets" / "node_modules" / "axe-core" / "axe.min.js"


async def shot(page, output, name: str) -> None:
    """The page's screenshot, then axe-core's check (WCAG 2.x A and AA rules): no serious or critical
    violation; its report is saved beside the screenshot."""
    await page.screenshot(path=output / f"{name}.png", full_page=True)
    assert AXE.exists(), f"{AXE} missing: run deploy/local/console-assets.sh (npm installs axe-core)"
    await page.add_script_tag(path=str(AXE))
    report = await page.evaluate(
        "axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})"
    )
    (output / f"{name}.axe.json").write_text(json.dumps(report["violations"], indent=2, ensure_ascii=False))
    serious = [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']]}"
        for v in report["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert not serious, f"{name}: " + "\n".join(serious)


async def sign_in(page, console_url: str, username: str) -> None:
    await page.goto(console_url)
    await page.get_by_role("link", name="Se connecter").click()
    await page.wait_for_url(re.compile(r"/realms/certibus/"))  # Keycloak's login page
    await page.locator("#username").fill(username)
    await page.locator("#password").fill(user_password(username))
    await page.locator("#kc-login").click()
    await page.wait_for_url(f"{console_url}/etablissements/{SCHOOL_A}")


async def test_a_staff_member_signs_in_and_reaches_their_school_only(browser, console_url, seeded, output):
    context = await browser.new_context(
        viewport={"width": 1280, "height": 900}, accept_downloads=True, locale="fr-FR"
    )
    page = await context.new_page()
    await sign_in(page, console_url, staff(SCHOOL_A))

    # the checklist: the school's own name, its UAI only, the five steps
    await page.get_by_role("heading", level=1, name=re.compile(SCHOOL_NAMES[SCHOOL_A])).wait_for()
    assert await page.locator("#my-schools").inner_text() == f"Vos établissements : {SCHOOL_A}"
    assert await page.locator("#steps > li").count() == 5
    assert SCHOOL_NAMES[SCHOOL_B] not in await page.content()
    await shot(page, output, "1-tableau-de-bord-1280")

    # another school's page is the services' 404
    refused = await page.goto(f"{console_url}/etablissements/{SCHOOL_B}")
    assert refused.status == 404
    await shot(page, output, "2-autre-etablissement-404")

    # the session list, then the session page with Pix Certif's fields
    await page.goto(f"{console_url}/etablissements/{SCHOOL_A}")
    await page.get_by_role("navigation", name="Menu principal").get_by_role("link", name="Sessions").click()
    await page.get_by_role("table").wait_for()
    await shot(page, output, "3-sessions")
    await page.get_by_role("link", name=re.compile(r"^Session \d+$")).first.click()
    await page.wait_for_url(f"{console_url}/sessions/{seeded.sessions[SCHOOL_A]}")
    details = await page.locator("#session-details").inner_text()
    for label in ("ID session", "Nom du site", "Salle", "Surveillant(s)", "Code d'accès", "Date", "Heure"):
        assert label in details
    assert "Mme Dupré, M. Martin" in details
    await shot(page, output, "4-session")

    # results: choose the class, download its CSV
    await page.get_by_role("navigation", name="Menu principal").get_by_role("link", name="Résultats").click()
    await page.get_by_label("Classe").select_option(RESULTS_CLASS)
    await page.get_by_role("button", name="Afficher la classe").click()
    await page.get_by_role("link", name="Exporter les résultats").wait_for()
    for name in (
        "Exporter les résultats",
        "Télécharger les attestations",
    ):  # their words shown, not an icon alone
        assert await page.get_by_role("link", name=name).inner_text() == name
        assert (await page.get_by_role("link", name=name).bounding_box())["width"] > 150
    await shot(page, output, "5-resultats")
    async with page.expect_download() as downloading:
        await page.get_by_role("link", name="Exporter les résultats").click()
    download = await downloading.value
    saved = output / download.suggested_filename
    await download.save_as(saved)
    assert saved.suffix == ".csv"
    text = saved.read_bytes().decode("utf-8-sig")
    assert text.startswith('"Numéro de certification"') and "Abel" in text
    await context.close()


async def test_the_console_works_by_keyboard_on_a_768px_tablet(browser, console_url, output):
    context = await browser.new_context(viewport={"width": 768, "height": 1024}, locale="fr-FR")
    page = await context.new_page()
    await sign_in(page, console_url, staff(SCHOOL_A))

    # the first Tab reaches the skip link, which moves to the content
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.textContent.trim()") == "Contenu"
    # the header's menu button opens the navigation; its links are reached with Tab and followed with Enter
    menu = page.get_by_role("button", name="Menu")
    await menu.focus()
    await page.keyboard.press("Enter")
    sessions = page.get_by_role("navigation", name="Menu principal").get_by_role("link", name="Sessions")
    await sessions.wait_for(state="visible")
    await shot(page, output, "1-menu-768")
    for _ in range(12):
        if await page.evaluate("document.activeElement.textContent.trim()") == "Sessions":
            break
        await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.textContent.trim()") == "Sessions"
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"{console_url}/etablissements/{SCHOOL_A}/sessions")
    await shot(page, output, "2-sessions-768")
    # nothing wider than the tablet's screen
    assert await page.evaluate("document.documentElement.scrollWidth") <= 768
    await context.close()


async def test_the_accessibility_check_finds_what_it_is_for(browser, output):
    """The axe-core check above is not vacuous: a page with an unlabelled field and an image without
    its text alternative fails it."""
    page = await browser.new_page()
    await page.set_content(
        '<html lang="fr"><body><main><img src="x.png"><input type="text"></main></body></html>'
    )
    with pytest.raises(AssertionError, match=r"image-alt \(critical\)"):
        await shot(page, output, "bad-page")
    await page.close()
