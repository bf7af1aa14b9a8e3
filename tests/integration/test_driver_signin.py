"""The main job's sign-in (deploy/local/signin.py) against the real local Keycloak.

Each school's requests carry a token of that school's Pix referent, the académie view's the
operator's; many requests waiting for one person sign in once; a token near its end is renewed with
the refresh grant, not a new password; and the driver's ``Run.call`` sends them, over HTTP, to a
server that reads the header back.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time

import pytest
from aiohttp import web

from deploy.local.signin import SignIn, acting_for
from deploy.local.steps import Run
from tests.keycloak import SCHOOL_A, SCHOOL_B, issuer

pytestmark = pytest.mark.integration


def _unverified(token: str) -> dict:
    """The token's claims, unverified (the services verify them; here only whom it is for matters)."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def _who(authorization: dict[str, str]) -> dict:
    return _unverified(authorization["Authorization"].removeprefix("Bearer "))


async def test_a_school_signs_in_as_its_referent_and_the_view_as_the_operator():
    async with SignIn(issuer()) as signin:
        with acting_for(SCHOOL_A):
            school = _who(await signin.authorization())
        view = _who(await signin.authorization())
        with acting_for(SCHOOL_B):
            other = _who(await signin.authorization())
    assert school["uai"] == [SCHOOL_A] and "referent" in school["realm_access"]["roles"]
    assert other["uai"] == [SCHOOL_B]
    assert "operator" in view["realm_access"]["roles"] and "uai" not in view
    assert signin.sign_ins == 3


async def test_requests_that_wait_for_one_person_sign_in_once_and_renew_by_refresh():
    async with SignIn(issuer()) as signin:

        async def one() -> str:
            with acting_for(SCHOOL_A):
                return (await signin.authorization())["Authorization"]

        tokens = await asyncio.gather(*(one() for _ in range(20)))
        assert len(set(tokens)) == 1 and signin.sign_ins == 1
        held = next(iter(signin._tokens.values()))
        held.expires_at = time.monotonic() + 10  # as if it were about to expire
        renewed = await one()
        assert renewed != tokens[0] and signin.renewals == 1 and signin.sign_ins == 1
        assert _who({"Authorization": renewed})["uai"] == [SCHOOL_A]


async def test_run_call_sends_the_schools_token_and_none_on_public_routes():
    seen: list[str | None] = []

    async def echo(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Authorization"))
        return web.json_response({})

    app = web.Application()
    app.router.add_get("/schools/{uai}", echo)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    run = Run({"scheduler": f"http://127.0.0.1:{port}"}, output=None, signin=SignIn(issuer()))  # type: ignore[arg-type]
    try:
        async with run:
            with acting_for(SCHOOL_A):
                await run.call("scheduler", "GET", f"/schools/{SCHOOL_A}")
                await run.call("scheduler", "GET", f"/schools/{SCHOOL_A}", public=True)
    finally:
        await runner.cleanup()
    assert seen[1] is None
    assert seen[0] is not None and _who({"Authorization": seen[0]})["uai"] == [SCHOOL_A]
