"""Sign-in with the académie's OpenID Connect provider: authorisation code flow with PKCE (authlib).

The signed-in person's tokens live in the session cookie (signed by SessionMiddleware, never stored
server-side): the console has no accounts of its own and forwards the access token to the services,
which decide what it opens. An access token close to expiry is refreshed with the refresh token;
once that fails the person signs in again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from authlib.integrations.starlette_client import OAuth, OAuthError
from starlette.requests import Request

from services.console.settings import ConsoleSettings

#: refresh an access token this long before it expires (a page makes several calls)
REFRESH_MARGIN_SECONDS = 30
SESSION_KEY = "user"

__all__ = ["OAuthError", "Provider", "SignedIn"]


@dataclass(frozen=True)
class SignedIn:
    """Who is signed in, as the session cookie holds it."""

    name: str
    uais: tuple[str, ...]
    access_token: str
    refresh_token: str | None
    expires_at: float

    def as_session(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "uais": list(self.uais),
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "expires_at": self.expires_at,
        }

    @classmethod
    def from_session(cls, data: dict[str, Any] | None) -> SignedIn | None:
        if not data or "access_token" not in data:
            return None
        return cls(
            name=str(data.get("name", "")),
            uais=tuple(data.get("uais", ())),
            access_token=data["access_token"],
            refresh_token=data.get("refresh_token"),
            expires_at=float(data.get("expires_at", 0)),
        )


def _uais(claims: dict[str, Any], claim: str) -> tuple[str, ...]:
    value = claims.get(claim) or []
    values = [value] if isinstance(value, str) else list(value)
    return tuple(sorted({str(v).strip().upper() for v in values if str(v).strip()}))


class Provider:
    """The académie's provider as the console's client sees it (one authlib client)."""

    def __init__(self, settings: ConsoleSettings) -> None:
        self.settings = settings
        secret = settings.console_oidc_client_secret
        oauth = OAuth()
        oauth.register(
            "academie",
            client_id=settings.console_oidc_client_id,
            client_secret=secret.get_secret_value() if secret else None,
            server_metadata_url=f"{str(settings.oidc_issuer).rstrip('/')}/.well-known/openid-configuration",
            client_kwargs={
                "scope": settings.console_oidc_scope,
                "code_challenge_method": "S256",  # PKCE, whether or not the client has a secret
                **({} if secret else {"token_endpoint_auth_method": "none"}),
            },
        )
        self.client = oauth.create_client("academie")

    def redirect_uri(self, request: Request) -> str:
        if self.settings.console_public_url:
            return self.settings.console_public_url.rstrip("/") + "/auth/callback"
        return str(request.url_for("auth_callback"))

    async def start(self, request: Request) -> Any:
        """The redirect to the provider's login page (state, nonce and PKCE verifier in the session)."""
        return await self.client.authorize_redirect(request, self.redirect_uri(request))

    async def finish(self, request: Request) -> SignedIn:
        """Exchange the code (with the PKCE verifier) and check the ID token; OAuthError otherwise."""
        token = await self.client.authorize_access_token(request)
        claims = dict(token.get("userinfo") or {})
        name = claims.get("name") or claims.get("preferred_username") or claims.get("sub", "")
        return self._signed_in(token, name, _uais(claims, self.settings.oidc_uai_claim))

    @staticmethod
    def _signed_in(token: dict[str, Any], name: str, uais: tuple[str, ...]) -> SignedIn:
        expires_at = token.get("expires_at") or time.time() + float(token.get("expires_in", 60))
        return SignedIn(name, uais, token["access_token"], token.get("refresh_token"), float(expires_at))

    async def fresh(self, user: SignedIn) -> SignedIn | None:
        """The same person with a usable access token: refreshed when about to expire; None when the
        provider refuses (the refresh token expired or the session was closed): sign in again."""
        if user.expires_at - REFRESH_MARGIN_SECONDS > time.time():
            return user
        if not user.refresh_token:
            return None
        try:
            token = await self.client.fetch_access_token(
                grant_type="refresh_token", refresh_token=user.refresh_token
            )
        except OAuthError:
            return None
        return self._signed_in(token, user.name, user.uais)

    async def logout_url(self, post_logout_redirect_uri: str) -> str | None:
        """The provider's end-session address (RP-initiated logout), if it publishes one."""
        metadata = await self.client.load_server_metadata()
        end = metadata.get("end_session_endpoint")
        if not end:
            return None
        from urllib.parse import urlencode

        query = urlencode(
            {
                "client_id": self.settings.console_oidc_client_id,
                "post_logout_redirect_uri": post_logout_redirect_uri,
            }
        )
        return f"{end}?{query}"
