"""Browser tests: Debian's Chromium driven by Playwright (the PyPI package, pointed at the system
browser: no browser download), against the console served on a free port.

Never skipped: without Chromium they fail with the command that installs it
(deploy/local/run-tests installs it itself under CI=true or as root).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.console_support import Seeded, console_app, seed
from tests.serving import served

CHROMIUM = Path(os.environ.get("CERTIBUS_CHROMIUM", "/usr/bin/chromium"))
REPO = Path(__file__).resolve().parents[2]
#: where screenshots and downloads go (kept after the run: out/ is git-ignored)
OUTPUT = Path(os.environ.get("CERTIBUS_TEST_OUTPUT", REPO / "out" / "test-output")) / "console"


@pytest.fixture(scope="session")
def chromium() -> Path:
    if not CHROMIUM.exists():
        pytest.fail(
            f"Chromium is not installed ({CHROMIUM} missing): `apt-get install -y chromium` "
            "(deploy/local/run-tests does it when CI=true or as root), or set CERTIBUS_CHROMIUM",
            pytrace=False,
        )
    return CHROMIUM


@pytest.fixture
def output(request) -> Path:
    folder = OUTPUT / request.node.name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


@pytest.fixture
async def seeded(start_service, tmp_path) -> Seeded:
    return await seed(start_service, tmp_path)


@pytest.fixture
async def console_url(seeded) -> AsyncIterator[str]:
    """The console on a free loopback port (uvicorn in this event loop, the services mounted in it)."""
    async with served(lambda url: console_app(seeded, url)) as url:
        yield url


@pytest.fixture
async def browser(chromium):
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=str(chromium), headless=True)
        yield launched
        await launched.close()
