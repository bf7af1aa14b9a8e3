"""The local Keycloak realm, generated from a list of schools: who signs in, with which roles and UAIs.

An académie's provider publishes each staff member's establishments in an attribute of its own
choosing; the local realm puts them in a multi-valued claim (``uai`` by default, see OIDC_UAI_CLAIM)
so certibus is tested against the same shape. Realm roles (``staff``, ``referent``, ``operator``,
``pix``) travel in ``realm_access.roles``. Every password here is a local development value.
"""

from __future__ import annotations

import json
import sys
from typing import Any

REALM = "certibus"
AUDIENCE = "certibus"
PORTAL_CLIENT = "certibus-portal"
#: the school staff's console (services/console): authorisation code flow with PKCE, no password grant
CONSOLE_CLIENT = "certibus-console"
PIX_CLIENT = "pix"
PIX_CLIENT_SECRET = "pix-local-secret"
OPERATOR_USER = "operator"
ROLES = ("staff", "referent", "operator", "pix")


def user_password(username: str) -> str:
    """The local password of a generated user (local runs only: the realm is never deployed)."""
    return f"{username}-local"


def staff_user(uai: str) -> str:
    return f"staff-{uai.lower()}"


def referent_user(uai: str) -> str:
    return f"referent-{uai.lower()}"


def _user(username: str, roles: list[str], uais: list[str]) -> dict[str, Any]:
    return {
        "username": username,
        "enabled": True,
        "emailVerified": True,
        # the profile Keycloak requires before a password grant; no real person behind it
        "email": f"{username}@certibus.invalid",
        "firstName": username,
        "lastName": "certibus",
        "attributes": {"uai": uais} if uais else {},
        "credentials": [{"type": "password", "value": user_password(username), "temporary": False}],
        "realmRoles": roles,
    }


def _mappers(uai_claim: str) -> list[dict[str, Any]]:
    return [
        {
            "name": "certibus audience",
            "protocol": "openid-connect",
            "protocolMapper": "oidc-audience-mapper",
            "config": {
                "included.custom.audience": AUDIENCE,
                "access.token.claim": "true",
                "id.token.claim": "false",
            },
        },
        {
            "name": "establishments",
            "protocol": "openid-connect",
            "protocolMapper": "oidc-usermodel-attribute-mapper",
            "config": {
                "user.attribute": "uai",
                "claim.name": uai_claim,
                "multivalued": "true",
                "jsonType.label": "String",
                "access.token.claim": "true",
                "id.token.claim": "true",
                "userinfo.token.claim": "true",
            },
        },
    ]


def console_client(uai_claim: str = "uai") -> dict[str, Any]:
    """The console's client: public (PKCE S256 required), redirect URI on the loopback address. A
    loopback redirect URI registered without a port accepts any port (RFC 8252 §7.3, Keycloak does),
    so the console of a local run (8006) and of a test (a free port) both sign in."""
    return {
        "clientId": CONSOLE_CLIENT,
        "name": "certibus console (school staff)",
        "enabled": True,
        "publicClient": True,
        "standardFlowEnabled": True,
        "directAccessGrantsEnabled": False,
        "redirectUris": ["http://127.0.0.1/auth/callback"],
        "webOrigins": ["+"],
        "attributes": {
            "pkce.code.challenge.method": "S256",
            "post.logout.redirect.uris": "http://127.0.0.1/*",
        },
        "protocolMappers": _mappers(uai_claim),
    }


def realm_user(username: str, roles: list[str], uais: list[str]) -> dict[str, Any]:
    """A user as the realm holds it (local password: user_password)."""
    return _user(username, roles, uais)


def realm_representation(uais: list[str], uai_claim: str = "uai") -> dict[str, Any]:
    """The realm to import: a portal client (password grant), the console, the Pix client, users per school."""
    users = [_user(OPERATOR_USER, ["operator"], [])]
    for uai in uais:
        users.append(_user(staff_user(uai), ["staff"], [uai]))
        users.append(_user(referent_user(uai), ["referent"], [uai]))
    users.append(
        {
            "username": f"service-account-{PIX_CLIENT}",
            "enabled": True,
            "serviceAccountClientId": PIX_CLIENT,
            "realmRoles": ["pix"],
        }
    )
    return {
        "realm": REALM,
        "enabled": True,
        "sslRequired": "none",
        "accessTokenLifespan": 300,
        # local users only: one cheap hash, so that importing an académie's thousand users and their
        # sign-ins cost milliseconds, not a second of CPU each (a real provider keeps its own policy)
        "passwordPolicy": "hashAlgorithm(pbkdf2-sha256) and hashIterations(1)",
        "roles": {"realm": [{"name": role} for role in ROLES]},
        "clients": [
            {
                "clientId": PORTAL_CLIENT,
                "name": "académie portal (and the tests)",
                "enabled": True,
                "publicClient": True,
                "standardFlowEnabled": True,
                # the password grant is for local scripts and tests only
                "directAccessGrantsEnabled": True,
                "redirectUris": ["http://127.0.0.1/*", "http://localhost/*"],
                "protocolMappers": _mappers(uai_claim),
            },
            console_client(uai_claim),
            {
                "clientId": PIX_CLIENT,
                "name": "Pix (results intake)",
                "enabled": True,
                "publicClient": False,
                "clientAuthenticatorType": "client-secret",
                "secret": PIX_CLIENT_SECRET,
                "serviceAccountsEnabled": True,
                "standardFlowEnabled": False,
                "directAccessGrantsEnabled": False,
                "protocolMappers": _mappers(uai_claim),
            },
        ],
        "users": users,
    }


def realm_json(uais: list[str], uai_claim: str = "uai") -> str:
    """The realm as Keycloak's --import-realm reads it (the text deploy/local writes, byte for byte)."""
    return json.dumps(realm_representation(uais, uai_claim), indent=2)


if __name__ == "__main__":
    # python3 -m deploy.local.localinfra.realm UAI… > deploy/local/keycloak/certibus-realm.json
    # (docker-compose imports that file: the realm of deploy/local's default schools)
    print(realm_json(sys.argv[1:]))
