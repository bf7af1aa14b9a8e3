"""Tokens from the local Keycloak (deploy/local/infra.py up keycloak): the realm localinfra generates.

The tests sign in as a person would (password grant on the portal client) or as Pix does (client
credentials); `deploy/local/run-tests` starts the provider when OIDC tests run.
"""

from __future__ import annotations

import base64
import functools
import json
import os
import time
from collections.abc import Callable

import httpx

from deploy.local.localinfra.realm import (
    AUDIENCE,
    OPERATOR_USER,
    PIX_CLIENT,
    PIX_CLIENT_SECRET,
    PORTAL_CLIENT,
    REALM,
    referent_user,
    staff_user,
    user_password,
)

#: the schools the local realm is generated for (CERTIBUS_KEYCLOAK_SCHOOLS' default)
SCHOOL_A, SCHOOL_B = "0750001U", "0750002V"


def issuer() -> str:
    return f"http://127.0.0.1:{os.environ.get('CERTIBUS_KEYCLOAK_PORT', '18080')}/realms/{REALM}"


def oidc_settings() -> dict[str, str]:
    """The settings that point a service at the local provider."""
    return {"oidc_issuer": issuer(), "oidc_audience": AUDIENCE}


def _token(form: dict[str, str]) -> str:
    url = f"{issuer()}/protocol/openid-connect/token"
    try:
        reply = httpx.post(url, data=form, timeout=10)
    except httpx.HTTPError as exc:
        raise AssertionError(
            f"the local Keycloak does not answer at {url}: run `python3 deploy/local/infra.py up keycloak`"
        ) from exc
    assert reply.status_code == 200, reply.text
    return reply.json()["access_token"]


def password_token(username: str) -> str:
    """An access token of a realm user, by the password grant (local realm only)."""
    return _token(
        {
            "grant_type": "password",
            "client_id": PORTAL_CLIENT,
            "username": username,
            "password": user_password(username),
        }
    )


def _fresh(fetch: Callable[..., str]) -> Callable[..., str]:
    """One token per argument, fetched again once it has less than a minute left: the suite runs
    for longer than the realm's 5-minute tokens live, so a token cached for the whole session would
    be refused as expired by whichever test asks for it last."""
    held: dict[tuple, str] = {}

    @functools.wraps(fetch)
    def token(*args: str) -> str:
        current = held.get(args)
        if current is None or _expires_at(current) - time.time() < 60:
            held[args] = current = fetch(*args)
        return current

    token.cache_clear = held.clear  # type: ignore[attr-defined]
    return token


def _expires_at(token: str) -> float:
    payload = token.split(".")[1]
    return float(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["exp"])


@_fresh
def staff_token(uai: str) -> str:
    return password_token(staff_user(uai))


@_fresh
def referent_token(uai: str) -> str:
    return password_token(referent_user(uai))


@_fresh
def operator_token() -> str:
    return password_token(OPERATOR_USER)


@_fresh
def pix_token() -> str:
    """The Pix side's token, by the client-credentials grant."""
    return _token(
        {"grant_type": "client_credentials", "client_id": PIX_CLIENT, "client_secret": PIX_CLIENT_SECRET}
    )
