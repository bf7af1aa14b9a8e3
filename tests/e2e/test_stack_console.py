"""The console as the main job runs it: a process of the stack (deploy/local/stack.py) on its port,
reading the other processes over HTTP with the signed-in person's token from the real Keycloak."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from deploy.local.stack import CONSOLE, start_stack
from tests.component.scheduler.builders import school_body
from tests.console_support import console_settings, sign_in, staff
from tests.e2e.conftest import stack_config
from tests.keycloak import SCHOOL_A, SCHOOL_B, issuer

pytestmark = [pytest.mark.integration, pytest.mark.e2e]


async def test_the_stack_runs_the_console_on_the_services_and_the_provider(infrastructure, kafka, tmp_path):
    config = stack_config(kafka, infrastructure.admin_database_url, tmp_path / "run", [])
    config.oidc_issuer = issuer()
    console_settings(config.url(CONSOLE))  # the running realm has the console's client
    # start_stack provisions with asyncio.run: from a thread, not from this test's event loop
    stack = await asyncio.to_thread(start_stack, config, False)
    try:
        gateway = {"Authorization": f"Bearer {config.api_token}"}
        async with httpx.AsyncClient(base_url=config.url("scheduler"), headers=gateway, timeout=30) as portal:
            for uai, name in ((SCHOOL_A, "Lycée du stack"), (SCHOOL_B, "Lycée voisin")):
                put = await portal.put(f"/schools/{uai}", json=school_body(name=name))
                assert put.status_code in (200, 201), put.text
        async with httpx.AsyncClient(base_url=config.url(CONSOLE), timeout=30) as console:
            assert (await console.get("/ready")).status_code == 200
            assert (await console.get("/static/dsfr/dsfr.min.css")).status_code == 200
            back = await sign_in(console, staff(SCHOOL_A))
            assert back.status_code == 303, back.text
            home = await console.get(f"/etablissements/{SCHOOL_A}")
            assert home.status_code == 200 and "Lycée du stack" in home.text
            other = await console.get(f"/etablissements/{SCHOOL_B}")
            assert other.status_code == 404 and "Lycée voisin" not in other.text
            # pages 2 and 3 read eligibility and the scheduler over HTTP with the same token
            certifiability = await console.get(f"/etablissements/{SCHOOL_A}/certificabilite")
            assert certifiability.status_code == 200 and "Importer un fichier" in certifiability.text
            planning = await console.get(f"/etablissements/{SCHOOL_A}/planification")
            assert planning.status_code == 200 and "Salle 101" in planning.text
            assert (await console.get(f"/etablissements/{SCHOOL_B}/certificabilite")).status_code == 404
    finally:
        await asyncio.to_thread(stack.stop)
