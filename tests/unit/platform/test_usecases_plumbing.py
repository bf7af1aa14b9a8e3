"""shared/usecases.py: a job keeps ticking through a failed tick and stops when cancelled."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from shared.usecases import every


async def test_a_failed_tick_is_logged_and_the_next_one_still_comes() -> None:
    ticks: list[int] = []
    third = asyncio.Event()

    async def tick(_runtime: object) -> None:
        ticks.append(len(ticks))
        if len(ticks) == 3:
            third.set()
        if len(ticks) == 1:
            raise RuntimeError("the database went away")

    job = every(tick, lambda runtime: runtime.interval, "test tick")
    task = asyncio.create_task(job(SimpleNamespace(interval=0.01)))
    await asyncio.wait_for(third.wait(), timeout=5)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert task.cancelled() and len(ticks) >= 3
    assert job.__name__ == "tick_job"
