"""The services' HTTP APIs as the console calls them: always with the signed-in person's token.

The console never decides who may see what: a school outside the token's UAIs answers 404 from the
service itself, and the console shows that 404. Files (PDF, CSV, zip) are passed through with the
service's own ``Content-Type`` and ``Content-Disposition``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from services.console.settings import ConsoleSettings

#: the response headers a passed-through file keeps
FILE_HEADERS = ("content-type", "content-disposition", "content-length")


class ServiceUnavailable(Exception):
    """A service did not answer (or answered 5xx): the page says which, nothing is retried here."""

    def __init__(self, service: str, detail: str) -> None:
        super().__init__(f"{service}: {detail}")
        self.service = service


class Refused(Exception):
    """A 4xx from a service: its error code and French-or-English message, its details (which
    candidate, which field), the status and, for a 429, the ``Retry-After`` seconds."""

    def __init__(
        self,
        service: str,
        status: int,
        code: str,
        message: str,
        details: dict[str, Any] | None = None,
        retry_after: str | None = None,
    ) -> None:
        super().__init__(f"{service}: {status} {code}")
        self.service, self.status, self.code, self.message = service, status, code, message
        self.details = details or {}
        self.retry_after = retry_after


@dataclass(frozen=True)
class File:
    content: bytes
    headers: dict[str, str]


class Backend:
    """One pooled HTTP client for every service (``transports`` lets tests mount the real apps)."""

    def __init__(
        self, settings: ConsoleSettings, transports: Mapping[str, httpx.AsyncBaseTransport] | None = None
    ) -> None:
        self.settings = settings
        self.transports = dict(transports or {})
        self._default = httpx.AsyncClient(timeout=settings.console_api_timeout_seconds)
        self._mounted = {
            service: httpx.AsyncClient(transport=t, timeout=settings.console_api_timeout_seconds)
            for service, t in self.transports.items()
        }

    async def close(self) -> None:
        await self._default.aclose()
        for client in self._mounted.values():
            await client.aclose()

    async def _get(
        self, service: str, path: str, token: str | None, params: dict[str, Any] | None
    ) -> httpx.Response:
        return await self._call("GET", service, path, token, params=params)

    async def _call(
        self, method: str, service: str, path: str, token: str | None, **request: Any
    ) -> httpx.Response:
        client = self._mounted.get(service, self._default)
        url = self.settings.service_url(service) + path
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            reply = await client.request(method, url, headers=headers, **request)
        except httpx.HTTPError as exc:
            raise ServiceUnavailable(service, f"{type(exc).__name__}") from exc
        if reply.status_code >= 500:
            raise ServiceUnavailable(service, f"HTTP {reply.status_code}")
        if reply.status_code >= 400:
            try:
                error = reply.json()["error"]
                code, message = str(error["code"]), str(error["message"])
                details = error.get("details") if isinstance(error.get("details"), dict) else {}
            except (ValueError, KeyError, TypeError):
                code, message, details = f"http.{reply.status_code}", reply.text[:200], {}
            retry_after = reply.headers.get("retry-after")
            raise Refused(service, reply.status_code, code, message, details, retry_after)
        return reply

    async def json(self, service: str, path: str, token: str, params: dict[str, Any] | None = None) -> Any:
        return (await self._get(service, path, token, params)).json()

    async def text(self, service: str, path: str) -> str:
        """An unauthenticated text page of a service (its Prometheus ``/metrics``)."""
        return (await self._call("GET", service, path, None)).text

    async def file(self, service: str, path: str, token: str) -> File:
        reply = await self._get(service, path, token, None)
        return File(reply.content, {k: v for k, v in reply.headers.items() if k.lower() in FILE_HEADERS})

    async def send(
        self,
        method: str,
        service: str,
        path: str,
        token: str | None,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        upload: tuple[str, bytes] | None = None,
    ) -> Any:
        """A command (POST, PUT, PATCH, DELETE): a JSON body or an ``upload`` (file name, bytes) as
        multipart field ``file``; the service's JSON answer (None when empty)."""
        files = {"file": upload} if upload else None
        reply = await self._call(method, service, path, token, json=json, params=params, files=files)
        return reply.json() if reply.content else None
