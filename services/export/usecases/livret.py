"""The livret scolaire API (Pix-compatible, pix-domain.md §7.2): OAuth clients, tokens, the livret.

The Ministry's LSU/LSL client exchanges its credentials for a 4-hour token
(``issue_client_token``), then reads each school it may read (``client_livret``): the body is byte
for byte the school's livret file. Refusals are ``domain.auth.AuthError`` with Pix's status and
message (the API renders Pix's JSON:API ``errors`` beside our error body); a service without a
signing key refuses with ``auth.not_configured``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Protocol

from pydantic import SecretStr

from services.export.domain.auth import (
    ClientCredentials,
    VerifiedSecrets,
    authenticate_client,
    authorize_uai,
    hash_secret,
    issue_token,
    token_response,
    verify_token,
)
from services.export.domain.uai import normalise_uai
from services.export.store import ExportStore
from services.export.usecases.exports import livret_file
from shared.errors import DomainError


class ClientConfig(Protocol):
    """One configured client (``EXPORT_API_CLIENTS``): a stored hash or a clear secret."""

    client_id: str
    secret_hash: str | None
    secret: SecretStr | None
    scopes: list[str]
    uais: list[str]


def load_clients(configs: Iterable[ClientConfig]) -> dict[str, ClientCredentials]:
    """The clients by id; clear secrets are hashed (CPU work: call it once, off the event loop)."""
    return {
        c.client_id: ClientCredentials(
            client_id=c.client_id,
            secret_hash=c.secret_hash or hash_secret(c.secret.get_secret_value()),  # type: ignore[union-attr]
            scopes=frozenset(c.scopes),
            uais=frozenset(normalise_uai(u) for u in c.uais),
        )
        for c in configs
    }


def signing_key(secret: SecretStr | None) -> bytes:
    """The HS256 key of the tokens; ``auth.not_configured`` when the service has none."""
    if secret is None:
        raise DomainError("auth.not_configured", "the livret API has no token secret (EXPORT_TOKEN_SECRET)")
    return secret.get_secret_value().encode("utf-8")


async def issue_client_token(
    clients: Mapping[str, ClientCredentials],
    *,
    client_id: str,
    client_secret: str,
    scope: str,
    key: bytes,
    now: datetime,
    verified: VerifiedSecrets | None = None,
) -> dict[str, str]:
    """``{token_type, access_token, client_id}`` for a client whose credentials and scope are
    right; AuthError 401 / 403 otherwise (the secret check runs in a thread: it is a PBKDF2 hash,
    unless ``verified`` already proved this secret right for the client's current hash)."""
    client = await asyncio.to_thread(authenticate_client, clients, client_id, client_secret, scope, verified)
    return token_response(client, issue_token(client, scope, key=key, now=now))


async def client_livret(
    store: ExportStore,
    output_dir: Path,
    clients: Mapping[str, ClientCredentials],
    *,
    token: str,
    uai: str,
    key: bytes,
    now: datetime,
) -> bytes:
    """The school's livret for the holder of ``token``, if its client may read this UAI now."""
    claims = verify_token(token, key=key, now=now)
    authorize_uai(claims, uai, clients)
    _, content = await livret_file(store, output_dir, normalise_uai(uai))
    return content
