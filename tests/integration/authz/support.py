"""Who calls in the authorisation tests: real Keycloak tokens, and tokens this test signs itself.

The real provider's tokens (tests/keycloak.py) are taken fresh for each test (they live 5 minutes:
a cached one would expire in a long run). The cases a provider will not hand out on demand (an
expired token, one for another audience, one signed by a key nobody publishes) are signed here
with a key the service is made to trust *beside* the provider's own: the service's verifier
fetches the provider's real discovery and JWKS, and the JWKS gets this key added.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from joserfc import jwt
from joserfc.jwk import RSAKey

from deploy.local.localinfra.realm import AUDIENCE, OPERATOR_USER, referent_user, staff_user
from shared.auth import TokenVerifier, fetch_json_over_http
from tests.keycloak import SCHOOL_A, SCHOOL_B, issuer, password_token, pix_token

#: the key the service trusts beside the provider's (added to the JWKS it fetches)
TRUSTED = RSAKey.generate_key(2048, parameters={"kid": "authz-test-trusted", "use": "sig"})
#: a key no JWKS publishes
UNPUBLISHED = RSAKey.generate_key(2048, parameters={"kid": "authz-test-unpublished", "use": "sig"})


async def _provider_documents_and_the_trusted_key(url: str) -> dict[str, Any]:
    document = await fetch_json_over_http(url)
    if "keys" in document:
        document = {"keys": [*document["keys"], TRUSTED.as_dict(private=False)]}
    return document


def trust_the_test_key(app: Any) -> None:
    """Make a service built by create_app (OIDC_ISSUER = the local Keycloak) accept TRUSTED too."""
    assert app.state.token_verifier is not None, "start the service with tests.keycloak.oidc_settings()"
    app.state.token_verifier = TokenVerifier(
        issuer(), AUDIENCE, fetch_json=_provider_documents_and_the_trusted_key
    )


def signed(key: RSAKey = TRUSTED, **overrides: Any) -> str:
    """A token like the provider's (staff of school A) signed with ``key``; claims overridable."""
    now = int(time.time())
    claims = {
        "iss": issuer(),
        "aud": AUDIENCE,
        "sub": "authz-test-subject",
        "azp": "certibus-portal",
        "iat": now,
        "exp": now + 300,
        "realm_access": {"roles": ["staff"]},
        "uai": [SCHOOL_A],
    }
    claims.update(overrides)
    return jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key)


def bad_tokens() -> dict[str, str]:
    """Tokens every school route answers 401: each differs from a good one by one thing."""
    now = int(time.time())
    return {
        "expired": signed(iat=now - 7200, exp=now - 3600),
        "another audience": signed(aud="another-service"),
        "another key": signed(UNPUBLISHED),
        "another issuer": signed(iss=issuer() + "-elsewhere"),
    }


@dataclass(frozen=True)
class Callers:
    """Fresh provider tokens: school A's staff and referent, school B's, the operator, Pix."""

    staff_a: str
    referent_a: str
    staff_b: str
    referent_b: str
    operator: str
    pix: str

    @classmethod
    def sign_in(cls) -> Callers:
        return cls(
            staff_a=password_token(staff_user(SCHOOL_A)),
            referent_a=password_token(referent_user(SCHOOL_A)),
            staff_b=password_token(staff_user(SCHOOL_B)),
            referent_b=password_token(referent_user(SCHOOL_B)),
            operator=password_token(OPERATOR_USER),
            pix=pix_token_fresh(),
        )

    def of_school_a(self) -> dict[str, str]:
        """The token of each role, for school A where the role is a school's."""
        return {
            "staff": self.staff_a,
            "referent": self.referent_a,
            "operator": self.operator,
            "pix": self.pix,
        }


def pix_token_fresh() -> str:
    pix_token.cache_clear()
    return pix_token()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def error_code(response: Any) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    return error.get("code") if isinstance(error, dict) else None
