"""The sandbox's delivery policy: wait from the publication, retry 5xx and network errors, not 4xx.

The intake is replaced by an httpx MockTransport here only to script its failures; the real
delivery to the real service is in tests/integration/finalisation.
"""

from datetime import UTC, datetime

import httpx

from deploy.pix_sandbox.__main__ import Sandbox, SandboxSettings


def sandbox(handler, delay: float = 2.0) -> Sandbox:
    settings = SandboxSettings(
        finalisation_url="http://intake", pix_sandbox_delay_seconds=delay, pix_sandbox_retry_max_seconds=0.01
    )
    return Sandbox(settings, httpx.AsyncClient(transport=httpx.MockTransport(handler)))


def test_the_delay_counts_from_the_publication():
    s = sandbox(lambda r: httpx.Response(200), delay=2.0)
    now = datetime.now(UTC).timestamp()
    assert 1.9 <= s.processing_wait(now) <= 2.0
    assert 0.4 <= s.processing_wait(now - 1.5) <= 0.5
    assert s.processing_wait(now - 3600) == 0.0


async def test_server_errors_and_network_errors_are_retried_until_the_intake_answers():
    answers = iter(
        [httpx.ConnectError("down"), httpx.Response(503), httpx.Response(200, json={"matched": 2})]
    )
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    await sandbox(handler).deliver("s-1", b"{}", "event-1")
    assert len(seen) == 3
    assert seen[-1].url == "http://intake/sessions/s-1/results"
    assert seen[-1].headers["content-type"] == "application/json"


async def test_a_refusal_is_an_answer_not_retried():
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(404, json={"error": {"code": "session.unknown", "message": "", "details": {}}})

    await sandbox(handler).deliver("s-1", b"{}", "event-1")
    assert len(calls) == 1


async def test_the_api_token_is_sent_and_a_token_refusal_is_retried_not_skipped():
    answers = iter(
        [httpx.Response(401, json={"error": {"code": "auth.invalid_token"}}), httpx.Response(200, json={})]
    )
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return next(answers)

    settings = SandboxSettings(
        finalisation_url="http://intake",
        finalisation_api_token="academie-portal-token-0123456789",
        pix_sandbox_retry_max_seconds=0.01,
    )
    s = Sandbox(settings, httpx.AsyncClient(transport=httpx.MockTransport(handler)))
    await s.deliver("s-1", b"{}", "event-1")
    assert len(seen) == 2  # a 401 would have lost the results for good had it been skipped
    assert seen[-1].headers["authorization"] == "Bearer academie-portal-token-0123456789"
