"""Who is calling: OpenID Connect bearer tokens (and the gateway's API token) turned into a Principal.

The académie's provider signs access tokens; certibus checks them itself against the keys the
provider publishes (``OIDC_ISSUER`` → discovery → JWKS), with joserfc doing the cryptography. Keys
are cached and fetched again when a token names a key id not yet seen (at most once every
``OIDC_JWKS_REFRESH_MIN_SECONDS``, so junk tokens cannot make certibus hammer the provider). Only
RS256 and ES256 are accepted (never ``none`` or an HMAC that a public key would "verify"); ``iss``,
``aud``, ``exp`` are required and ``nbf`` checked, within ``OIDC_CLOCK_SKEW_SECONDS``.

The claims become a ``Principal``: its roles (``staff``, ``referent``, ``operator``, ``pix``) from
``OIDC_ROLES_CLAIM`` (a dotted path, Keycloak's ``realm_access.roles`` by default) and its schools
from ``OIDC_UAI_CLAIM``, since académies name that attribute as they like. ``API_TOKEN`` remains for
a trusted gateway that authenticated and authorised the person itself: whoever presents it passes
every school route (role ``gateway``, never granted by a token).
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import json
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from pydantic import SecretStr

from shared.settings import OidcSettings

ALGORITHMS = ("RS256", "ES256")
ROLES = frozenset({"staff", "referent", "operator", "pix"})
#: roles that act for the schools their token lists; the others act for every school
SCHOOL_ROLES = frozenset({"staff", "referent"})

FetchJson = Callable[[str], Awaitable[dict[str, Any]]]


class InvalidToken(Exception):
    """The bearer token is not one certibus accepts (the message says why, without the token)."""


@dataclass(frozen=True)
class Principal:
    """A signed-in caller: who (subject, client), with which roles, for which schools."""

    subject: str
    roles: frozenset[str]
    uais: frozenset[str]
    client: str | None = None
    via: str = "oidc"  # or "gateway" (API_TOKEN)

    def may_act_for(self, uai: str | None, allowed_roles: Iterable[str]) -> bool:
        """True when one of the principal's roles the route allows covers the school ``uai``.

        ``uai`` None: the route names no school (or the resource is unknown): only roles that
        act for every school pass.
        """
        for role in self.roles & frozenset(allowed_roles):
            if role not in SCHOOL_ROLES:
                return True
            if uai is not None and uai.upper() in self.uais:
                return True
        return False


#: the trusted gateway's own role: it authorised the person itself, every school route lets it through
#: (never read from a token: ``ROLES`` filters the claims)
GATEWAY_ROLE = "gateway"
GATEWAY = Principal(subject="gateway", roles=frozenset({GATEWAY_ROLE}), uais=frozenset(), via="gateway")


def gateway_principal(given: str, accepted: Iterable[SecretStr]) -> Principal | None:
    """The gateway principal when ``given`` is one of the gateway tokens (each compared in constant time)."""
    matches = [hmac.compare_digest(given.encode(), t.get_secret_value().encode()) for t in accepted]
    return GATEWAY if any(matches) else None


def _claim_at(claims: dict[str, Any], path: str) -> Any:
    value: Any = claims
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _strings(value: Any) -> frozenset[str]:
    if isinstance(value, str):
        return frozenset({value})
    if isinstance(value, list):
        return frozenset(v for v in value if isinstance(v, str))
    return frozenset()


def _unverified_header(token: str) -> dict[str, Any]:
    """The JOSE header, read only to pick the key (the signature is checked by joserfc after)."""
    try:
        segment = token.split(".")[0]
        header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, IndexError) as exc:
        raise InvalidToken("not a JWS compact token") from exc
    if not isinstance(header, dict):
        raise InvalidToken("not a JWS compact token")
    return header


async def fetch_json_over_http(url: str) -> dict[str, Any]:
    """GET a JSON document from the provider (discovery, JWKS)."""
    async with httpx.AsyncClient(timeout=5) as client:
        reply = await client.get(url)
        reply.raise_for_status()
        return reply.json()


class TokenVerifier:
    """Checks access tokens of one issuer for one audience; keys cached, refreshed on an unknown kid."""

    def __init__(
        self,
        issuer: str,
        audience: str,
        *,
        uai_claim: str = "uai",
        roles_claim: str = "realm_access.roles",
        clock_skew_seconds: int = 60,
        refresh_min_seconds: float = 30.0,
        fetch_json: FetchJson = fetch_json_over_http,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.issuer, self.audience = issuer.rstrip("/"), audience
        self.uai_claim, self.roles_claim = uai_claim, roles_claim
        self.clock_skew_seconds, self.refresh_min_seconds = clock_skew_seconds, refresh_min_seconds
        self._fetch_json, self._now = fetch_json, now
        self._keys: KeySet | None = None
        self._kids: frozenset[str] = frozenset()
        self._fetched_at: float | None = None
        self._lock = asyncio.Lock()
        #: key fetches so far (discovery + JWKS each time): the rate limit is observable
        self.refreshes = 0

    async def _refresh(self) -> None:
        discovery = await self._fetch_json(f"{self.issuer}/.well-known/openid-configuration")
        if str(discovery.get("issuer", "")).rstrip("/") != self.issuer:
            raise InvalidToken("the provider's discovery document names another issuer")
        keys = await self._fetch_json(str(discovery["jwks_uri"]))
        usable = [
            k for k in keys.get("keys", []) if k.get("use", "sig") == "sig" and k.get("kty") in ("RSA", "EC")
        ]
        self._keys = KeySet.import_key_set({"keys": usable})
        self._kids = frozenset(str(k["kid"]) for k in usable if "kid" in k)
        self._fetched_at = time.monotonic()
        self.refreshes += 1

    async def _key_set_for(self, kid: str | None) -> KeySet:
        async with self._lock:
            known = self._keys is not None and (kid is None or kid in self._kids)
            may_refresh = (
                self._fetched_at is None or time.monotonic() - self._fetched_at >= self.refresh_min_seconds
            )
            if not known and may_refresh:
                try:
                    await self._refresh()
                except (httpx.HTTPError, KeyError, ValueError) as exc:
                    raise InvalidToken("the provider's keys could not be fetched") from exc
            if self._keys is None or (kid is not None and kid not in self._kids):
                raise InvalidToken("signed with a key the provider does not publish")
            return self._keys

    async def verify(self, token: str) -> Principal:
        """The principal of a valid token; ``InvalidToken`` for anything else."""
        header = _unverified_header(token)
        if header.get("alg") not in ALGORITHMS:
            raise InvalidToken(f"algorithm {header.get('alg')!r} is not accepted")
        kid = header.get("kid")
        keys = await self._key_set_for(str(kid) if kid is not None else None)
        try:
            decoded = jwt.decode(token, keys, algorithms=list(ALGORITHMS))
            registry = jwt.JWTClaimsRegistry(
                now=lambda: int(self._now()),
                leeway=self.clock_skew_seconds,
                iss={"essential": True, "value": self.issuer},
                aud={"essential": True, "value": self.audience},
                exp={"essential": True},
            )
            registry.validate(decoded.claims)
        except (JoseError, ValueError) as exc:
            raise InvalidToken(f"token refused: {type(exc).__name__}") from exc
        claims = decoded.claims
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise InvalidToken("token has no subject")
        return Principal(
            subject=subject,
            roles=_strings(_claim_at(claims, self.roles_claim)) & ROLES,
            uais=frozenset(u.upper() for u in _strings(_claim_at(claims, self.uai_claim))),
            client=claims.get("azp") if isinstance(claims.get("azp"), str) else None,
        )


def token_verifier(settings: OidcSettings) -> TokenVerifier | None:
    """The verifier the settings describe; None without ``OIDC_ISSUER`` (gateway token only)."""
    if not settings.oidc_issuer:
        return None
    return TokenVerifier(
        settings.oidc_issuer,
        settings.oidc_audience,
        uai_claim=settings.oidc_uai_claim,
        roles_claim=settings.oidc_roles_claim,
        clock_skew_seconds=settings.oidc_clock_skew_seconds,
        refresh_min_seconds=settings.oidc_jwks_refresh_min_seconds,
    )
