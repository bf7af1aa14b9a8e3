"""Bearer-token verification (shared.auth) with keys made here: each refusal, the key refresh, claims → Principal."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, OctKey, RSAKey

from shared.auth import GATEWAY, GATEWAY_ROLE, InvalidToken, Principal, TokenVerifier, gateway_principal
from shared.settings import ServiceSettings

ISSUER = "https://sso.academie.example/realms/certibus"
AUDIENCE = "certibus"


class Provider:
    """An issuer's published documents, served from memory; counts the fetches."""

    def __init__(self, *keys: Any) -> None:
        self.keys = list(keys)
        self.fetches: list[str] = []

    async def fetch(self, url: str) -> dict[str, Any]:
        self.fetches.append(url)
        if url == f"{ISSUER}/.well-known/openid-configuration":
            return {"issuer": ISSUER, "jwks_uri": f"{ISSUER}/protocol/openid-connect/certs"}
        assert url == f"{ISSUER}/protocol/openid-connect/certs"
        return KeySet(self.keys).as_dict(private=False)


def rsa(kid: str) -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": kid, "use": "sig"})


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {
        "iss": ISSUER,
        "aud": [AUDIENCE, "account"],
        "sub": "f3b1c0de",
        "azp": "certibus-portal",
        "exp": now + 300,
        "iat": now,
        "nbf": now - 5,
        "realm_access": {"roles": ["staff", "offline_access"]},
        "uai": ["0750001u", "0750002V"],
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def sign(key: Any, alg: str = "RS256", **overrides: Any) -> str:
    return jwt.encode({"alg": alg, "kid": key.kid}, claims(**overrides), key)


def verifier(provider: Provider, **options: Any) -> TokenVerifier:
    return TokenVerifier(ISSUER, AUDIENCE, fetch_json=provider.fetch, **options)


async def test_a_valid_token_becomes_a_principal_with_roles_and_uais() -> None:
    key = rsa("k1")
    principal = await verifier(Provider(key)).verify(sign(key))
    assert principal == Principal(
        subject="f3b1c0de",
        roles=frozenset({"staff"}),
        uais=frozenset({"0750001U", "0750002V"}),
        client="certibus-portal",
    )
    assert principal.may_act_for("0750001u", {"staff", "referent", "operator"})
    assert not principal.may_act_for("0210001M", {"staff", "referent", "operator"})
    assert not principal.may_act_for(None, {"staff", "referent", "operator"})


async def test_es256_is_accepted() -> None:
    key = ECKey.generate_key("P-256", parameters={"kid": "ec1", "use": "sig"})
    principal = await verifier(Provider(key)).verify(sign(key, "ES256"))
    assert principal.subject == "f3b1c0de"


async def test_the_uai_and_roles_claims_are_configurable() -> None:
    key = rsa("k1")
    token = sign(key, uai=None, establishments="0210001m", groups=["referent"])
    principal = await verifier(Provider(key), uai_claim="establishments", roles_claim="groups").verify(token)
    assert principal.roles == {"referent"} and principal.uais == {"0210001M"}


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"exp": -120}, id="expired beyond the skew"),
        pytest.param({"nbf": 120}, id="not yet valid beyond the skew"),
        pytest.param({"iss": "https://other.example/realms/certibus"}, id="another issuer"),
        pytest.param({"aud": "another-service"}, id="another audience"),
        pytest.param({"aud": None}, id="no audience"),
        pytest.param({"exp": None}, id="no expiry"),
    ],
)
async def test_claims_outside_the_rules_are_refused(overrides: dict[str, Any]) -> None:
    """``exp`` / ``nbf`` are given as seconds from now, taken when the test runs (not at collection)."""
    now = int(time.time())
    claims = {
        name: now + value if name in ("exp", "nbf") and value is not None else value
        for name, value in overrides.items()
    }
    key = rsa("k1")
    with pytest.raises(InvalidToken):
        await verifier(Provider(key), clock_skew_seconds=60).verify(sign(key, **claims))


async def test_the_clock_skew_is_bounded_by_the_setting() -> None:
    key = rsa("k1")
    token = sign(key, exp=int(time.time()) - 30)
    assert (await verifier(Provider(key), clock_skew_seconds=60).verify(token)).subject
    with pytest.raises(InvalidToken):
        await verifier(Provider(key), clock_skew_seconds=10).verify(token)


async def test_a_token_signed_by_another_key_with_a_published_kid_is_refused() -> None:
    published, attacker = rsa("k1"), rsa("k1")
    with pytest.raises(InvalidToken):
        await verifier(Provider(published)).verify(sign(attacker))


def _unsigned(header: dict[str, Any]) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    return f"{part(header)}.{part(claims())}."


async def test_alg_none_is_refused() -> None:
    key = rsa("k1")
    with pytest.raises(InvalidToken, match="algorithm"):
        await verifier(Provider(key)).verify(_unsigned({"alg": "none", "kid": "k1"}))


async def test_hs256_is_refused_even_keyed_with_the_public_key() -> None:
    """The classic confusion: an HMAC whose secret is the published key (joserfc refuses to make one)."""
    key = rsa("k1")
    signing_input = _unsigned({"alg": "HS256", "kid": "k1"}).rstrip(".")
    mac = hmac.new(key.as_pem(private=False), signing_input.encode(), hashlib.sha256).digest()
    token = signing_input + "." + base64.urlsafe_b64encode(mac).decode().rstrip("=")
    with pytest.raises(InvalidToken, match="algorithm"):
        await verifier(Provider(key)).verify(token)
    # a known-good HS256 token made with a shared secret is refused the same way
    shared = jwt.encode({"alg": "HS256", "kid": "k1"}, claims(), OctKey.generate_key(256))
    with pytest.raises(InvalidToken, match="algorithm"):
        await verifier(Provider(key)).verify(shared)


async def test_an_unknown_kid_refreshes_the_keys_once_then_is_accepted() -> None:
    old, new = rsa("old"), rsa("new")
    provider = Provider(old)
    checker = verifier(provider, refresh_min_seconds=0)
    await checker.verify(sign(old))
    await checker.verify(sign(old))
    assert checker.refreshes == 1  # cached
    provider.keys = [old, new]  # the provider rotates its keys
    assert (await checker.verify(sign(new))).subject == "f3b1c0de"
    assert checker.refreshes == 2


async def test_unknown_kids_cannot_make_certibus_hammer_the_provider() -> None:
    key = rsa("k1")
    provider = Provider(key)
    checker = verifier(provider, refresh_min_seconds=3600)
    await checker.verify(sign(key))
    for n in range(5):
        with pytest.raises(InvalidToken, match="does not publish"):
            await checker.verify(sign(rsa(f"junk{n}")))
    assert checker.refreshes == 1 and len(provider.fetches) == 2


async def test_garbage_is_refused() -> None:
    with pytest.raises(InvalidToken):
        await verifier(Provider(rsa("k1"))).verify("not-a-jwt")


def test_the_gateway_token_is_the_gateway_and_other_tokens_are_not() -> None:
    settings = ServiceSettings(api_token="academie-gateway-token-0123456789")
    assert gateway_principal("academie-gateway-token-0123456789", settings.api_tokens()) == GATEWAY
    assert GATEWAY.roles == {GATEWAY_ROLE}
    assert GATEWAY.may_act_for("0210001M", {"referent", GATEWAY_ROLE})
    assert not GATEWAY.may_act_for("0210001M", {"staff", "referent", "operator"})
    assert gateway_principal("academie-gateway-token-012345678X", settings.api_tokens()) is None


async def test_a_token_cannot_claim_the_gateway_role() -> None:
    key = rsa("k1")
    token = sign(key, realm_access={"roles": ["gateway", "staff"]}, uai=["0750001U"])
    principal = await verifier(Provider(key)).verify(token)
    assert principal.roles == {"staff"}


def test_pix_acts_only_where_a_route_allows_it() -> None:
    pix = Principal(subject="svc", roles=frozenset({"pix"}), uais=frozenset())
    assert not pix.may_act_for("0750001U", {"staff", "referent", "operator"})
    assert pix.may_act_for("0750001U", {"staff", "referent", "operator", "pix"})
