"""How a school route finds the school it acts for (shared.http): path UAI, a resource's lookup, ``?uai=``.

A bare FastAPI app with two school routers and in-memory lookups, tokens signed by a key made here
(tests/unit/platform/test_auth.py's provider): no database is involved in the decision itself.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Request

from shared.auth import TokenVerifier
from shared.http import ROLES_EXTENSION, install_error_handlers, query_uai, school_api_router
from tests.unit.platform.test_auth import AUDIENCE, ISSUER, Provider, rsa, sign

KEY = rsa("k-authorise")
SESSIONS = {"s-a": "0750001U", "s-b": "0750002V"}


async def session_school(_request: Request, session_id: str) -> str | None:
    return SESSIONS.get(session_id)


lookups = {"session_id": session_school, "?uai": query_uai}
referents = school_api_router(roles=frozenset({"referent"}), also_allowed=frozenset({"pix"}), uai_of=lookups)


@referents.post("/sessions/{session_id}/results")
async def session_results(session_id: str) -> dict[str, str]:
    return {"session_id": session_id}


@referents.post("/results")
async def results() -> dict[str, str]:
    return {"ok": "yes"}


def app() -> FastAPI:
    application = FastAPI()
    install_error_handlers(application)
    application.state.api_tokens = ()
    application.state.token_verifier = TokenVerifier(ISSUER, AUDIENCE, fetch_json=Provider(KEY).fetch)
    router = APIRouter()
    router.include_router(referents)
    application.include_router(router)
    return application


def token(roles: list[str], uais: list[str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {sign(KEY, realm_access={'roles': roles}, uai=uais)}"}


async def status(method: str, url: str, headers: dict[str, str]) -> tuple[int, Any]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app()), base_url="http://t") as http:
        answer = await http.request(method, url, headers=headers)
        return answer.status_code, answer.json().get("error", {}).get("code")


@pytest.mark.parametrize(
    ("url", "roles", "uais", "served"),
    [
        ("/sessions/s-a/results", ["referent"], ["0750001U"], True),
        ("/sessions/s-b/results", ["referent"], ["0750001U"], False),  # another school's session
        ("/sessions/nope/results", ["referent"], ["0750001U"], False),  # unknown: the same 404
        ("/sessions/s-a/results", ["staff"], ["0750001U"], False),  # a role the route does not serve
        ("/sessions/s-b/results?uai=0750001U", ["referent"], ["0750001U"], False),  # the path decides
        ("/sessions/s-b/results", ["pix"], [], True),  # pix: every school
        ("/results?uai=0750001u", ["referent"], ["0750001U"], True),
        ("/results?uai=0750002V", ["referent"], ["0750001U"], False),
        ("/results", ["referent"], ["0750001U"], False),  # no school named: only every-school roles
        ("/results?session_id=s-a", ["referent"], ["0750001U"], False),  # a path lookup is not a query's
        ("/results", ["pix"], [], True),
    ],
)
async def test_the_school_comes_from_the_path_or_the_declared_query(url, roles, uais, served) -> None:
    code = await status("POST", url, token(roles, uais))
    assert (code == (200, None)) if served else (code == (404, "auth.not_found")), (url, roles, code)


def test_the_roles_are_in_the_openapi_and_must_be_known() -> None:
    operation = app().openapi()["paths"]["/results"]["post"]
    assert operation[ROLES_EXTENSION] == ["pix", "referent"]
    with pytest.raises(ValueError, match="unknown roles"):
        school_api_router(roles=frozenset({"teacher"}))
