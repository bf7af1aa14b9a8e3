"""The outbox relay's waiting, without infrastructure."""

from __future__ import annotations

import asyncio

import pytest

from shared.outbox import OutboxRelay


async def test_a_relay_cancelled_as_a_notify_wakes_it_still_stops():
    relay = OutboxRelay(dsn="postgresql://unused", schema="s", bootstrap_servers="unused", poll_seconds=60)
    waiting = asyncio.create_task(relay._sleep_until_woken())
    await asyncio.sleep(0.01)
    relay._wake.set()  # a NOTIFY and a shutdown in the same loop iteration
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting


async def test_the_relay_sleeps_until_woken_or_the_poll_interval():
    relay = OutboxRelay(dsn="postgresql://unused", schema="s", bootstrap_servers="unused", poll_seconds=0.05)
    await asyncio.wait_for(relay._sleep_until_woken(), 1)  # the poll interval
    relay._wake.set()
    relay.poll_seconds = 60
    await asyncio.wait_for(relay._sleep_until_woken(), 1)  # the NOTIFY
