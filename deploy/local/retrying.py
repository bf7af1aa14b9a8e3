"""A client that survives a service restarting under it (issue 11): what may be sent again, and how.

A connection error, a timeout or a 502/503/504 leaves a request's outcome unknown. It is sent again
with exponential backoff, within a bounded total time, once the service answers /ready again, but
only as its ``Resend`` allows: reads, PUTs, imports that replace and state changes that are no-ops
when repeated are resent as they are; a command that would do something twice is resent only after
reading back that the first attempt did not take effect, or is done when the resend is refused with
the code that says it already happened (``candidate.already_started``, ``session.finalised``…).
Used by the main job's driver (deploy/local/steps.py).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from deploy.local.http_client import TRANSIENT_ERRORS, Answer, ServiceClient

#: answers a client retries: a gateway or the service itself is (re)starting
RETRY_STATUSES = (502, 503, 504)


@dataclass(frozen=True)
class Resend:
    """Whether a request whose outcome is unknown (the connection failed, a 5xx) may be sent again.

    ``safe``: sending it twice has the effect of sending it once. ``done_codes``: refusal codes a
    resend gets when the first attempt took effect (the answer then stands for the first one's).
    ``applied``: reads back whether the first attempt took effect, and returns the answer to use in
    its place (None: it did not, send again). With none of them the request is never resent."""

    safe: bool = False
    done_codes: tuple[str, ...] = ()
    applied: Callable[[], Awaitable[Answer | None]] | None = None

    @property
    def resendable(self) -> bool:
        return self.safe or self.applied is not None


SAFE = Resend(safe=True)
NEVER = Resend()


async def send(
    client: ServiceClient,
    probe: ServiceClient,
    method: str,
    path: str,
    policy: Resend,
    retry_seconds: float,
    retried: Callable[[str], None],
    **kwargs: Any,
) -> Answer:
    """``method path`` on ``client``, resent as ``policy`` allows for ``retry_seconds`` at most
    (``probe``: a client of the same service for /ready); ``retried`` hears of each resend."""
    deadline = time.monotonic() + retry_seconds
    delay, attempt = 0.2, 0
    while True:
        failure: str
        try:
            reply = await client.request(method, path, **kwargs)
        except TRANSIENT_ERRORS as error:
            failure = f"{type(error).__name__}: {error}"
        else:
            if attempt and error_code(reply) in policy.done_codes:
                return reply  # the resend is refused because the first attempt took effect
            if reply.status_code not in RETRY_STATUSES:
                return reply
            failure = f"{reply.status_code}"
        attempt += 1
        if not policy.resendable or time.monotonic() > deadline:
            raise RuntimeError(
                f"{method} {client.base_url}{path}: {failure} (attempt {attempt}, not retried)"
            )
        retried(f"  retry {attempt} of {method} {client.base_url}{path} after {failure}")
        await asyncio.sleep(delay)
        delay = min(delay * 2, 5.0)
        await wait_ready(probe, deadline)
        if policy.applied is not None and (done := await policy.applied()) is not None:
            return done


async def wait_ready(probe: ServiceClient, deadline: float) -> None:
    """Until the service answers /ready with 200 (it is back), or the deadline."""
    while time.monotonic() < deadline:
        try:
            if (await probe.get("/ready", within=5)).status_code == 200:
                return
        except TRANSIENT_ERRORS:
            pass
        await asyncio.sleep(0.5)


def error_code(reply: Answer) -> str | None:
    try:
        return reply.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None
