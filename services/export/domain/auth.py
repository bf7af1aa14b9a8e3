"""Who may read a school's livret: OAuth2 client credentials and signed bearer tokens.

Mirrors Pix's livret scolaire API (pix-domain.md §7.2): the Ministry's client exchanges its id and
secret for a 4-hour token with the scope ``organizations-certifications-result``; wrong credentials
give 401 "The client ID and/or secret are invalid.", a wrong scope 403 "The scope is not allowed.".
Unlike Pix, which leaves per-school filtering to the Ministry gateway, each client here carries the
UAIs it may read, and the token carries them too; a request is checked against both the token and
the client's current configuration, so removing a client or a UAI takes effect at once.

Secrets are stored as PBKDF2-HMAC-SHA256 hashes (``pbkdf2_sha256$iterations$salt$hash``).
Tokens are compact JWS (JWT, HS256): ``base64url(header).base64url(claims).base64url(signature)``,
claims ``client_id``, ``scope``, ``uais``, ``iat``, ``exp``. Every secret or signature comparison
is constant-time, and an unknown client id costs the same hashing work as a known one.

A PBKDF2 check costs ~0.3 s of CPU by design, and the LSU/LSL client asks a token for each school
it reads: ``VerifiedSecrets`` remembers, per client, a keyed digest (HMAC with a per-process random
key) of the secret last proven right against the client's *current* hash, so the same right
secret is not hashed again. A wrong secret, an unknown client, or a client whose configured hash
changed still costs the full PBKDF2 run: guessing is as slow as before, and only the right
credentials (which the answer reveals anyway) are answered fast.
Pure functions: the clock (``now``) and the signing key are parameters.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

LIVRET_SCOPE = "organizations-certifications-result"
TOKEN_LIFETIME = timedelta(hours=4)
TOKEN_TYPE = "bearer"

INVALID_CREDENTIALS = "The client ID and/or secret are invalid."
SCOPE_NOT_ALLOWED = "The scope is not allowed."
INVALID_TOKEN = "Invalid or expired access token."
UAI_NOT_ALLOWED = "The client is not allowed to read this UAI."

PBKDF2_ITERATIONS = 600_000
MIN_SIGNING_KEY_BYTES = 32
_HASH_SCHEME = "pbkdf2_sha256"
_JWT_HEADER = {"alg": "HS256", "typ": "JWT"}


class AuthError(Exception):
    """An authentication or authorisation refusal, with the HTTP status and message to answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True, slots=True)
class ClientCredentials:
    """An API client: its id, hashed secret, the scopes and the UAIs it may use."""

    client_id: str
    secret_hash: str
    scopes: frozenset[str]
    uais: frozenset[str]


@dataclass(frozen=True, slots=True)
class TokenClaims:
    client_id: str
    scope: str
    uais: frozenset[str]
    issued_at: datetime
    expires_at: datetime

    def allows(self, uai: str) -> bool:
        return uai.strip().upper() in self.uais


# -- secrets ---------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_secret(secret: str, *, salt: bytes | None = None, iterations: int = PBKDF2_ITERATIONS) -> str:
    """A storable hash of a client secret (random 16-byte salt unless given)."""
    salt = os.urandom(16) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha256", secret.encode("utf-8"), salt, iterations)
    return f"{_HASH_SCHEME}${iterations}${_b64(salt)}${_b64(digest)}"


def verify_secret(secret: str, secret_hash: str) -> bool:
    """Constant-time check of a secret against :func:`hash_secret` output; False if malformed."""
    try:
        scheme, iterations, salt, expected = secret_hash.split("$")
        if scheme != _HASH_SCHEME:
            return False
        digest = hashlib.pbkdf2_hmac("sha256", secret.encode("utf-8"), _unb64(salt), int(iterations))
        return hmac.compare_digest(digest, _unb64(expected))
    except (ValueError, binascii.Error):
        return False


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """Hashed lazily: importing the module should not cost a full PBKDF2 run."""
    return hash_secret("certibus-dummy-secret", salt=b"\x00" * 16)


class VerifiedSecrets:
    """The secrets already proven right, per client and for its current hash, as keyed digests."""

    def __init__(self) -> None:
        self._key = os.urandom(32)
        self._proven: dict[str, tuple[str, bytes]] = {}  # client id → (secret hash, digest)

    def verify(self, client: ClientCredentials, secret: str) -> bool:
        """Like :func:`verify_secret` against ``client.secret_hash``, without hashing again a
        secret this client already proved right with that very hash (constant-time compare)."""
        digest = hmac.new(self._key, secret.encode("utf-8"), hashlib.sha256).digest()
        proven = self._proven.get(client.client_id)
        if (
            proven is not None
            and hmac.compare_digest(proven[0], client.secret_hash)
            and hmac.compare_digest(proven[1], digest)
        ):
            return True
        if not verify_secret(secret, client.secret_hash):
            return False
        self._proven[client.client_id] = (client.secret_hash, digest)
        return True


def authenticate_client(
    clients: Mapping[str, ClientCredentials],
    client_id: str,
    client_secret: str,
    scope: str,
    verified: VerifiedSecrets | None = None,
) -> ClientCredentials:
    """The client if its credentials are right and it may use ``scope``; ``verified`` spares the
    PBKDF2 run of a secret already proven right for the client's current hash.

    Raises AuthError 401 for unknown id or wrong secret, 403 for a scope that is not
    ``organizations-certifications-result`` or not granted to the client.
    """
    client = clients.get(client_id)
    if client is None:
        verify_secret(client_secret, _dummy_hash())  # same work as a known client: no id oracle
        raise AuthError(401, INVALID_CREDENTIALS)
    if verified is not None:
        right = verified.verify(client, client_secret)
    else:
        right = verify_secret(client_secret, client.secret_hash)
    if not right:
        raise AuthError(401, INVALID_CREDENTIALS)
    if scope != LIVRET_SCOPE or scope not in client.scopes:
        raise AuthError(403, SCOPE_NOT_ALLOWED)
    return client


# -- tokens ----------------------------------------------------------------------------------


def _check_key(key: bytes) -> None:
    if len(key) < MIN_SIGNING_KEY_BYTES:
        raise ValueError(f"the signing key must have at least {MIN_SIGNING_KEY_BYTES} bytes")


def _sign(signing_input: bytes, key: bytes) -> bytes:
    return hmac.new(key, signing_input, hashlib.sha256).digest()


def _json_part(value: Mapping[str, Any]) -> str:
    return _b64(json.dumps(value, separators=(",", ":"), sort_keys=True).encode("utf-8"))


def issue_token(
    client: ClientCredentials,
    scope: str,
    *,
    key: bytes,
    now: datetime,
    lifetime: timedelta = TOKEN_LIFETIME,
) -> str:
    """A signed token for an authenticated client (see :func:`authenticate_client`)."""
    _check_key(key)
    issued = int(now.timestamp())
    claims = {
        "client_id": client.client_id,
        "scope": scope,
        "uais": sorted(uai.strip().upper() for uai in client.uais),
        "iat": issued,
        "exp": issued + int(lifetime.total_seconds()),
    }
    signing_input = f"{_json_part(_JWT_HEADER)}.{_json_part(claims)}"
    return f"{signing_input}.{_b64(_sign(signing_input.encode('ascii'), key))}"


def token_response(client: ClientCredentials, access_token: str) -> dict[str, str]:
    """Body of ``POST /api/application/token``, as Pix answers it."""
    return {"token_type": TOKEN_TYPE, "access_token": access_token, "client_id": client.client_id}


def verify_token(token: str, *, key: bytes, now: datetime, required_scope: str = LIVRET_SCOPE) -> TokenClaims:
    """The claims of a valid, unexpired token with ``required_scope``; AuthError 401 otherwise."""
    _check_key(key)
    try:
        header_part, claims_part, signature_part = token.split(".")
        signing_input = f"{header_part}.{claims_part}".encode("ascii")
        signature = _unb64(signature_part)
    except (ValueError, UnicodeEncodeError, binascii.Error):
        raise AuthError(401, INVALID_TOKEN) from None
    if not hmac.compare_digest(signature, _sign(signing_input, key)):
        raise AuthError(401, INVALID_TOKEN)
    try:
        header = json.loads(_unb64(header_part))
        claims = json.loads(_unb64(claims_part))
        if header != _JWT_HEADER:
            raise ValueError("unexpected header")
        client_id, scope, uais = claims["client_id"], claims["scope"], claims["uais"]
        issued, expires = int(claims["iat"]), int(claims["exp"])
        if not isinstance(client_id, str) or not isinstance(scope, str) or not isinstance(uais, list):
            raise ValueError("malformed claims")
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise AuthError(401, INVALID_TOKEN) from None
    if now.timestamp() >= expires or scope != required_scope:
        raise AuthError(401, INVALID_TOKEN)
    return TokenClaims(
        client_id=client_id,
        scope=scope,
        uais=frozenset(str(uai).upper() for uai in uais),
        issued_at=datetime.fromtimestamp(issued, UTC),
        expires_at=datetime.fromtimestamp(expires, UTC),
    )


def authorize_uai(claims: TokenClaims, uai: str, clients: Mapping[str, ClientCredentials]) -> None:
    """A client sees only its own schools, as configured *now*: the token of a client since
    removed from the configuration (or no longer granted the scope) is refused with 401, a UAI
    outside the token's or the client's current list with 403 — a token outlives no revocation."""
    client = clients.get(claims.client_id)
    if client is None or claims.scope not in client.scopes:
        raise AuthError(401, INVALID_TOKEN)
    if not claims.allows(uai) or uai.strip().upper() not in client.uais:
        raise AuthError(403, UAI_NOT_ALLOWED)
