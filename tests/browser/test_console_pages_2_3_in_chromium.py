"""Pages 2 and 3 in a real browser (Debian's Chromium, the real services, Keycloak's own login form):
upload a roster with an error and see its line; plan a class, see the week, confirm; open a created
session's tabs and Modifier form; download its attendance sheet; the pages at 768 px by keyboard.
Every page's screenshot and axe-core report land under out/test-output/console/<test>/."""

from __future__ import annotations

import re

import pytest
from pypdf import PdfReader

from tests.browser.test_console_in_chromium import shot, sign_in
from tests.component.scheduler.builders import school_body
from tests.console_support import PLANNED_CLASS, PLANNED_CLASS_SIZE, SCHOOL_NAMES, bearer, staff
from tests.keycloak import SCHOOL_A
from tests.learner_rows import HEADER, learner_row

pytestmark = [pytest.mark.integration, pytest.mark.browser]


def menu_link(page, name: str):
    return page.get_by_role("navigation", name="Menu principal").get_by_role("link", name=name)


async def test_a_roster_with_an_error_shows_its_line_beside_the_form(browser, console_url, seeded, output):
    context = await browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
    page = await context.new_page()
    await sign_in(page, console_url, staff(SCHOOL_A))
    await menu_link(page, "Certificabilité").click()
    await page.get_by_role("heading", level=1, name="Certificabilité des élèves").wait_for()
    division = seeded.learners[0].division
    assert await page.locator("#classes-table tbody tr").count() == 1
    assert division in await page.locator("#classes-table").inner_text()
    assert "Non certifiable" in await page.locator("#classe-1-table").inner_text()
    await shot(page, output, "1-certificabilite")

    broken = "\n".join([HEADER, learner_row(), learner_row(ine="12345", first_name="Hugo", sex="M")]) + "\n"
    form = page.locator("#upload-liste-eleves")
    await form.get_by_label("Fichier à importer").set_input_files(
        files=[{"name": "eleves-3e.csv", "mimeType": "text/csv", "buffer": broken.encode()}]
    )
    await form.get_by_role("button", name=re.compile("^Importer")).click()
    errors = page.locator("#liste-eleves-errors")
    await errors.wait_for()
    row = errors.locator("tbody tr").first
    cells = [await c.inner_text() for c in await row.locator("td").all()]
    assert cells[:3] == ["eleves-3e.csv", "3", "Identifiant unique*"] and "INE" in cells[4]
    assert "rien n'a été importé" in await errors.locator("caption").inner_text()
    assert await page.locator("#upload-liste-eleves #liste-eleves-errors").count() == 1  # beside its form
    await shot(page, output, "2-liste-refusee")
    await context.close()


async def test_plan_confirm_then_open_the_session_and_download_its_attendance_sheet(
    browser, console_url, output
):
    context = await browser.new_context(
        viewport={"width": 1280, "height": 900}, accept_downloads=True, locale="fr-FR"
    )
    page = await context.new_page()
    await sign_in(page, console_url, staff(SCHOOL_A))
    await menu_link(page, "Planification").click()
    await page.get_by_role("heading", level=1, name="Planification des sessions").wait_for()
    assert "Salle 101" in await page.locator("#rooms-table").inner_text()
    assert "Mme Dupré" in await page.locator("#staff-table").inner_text()
    await shot(page, output, "1-planification")
    await page.get_by_role("link", name="Modifier les salles et les surveillants").click()
    await page.get_by_label("Disponibilités").first.wait_for()
    await shot(page, output, "1-salles-et-surveillants")
    await page.get_by_role("link", name="Annuler").click()
    await page.get_by_role("heading", level=1, name="Planification des sessions").wait_for()

    # the DSFR draws the box over the label: one clicks the label, as a person does
    await page.locator("label", has_text=PLANNED_CLASS).click()
    assert await page.get_by_label(re.compile(rf"^{PLANNED_CLASS}\b")).is_checked()
    await page.get_by_role("button", name="Proposer un planning").click()
    await page.wait_for_url(re.compile(r"/planifications/[0-9a-f-]{36}$"))
    week = page.locator("#week-1")
    await week.wait_for()
    assert re.match(r"Semaine du \d\d/\d\d/\d{4}", await week.locator("caption").inner_text())
    headers = [await h.inner_text() for h in await week.locator("thead th").all()]
    assert headers == ["Demi-journée", "Salle 101", "CDI"]
    assert f"{PLANNED_CLASS} ({PLANNED_CLASS_SIZE} élève(s))" in await week.inner_text()
    await shot(page, output, "2-planning-propose")

    await page.get_by_role("button", name="Confirmer le planning").click()
    await page.locator("#plan-confirmed").wait_for()
    await shot(page, output, "3-planning-confirme")
    await page.locator("#plan-confirmed").get_by_role("link", name="voir les sessions").click()
    await page.get_by_role("table").wait_for()
    assert await page.locator("#sessions-table tbody tr").count() == 2
    # the planned session: the row with the planned class's candidates
    row = page.locator(
        "#sessions-table tbody tr", has=page.get_by_role("cell", name=str(PLANNED_CLASS_SIZE), exact=True)
    )
    await row.get_by_role("link", name=re.compile(r"^Session \d+$")).click()
    await page.get_by_role("tab", name="Détails").wait_for()
    assert await page.get_by_role("tab", name="Détails").get_attribute("aria-selected") == "true"
    await shot(page, output, "4-session-details")
    await page.get_by_role("tab", name=f"Candidats ({PLANNED_CLASS_SIZE})").click()
    candidates = page.locator("#tab-candidates-panel")
    await candidates.get_by_role("table").wait_for(state="visible")
    assert await candidates.locator("tbody tr").count() == PLANNED_CLASS_SIZE
    await shot(page, output, "5-session-candidats")

    async with page.expect_download() as downloading:
        await page.get_by_role("link", name=re.compile("Feuille d'émargement")).click()
    download = await downloading.value
    saved = output / download.suggested_filename
    await download.save_as(saved)
    assert saved.suffix == ".pdf"
    assert "émargement" in "".join(p.extract_text() for p in PdfReader(saved).pages).lower()

    await page.get_by_role("tab", name="Détails").click()
    await page.get_by_role("link", name="Modifier").click()
    await page.get_by_role("heading", level=1, name=re.compile("Modifier la session")).wait_for()
    await page.get_by_label("Observations").fill("Casques audio dans l'armoire")
    await shot(page, output, "6-session-modifier")
    await page.get_by_role("button", name="Enregistrer").click()
    await page.get_by_role("tab", name="Détails").wait_for()
    assert "Casques audio dans l'armoire" in await page.locator("#session-details").inner_text()
    await context.close()


async def test_pages_2_and_3_by_keyboard_on_a_768px_tablet(browser, console_url, seeded, output):
    context = await browser.new_context(viewport={"width": 768, "height": 1024}, locale="fr-FR")
    page = await context.new_page()
    await sign_in(page, console_url, staff(SCHOOL_A))
    for path, name in (
        (f"/etablissements/{SCHOOL_A}/certificabilite", "1-certificabilite-768"),
        (f"/etablissements/{SCHOOL_A}/planification", "2-planification-768"),
        (f"/etablissements/{SCHOOL_A}/planification/salles-et-surveillants", "3-salles-768"),
        (f"/sessions/{seeded.sessions[SCHOOL_A]}/modifier", "3-session-modifier-768"),
    ):
        await page.goto(console_url + path)
        assert await page.evaluate("document.documentElement.scrollWidth") <= 768, path
        await shot(page, output, name)

    # the session's tabs by keyboard: focus the selected tab, the arrow moves to the next one
    await page.goto(f"{console_url}/sessions/{seeded.sessions[SCHOOL_A]}")
    await page.get_by_role("tab", name="Détails").focus()
    await page.keyboard.press("ArrowRight")
    assert await page.evaluate("document.activeElement.textContent.trim()") == "Candidats (3)"
    await page.keyboard.press("Enter")
    await page.locator("#tab-candidates-panel").get_by_role("table").wait_for(state="visible")
    assert await page.get_by_role("tab", name="Candidats (3)").get_attribute("aria-selected") == "true"
    assert await page.evaluate("document.documentElement.scrollWidth") <= 768
    await shot(page, output, "4-session-candidats-768")

    # the planning form by keyboard: Space ticks the focused class, Enter on the button sends it
    await page.goto(f"{console_url}/etablissements/{SCHOOL_A}/planification")
    box = page.get_by_label(re.compile(rf"^{PLANNED_CLASS}\b"))
    await box.focus()
    await page.keyboard.press("Space")
    assert await box.is_checked()
    await page.get_by_role("button", name="Proposer un planning").focus()
    await page.keyboard.press("Enter")
    await page.wait_for_url(re.compile(r"/planifications/[0-9a-f-]{36}$"))
    assert await page.evaluate("document.documentElement.scrollWidth") <= 768
    await shot(page, output, "5-planning-propose-768")
    await context.close()


async def test_an_impossible_plan_explains_itself(browser, console_url, seeded, output):
    body = school_body(name=SCHOOL_NAMES[SCHOOL_A], staff=[])
    emptied = await seeded.scheduler.http.put(f"/schools/{SCHOOL_A}", json=body, headers=bearer(SCHOOL_A))
    assert emptied.status_code == 200, emptied.text
    context = await browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
    page = await context.new_page()
    await sign_in(page, console_url, staff(SCHOOL_A))
    await page.goto(f"{console_url}/etablissements/{SCHOOL_A}/planification")
    await page.get_by_role("button", name="Proposer un planning").click()
    explanation = page.locator("#plan-error")
    await explanation.wait_for()
    assert "aucun surveillant" in await explanation.inner_text()
    assert await page.get_by_role("button", name="Confirmer le planning").count() == 0
    await shot(page, output, "1-planning-impossible")
    await context.close()
