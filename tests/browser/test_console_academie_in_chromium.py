"""The académie operator in a real browser, against the real académie service and Keycloak: from
the sign-in to the operator's view, the schools table sorted by a click on its header, the chart,
overdue sessions and the services' operations; usable at 1280 px and on a 768 px tablet, axe-core
on each page, screenshots saved."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest

from deploy.local.localinfra.realm import OPERATOR_USER
from tests.browser.test_console_in_chromium import shot
from tests.browser.test_console_invigilation_in_chromium import sign_in_as
from tests.console_support_academie import Academie, console_app_with_academie, seed_academie
from tests.serving import served

pytestmark = [pytest.mark.integration, pytest.mark.browser]


@pytest.fixture
async def academie(start_service) -> Academie:
    return await seed_academie(start_service)


@pytest.fixture
async def console_url(academie) -> AsyncIterator[str]:
    async with served(lambda url: console_app_with_academie(academie, url)) as url:
        yield url


async def first_column(page, index: int) -> list[str]:
    return await page.locator(f"#schools-table tbody tr td:nth-child({index})").all_inner_texts()


async def test_the_operator_view(browser, console_url, academie, output):
    context = await browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
    page = await context.new_page()
    await sign_in_as(page, console_url, OPERATOR_USER)
    await page.get_by_role("link", name="Vue académique").click()
    await page.get_by_role("heading", level=1, name="Vue académique — Phase 3").wait_for()
    assert await page.locator("#progress-chart").get_attribute("role") == "img"
    assert await page.locator("#overdue-table tbody tr").count() == 1
    assert (
        "injoignable"
        in (await page.locator('#operations-table tr[data-service="scheduler"]').inner_text()).lower()
    )
    await shot(page, output, "1-academie-1280")

    # sort by the school's name with a click on its header, then reversed with the keyboard
    await page.get_by_role("link", name=re.compile(r"^Établissement")).click()
    await page.wait_for_url(re.compile(r"tri=nom&ordre=asc"))
    assert await first_column(page, 2) == [academie.college_name, academie.lycee_name]
    header = page.get_by_role("link", name=re.compile(r"^Établissement"))
    await header.focus()
    await page.keyboard.press("Enter")
    await page.wait_for_url(re.compile(r"tri=nom&ordre=desc"))
    assert await first_column(page, 2) == [academie.lycee_name, academie.college_name]
    sorted_by = await page.locator('th[aria-sort="descending"]').inner_text()
    assert sorted_by.startswith("Établissement") and "trié par ordre décroissant" in sorted_by
    await shot(page, output, "2-academie-triee-1280")

    await page.set_viewport_size({"width": 768, "height": 1024})
    await page.reload()
    assert await page.evaluate("document.documentElement.scrollWidth") <= 768
    await shot(page, output, "3-academie-768")
    await context.close()
