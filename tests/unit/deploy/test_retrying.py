"""The main job's client resends only what cannot be done twice (deploy/local/retrying.py)."""

from __future__ import annotations

import httpx
import pytest

from deploy.local.retrying import NEVER, SAFE, Resend, send


class Flaky:
    """A service whose first answers are failures (an exception to raise or a status), then 200."""

    def __init__(self, *failures: Exception | int, final: httpx.Response | None = None) -> None:
        self.failures = list(failures)
        self.final = final or httpx.Response(200, json={"ok": True})
        self.commands = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/ready":
            return httpx.Response(200)
        self.commands += 1
        if self.failures:
            failure = self.failures.pop(0)
            if isinstance(failure, Exception):
                raise failure
            return httpx.Response(failure, json={"error": {"code": "x"}})
        return self.final


async def _send(service: Flaky, policy: Resend, seconds: float = 10) -> tuple[httpx.Response, list[str]]:
    heard: list[str] = []
    async with httpx.AsyncClient(base_url="http://svc", transport=httpx.MockTransport(service)) as client:
        reply = await send(client, client, "POST", "/things", policy, seconds, heard.append)
    return reply, heard


async def test_a_safe_command_is_resent_after_connection_errors_and_5xx():
    service = Flaky(httpx.ConnectError("refused"), httpx.RemoteProtocolError("closed"), 503, 502)
    reply, heard = await _send(service, SAFE)
    assert reply.status_code == 200 and service.commands == 5 and len(heard) == 4


async def test_a_command_that_may_do_something_twice_is_not_resent():
    service = Flaky(httpx.ReadTimeout("slow"))
    with pytest.raises(RuntimeError, match="not retried"):
        await _send(service, NEVER)
    assert service.commands == 1


async def test_a_refusal_is_an_answer_not_a_failure():
    service = Flaky(409)
    reply, heard = await _send(service, SAFE)
    assert reply.status_code == 409 and service.commands == 1 and not heard


async def test_read_back_says_the_first_attempt_took_effect_so_nothing_is_resent():
    service = Flaky(httpx.ReadError("reset"))
    found = httpx.Response(200, json={"read": "back"})

    async def applied() -> httpx.Response | None:
        return found

    reply, _ = await _send(service, Resend(applied=applied))
    assert reply is found and service.commands == 1


async def test_read_back_says_it_did_not_so_the_command_is_resent():
    service = Flaky(httpx.ReadError("reset"))

    async def applied() -> httpx.Response | None:
        return None

    reply, _ = await _send(service, Resend(applied=applied))
    assert reply.status_code == 200 and service.commands == 2


async def test_a_resend_refused_as_already_done_stands_for_the_first_answer():
    done = httpx.Response(409, json={"error": {"code": "candidate.already_started"}})
    service = Flaky(httpx.ReadError("reset"), final=done)
    reply, _ = await _send(service, Resend(safe=True, done_codes=("candidate.already_started",)))
    assert reply is done and service.commands == 2


async def test_the_total_retry_time_is_bounded():
    service = Flaky(*[503] * 1000)
    with pytest.raises(RuntimeError, match="503"):
        await _send(service, SAFE, seconds=1)
    assert 2 <= service.commands < 20
