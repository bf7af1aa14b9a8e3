"""Real tokens from a real provider (the local Keycloak) open the school API for their own school only.

A staff member signed in with the password grant reaches their school's route and gets 404 on
another's; the Pix client (client credentials) reaches only a route that allows it; the gateway's
API_TOKEN still works beside OIDC; a token of another audience or a tampered one is refused (401).
"""

from __future__ import annotations

import base64
import json

import httpx
import pytest

from shared.http import school_api_router
from shared.service import ServiceDefinition, create_app
from shared.settings import ServiceSettings
from tests.keycloak import (
    SCHOOL_A,
    SCHOOL_B,
    issuer,
    oidc_settings,
    operator_token,
    pix_token,
    referent_token,
    staff_token,
)

pytestmark = pytest.mark.integration

GATEWAY_TOKEN = "academie-gateway-token-0123456789"

school = school_api_router()
intake = school_api_router(also_allowed=frozenset({"pix"}))


@school.get("/schools/{uai}/notes")
async def notes(uai: str) -> dict[str, str]:
    return {"uai": uai}


@intake.post("/schools/{uai}/results")
async def results(uai: str) -> dict[str, str]:
    return {"uai": uai}


school.include_router(intake)


def client(**settings: str) -> httpx.AsyncClient:
    app = create_app(ServiceDefinition(name="scheduler", router=school), ServiceSettings(**settings))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://certibus")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_staff_and_referents_reach_their_school_only() -> None:
    async with client(**oidc_settings()) as http:
        for token in (staff_token(SCHOOL_A), referent_token(SCHOOL_A)):
            mine = await http.get(f"/schools/{SCHOOL_A}/notes", headers=bearer(token))
            assert mine.status_code == 200, mine.text
            assert (
                await http.get(f"/schools/{SCHOOL_A.lower()}/notes", headers=bearer(token))
            ).status_code == 200
            other = await http.get(f"/schools/{SCHOOL_B}/notes", headers=bearer(token))
            assert other.status_code == 404 and other.json()["error"]["code"] == "auth.not_found"
        assert (
            await http.get(f"/schools/{SCHOOL_B}/notes", headers=bearer(staff_token(SCHOOL_B)))
        ).status_code == 200
        assert (await http.get(f"/schools/{SCHOOL_B}/notes")).status_code == 401


async def test_the_operator_reaches_every_school() -> None:
    async with client(**oidc_settings()) as http:
        for uai in (SCHOOL_A, SCHOOL_B, "0210001M"):
            assert (
                await http.get(f"/schools/{uai}/notes", headers=bearer(operator_token()))
            ).status_code == 200


async def test_the_pix_client_posts_results_and_nothing_else() -> None:
    async with client(**oidc_settings()) as http:
        assert (
            await http.post(f"/schools/{SCHOOL_A}/results", headers=bearer(pix_token()))
        ).status_code == 200
        assert (await http.get(f"/schools/{SCHOOL_A}/notes", headers=bearer(pix_token()))).status_code == 404
        # and staff may post their own school's results too
        staff = bearer(staff_token(SCHOOL_A))
        assert (await http.post(f"/schools/{SCHOOL_A}/results", headers=staff)).status_code == 200


async def test_the_gateway_token_stays_valid_beside_oidc() -> None:
    async with client(**oidc_settings(), api_token=GATEWAY_TOKEN) as http:
        assert (
            await http.get(f"/schools/{SCHOOL_B}/notes", headers=bearer(GATEWAY_TOKEN))
        ).status_code == 200
        assert (
            await http.get(f"/schools/{SCHOOL_A}/notes", headers=bearer(staff_token(SCHOOL_A)))
        ).status_code == 200


def _tampered(token: str, **claims: object) -> str:
    header, payload, signature = token.split(".")
    body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    body.update(claims)
    forged = base64.urlsafe_b64encode(json.dumps(body).encode()).decode().rstrip("=")
    return f"{header}.{forged}.{signature}"


async def test_refused_tokens_get_401() -> None:
    async with client(**{**oidc_settings(), "oidc_audience": "another-service"}) as http:
        refused = await http.get(f"/schools/{SCHOOL_A}/notes", headers=bearer(staff_token(SCHOOL_A)))
        assert refused.status_code == 401 and refused.json()["error"]["code"] == "auth.invalid_token"
    async with client(**{**oidc_settings(), "oidc_issuer": issuer() + "-other"}) as http:
        # the discovery of another realm path does not exist: no keys, refused
        assert (
            await http.get(f"/schools/{SCHOOL_A}/notes", headers=bearer(staff_token(SCHOOL_A)))
        ).status_code == 401
    async with client(**oidc_settings()) as http:
        forged = _tampered(staff_token(SCHOOL_A), uai=[SCHOOL_B])
        assert (await http.get(f"/schools/{SCHOOL_B}/notes", headers=bearer(forged))).status_code == 401
