"""The main job's HTTP client: aiohttp under a small, read-whole-answer interface.

The driver is part of what the académie run costs (issue 10): with httpx it spent ≈ 15 CPU-ms per
student, most of it in httpcore's pool scanning every connection on every request (py-spy on the
college run, 2026-12-04). aiohttp does the same requests for ≈ 0.2 CPU-ms each against ≈ 3.5 with
httpx (32 concurrent callers, one uvicorn app). Each answer is read whole into an ``Answer`` so the
steps keep the familiar ``status_code`` / ``json()`` / ``content`` and never hold a connection.
"""

from __future__ import annotations

import asyncio
import json as jsonlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp

#: failures of the connection itself (refused, reset, timed out, half-written answer)
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (aiohttp.ClientError, asyncio.TimeoutError)


@dataclass(frozen=True)
class Answer:
    """One HTTP answer, read whole."""

    status_code: int
    content: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of_json(cls, payload: Any, status_code: int = 200) -> Answer:
        """An answer the driver makes up from what it read back (a resend found already done)."""
        return cls(status_code, jsonlib.dumps(payload).encode(), {"content-type": "application/json"})

    def json(self) -> Any:
        return jsonlib.loads(self.content)

    @property
    def text(self) -> str:
        return self.content.decode(errors="replace")


class ServiceClient:
    """Requests to one service (``base_url``), with default headers and a bounded connection pool.

    Create it inside the running event loop (aiohttp binds its session to the loop)."""

    def __init__(
        self,
        base_url: str,
        *,
        headers: Mapping[str, str] | None = None,
        connections: int = 64,
        timeout: float = 120,
        authorization: Callable[[], Awaitable[Mapping[str, str]]] | None = None,
    ) -> None:
        """``authorization``: the headers that sign each request in, asked for per request (a
        token renewed in the meantime is the one sent)."""
        self.base_url = base_url.rstrip("/")
        self.authorization = authorization
        self._session = aiohttp.ClientSession(
            headers=dict(headers or {}),
            connector=aiohttp.TCPConnector(limit=connections, force_close=False),
            timeout=aiohttp.ClientTimeout(total=timeout),
        )

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, str | int] | None = None,
        data: Mapping[str, str] | None = None,
        files: Mapping[str, tuple[str, bytes, str]] | None = None,
        headers: Mapping[str, str] | None = None,
        within: float | None = None,
    ) -> Answer:
        """``params``: the query string; ``files``: ``{"field": (filename, body, content type)}``, sent
        as multipart/form-data; ``within``: seconds for this request instead of the client's timeout."""
        body: Any = data
        if files:
            form = aiohttp.FormData()
            for name, value in (data or {}).items():
                form.add_field(name, value)
            for name, (filename, content, content_type) in files.items():
                form.add_field(name, content, filename=filename, content_type=content_type)
            body = form
        options: dict[str, Any] = {"timeout": aiohttp.ClientTimeout(total=within)} if within else {}
        if self.authorization is not None:
            headers = {**(headers or {}), **await self.authorization()}
        async with self._session.request(
            method,
            self.base_url + path,
            json=json,
            params={name: str(value) for name, value in (params or {}).items()},
            data=body,
            headers=headers,
            **options,
        ) as reply:
            return Answer(reply.status, await reply.read(), reply.headers)

    async def get(self, path: str, **kwargs: Any) -> Answer:
        return await self.request("GET", path, **kwargs)

    async def post(self, path: str, **kwargs: Any) -> Answer:
        return await self.request("POST", path, **kwargs)

    async def aclose(self) -> None:
        await self._session.close()
