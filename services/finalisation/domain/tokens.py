"""Invigilator session tokens: short-lived, HMAC-signed, bound to one session.

After a successful login the invigilator gets ``<payload>.<signature>`` (both base64url); the
payload names the session and the expiry, so checking a token needs no database round trip and a
token for one session opens no other. Rotating ``INVIGILATOR_TOKEN_SECRET`` logs everyone out.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from shared.errors import DomainError


class TokenError(DomainError):
    """The token is malformed, forged or expired; ``code`` (``auth.…``) is the API error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message)


@dataclass(frozen=True, slots=True)
class InvigilatorToken:
    session_id: str
    expires_at: datetime


def issue_token(secret: str, session_id: str, now: datetime, ttl: timedelta) -> tuple[str, datetime]:
    """A signed token for `session_id` valid `ttl` from `now`; returns it with its expiry."""
    expires_at = (now + ttl).astimezone(UTC).replace(microsecond=0)
    body = json.dumps({"sid": session_id, "exp": int(expires_at.timestamp())}, separators=(",", ":"))
    payload = _b64(body.encode())
    return f"{payload}.{_b64(_sign(secret, payload))}", expires_at


def read_token(secret: str, token: str, now: datetime) -> InvigilatorToken:
    """Check signature and expiry; raise TokenError otherwise."""
    try:
        payload, signature = token.split(".")
        expected = _sign(secret, payload)
        if not hmac.compare_digest(_unb64(signature), expected):
            raise TokenError("auth.invalid_token", "the invigilator token is not valid")
        claims = json.loads(_unb64(payload))
        session_id, expires = str(claims["sid"]), int(claims["exp"])
    except TokenError:
        raise
    except (ValueError, KeyError, TypeError):
        raise TokenError("auth.invalid_token", "the invigilator token is not valid") from None
    expires_at = datetime.fromtimestamp(expires, UTC)
    if now >= expires_at:
        raise TokenError("auth.token_expired", "the invigilator token expired: log in again")
    return InvigilatorToken(session_id, expires_at)


def _sign(secret: str, payload: str) -> bytes:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
