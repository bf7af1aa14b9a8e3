"""The main job's client resends only what cannot be done twice (deploy/local/retrying.py).

The service is a real aiohttp server on 127.0.0.1 whose first answers are failures: a connection
closed without an answer, an answer slower than the client waits, or a 5xx; then its final answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest
from aiohttp import web

from deploy.local.http_client import Answer, ServiceClient
from deploy.local.retrying import NEVER, SAFE, Resend, send

RESET = "reset"  # the connection closes before any answer
SLOW = "slow"  # the answer comes after the client stopped waiting


class Flaky:
    """A service whose first answers are failures (RESET, SLOW or a status), then ``final``."""

    def __init__(self, *failures: str | int, final: tuple[int, dict] = (200, {"ok": True})) -> None:
        self.failures = list(failures)
        self.final = final
        self.commands = 0

    async def ready(self, _request: web.Request) -> web.Response:
        return web.json_response({"status": "ready"})

    async def things(self, request: web.Request) -> web.StreamResponse:
        self.commands += 1
        if not self.failures:
            status, body = self.final
            return web.json_response(body, status=status)
        failure = self.failures.pop(0)
        if failure == RESET:
            assert request.transport is not None
            request.transport.close()
            return web.Response()
        if failure == SLOW:
            await asyncio.sleep(2)
            return web.json_response({"late": True})
        return web.json_response({"error": {"code": "x"}}, status=failure)


@asynccontextmanager
async def serving(*routes: web.RouteDef, client_timeout: float = 0.5) -> AsyncIterator[ServiceClient]:
    """A real HTTP server on a free port of 127.0.0.1, and a client of it."""
    app = web.Application()
    app.add_routes(routes)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    client = ServiceClient(f"http://127.0.0.1:{port}", timeout=client_timeout)
    try:
        yield client
    finally:
        await client.aclose()
        await runner.cleanup()


async def _send(service: Flaky, policy: Resend, seconds: float = 10) -> tuple[Answer, list[str]]:
    heard: list[str] = []
    async with serving(web.get("/ready", service.ready), web.post("/things", service.things)) as client:
        reply = await send(client, client, "POST", "/things", policy, seconds, heard.append)
    return reply, heard


async def test_a_safe_command_is_resent_after_connection_failures_and_5xx():
    service = Flaky(RESET, SLOW, 503, 502)
    reply, heard = await _send(service, SAFE)
    assert reply.status_code == 200 and reply.json() == {"ok": True}
    assert service.commands == 5 and len(heard) == 4


async def test_a_command_that_may_do_something_twice_is_not_resent():
    service = Flaky(SLOW)
    with pytest.raises(RuntimeError, match="not retried"):
        await _send(service, NEVER)
    assert service.commands == 1


async def test_a_refusal_is_an_answer_not_a_failure():
    service = Flaky(409)
    reply, heard = await _send(service, SAFE)
    assert reply.status_code == 409 and service.commands == 1 and not heard


def _read_back(answer: Answer | None) -> Callable[[], Awaitable[Answer | None]]:
    async def applied() -> Answer | None:
        return answer

    return applied


async def test_read_back_says_the_first_attempt_took_effect_so_nothing_is_resent():
    service = Flaky(RESET)
    found = Answer.of_json({"read": "back"})
    reply, _ = await _send(service, Resend(applied=_read_back(found)))
    assert reply is found and service.commands == 1


async def test_read_back_says_it_did_not_so_the_command_is_resent():
    service = Flaky(RESET)
    reply, _ = await _send(service, Resend(applied=_read_back(None)))
    assert reply.status_code == 200 and service.commands == 2


async def test_a_resend_refused_as_already_done_stands_for_the_first_answer():
    service = Flaky(RESET, final=(409, {"error": {"code": "candidate.already_started"}}))
    reply, _ = await _send(service, Resend(safe=True, done_codes=("candidate.already_started",)))
    assert reply.status_code == 409 and service.commands == 2


async def test_the_total_retry_time_is_bounded():
    service = Flaky(*[503] * 1000)
    with pytest.raises(RuntimeError, match="503"):
        await _send(service, SAFE, seconds=1)
    assert 2 <= service.commands < 20


async def test_uploads_and_forms_reach_the_service_whole():
    """The driver's roster upload (multipart) and token request (form) as the services read them."""
    seen: dict[str, object] = {}

    async def upload(request: web.Request) -> web.Response:
        if request.content_type.startswith("multipart/"):
            form = await request.post()
            part = form["file"]
            seen["file"] = (part.filename, part.content_type, part.file.read())  # type: ignore[union-attr]
        else:
            seen["form"] = dict(await request.post())
        return web.json_response({"ok": True}, status=201)

    form = {"grant_type": "client_credentials", "client_id": "lsu"}
    async with serving(web.post("/up", upload), client_timeout=10) as client:
        files = {"file": ("export_eleves.csv", b"INE;Nom\n", "text/csv")}
        assert (await client.request("POST", "/up", files=files)).status_code == 201
        assert (await client.request("POST", "/up", data=form)).json() == {"ok": True}
    assert seen == {"file": ("export_eleves.csv", "text/csv", b"INE;Nom\n"), "form": form}
