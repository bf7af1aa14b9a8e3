"""The main job signs in as each school's people do: through the académie's OpenID Connect provider.

The driver acts for one school at a time per task (``acting_for``); every request it sends for that
school carries an access token of the school's Pix referent (the person who may do every step of
the school's Phase 3, finalisation included), and the académie view's requests the operator's. A
script has no browser, so tokens come from the password grant of the local realm's portal client
(deploy/local/localinfra/realm.py: local users and passwords only), and are renewed with their
refresh token before they expire (Keycloak's 5-minute access tokens, as a real provider issues
them), one sign-in per person however many requests wait for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass

from deploy.local.http_client import ServiceClient
from deploy.local.localinfra.realm import OPERATOR_USER, PORTAL_CLIENT, REALM, referent_user, user_password

#: the school the current task acts for (None: the académie's operator)
_ACTING_FOR: ContextVar[str | None] = ContextVar("acting_for", default=None)
#: renew a token this long before it expires (a request, with its retries, outlives a few seconds)
RENEW_BEFORE_SECONDS = 120


@contextlib.contextmanager
def acting_for(uai: str) -> Iterator[None]:
    """Requests sent from this task (and the tasks it starts) are the school's."""
    token = _ACTING_FOR.set(uai)
    try:
        yield
    finally:
        _ACTING_FOR.reset(token)


def issuer_url(keycloak_url: str) -> str:
    return f"{keycloak_url.rstrip('/')}/realms/{REALM}"


@dataclass
class _Token:
    access: str
    refresh: str | None
    expires_at: float
    refresh_expires_at: float


class SignIn:
    """Access tokens per person from the provider at ``issuer``; open it with ``async with``."""

    def __init__(self, issuer: str) -> None:
        self.issuer = issuer.rstrip("/")
        self.sign_ins = 0  # password grants sent (for the run's summary)
        self.renewals = 0  # refresh grants sent
        self._tokens: dict[str, _Token] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._http: ServiceClient | None = None

    async def __aenter__(self) -> SignIn:
        self._http = ServiceClient(self.issuer, connections=16, timeout=60)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._http is not None:
            await self._http.aclose()

    def person(self) -> str:
        """Who the current task signs in as."""
        uai = _ACTING_FOR.get()
        return OPERATOR_USER if uai is None else referent_user(uai)

    async def authorization(self) -> dict[str, str]:
        """The ``Authorization`` header of the current task's person, signing in when needed."""
        return {"Authorization": f"Bearer {await self.token(self.person())}"}

    async def token(self, username: str) -> str:
        held = self._tokens.get(username)
        if held is not None and held.expires_at - time.monotonic() > RENEW_BEFORE_SECONDS:
            return held.access
        async with self._locks.setdefault(username, asyncio.Lock()):
            held = self._tokens.get(username)  # another task may have renewed it meanwhile
            now = time.monotonic()
            if held is None or held.expires_at - now <= RENEW_BEFORE_SECONDS:
                if held is not None and held.refresh and held.refresh_expires_at - now > RENEW_BEFORE_SECONDS:
                    form = {
                        "grant_type": "refresh_token",
                        "client_id": PORTAL_CLIENT,
                        "refresh_token": held.refresh,
                    }
                    self.renewals += 1
                else:
                    form = {
                        "grant_type": "password",
                        "client_id": PORTAL_CLIENT,
                        "username": username,
                        "password": user_password(username),
                        "scope": "openid",
                    }
                    self.sign_ins += 1
                self._tokens[username] = held = await self._grant(username, form)
            return held.access

    async def _grant(self, username: str, form: dict[str, str]) -> _Token:
        assert self._http is not None, "open SignIn with async with"
        asked = time.monotonic()
        reply = await self._http.post("/protocol/openid-connect/token", data=form)
        if reply.status_code != 200:
            raise RuntimeError(
                f"sign-in of {username} at {self.issuer} refused ({reply.status_code}): {reply.text[:500]}"
            )
        body = reply.json()
        return _Token(
            access=body["access_token"],
            refresh=body.get("refresh_token"),
            expires_at=asked + float(body.get("expires_in", 300)),
            refresh_expires_at=asked + float(body.get("refresh_expires_in", 0) or 0),
        )
