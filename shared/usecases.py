"""What every service gives its use cases: a unit of work with the service's store, and periodic jobs.

A use case opens ``async with begin() as work:``, reads and writes through ``work.store`` (the
service's SQL, on the transaction's connection) and raises events with ``work.emit`` — written to
the outbox in the same transaction, published only if it commits. ``transactions`` builds that
``begin`` from the runtime's ``unit_of_work`` and the service's store class, so each service writes
its store and nothing else. ``every`` turns a job's tick into the loop ``ServiceDefinition.jobs``
runs: a failed tick is logged and the next one comes at the next interval; a successful one sets
``certibus_job_last_success_timestamp_seconds{job=<the tick's name>}`` (shared/metrics.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import asyncpg
import structlog

from shared.contracts.envelope import Envelope
from shared.contracts.events import Event
from shared.outbox import UnitOfWork

log = structlog.get_logger(__name__)

StoreT = TypeVar("StoreT")


@dataclass(frozen=True)  # not slots: a generic alias sets __orig_class__ on the instances it makes
class StoreWork(Generic[StoreT]):
    """One transaction of a service: its store on the transaction's connection, and its outbox."""

    outbox: UnitOfWork
    store: StoreT

    async def emit(self, event: Event) -> Envelope:
        return await self.outbox.emit(event)

    async def emit_many(self, events: Sequence[Event]) -> list[Envelope]:
        return await self.outbox.emit_many(events)


def transactions(
    begin: Callable[[], AbstractAsyncContextManager[UnitOfWork]],
    store: Callable[[asyncpg.Connection], StoreT],
) -> Callable[[], AbstractAsyncContextManager[StoreWork[StoreT]]]:
    """The use cases' ``begin`` from the platform's (``runtime.unit_of_work``) and a store class."""

    @asynccontextmanager
    async def work() -> AsyncIterator[StoreWork[StoreT]]:
        async with begin() as uow:
            yield StoreWork(uow, store(uow.conn))

    return work


def every(
    tick: Callable[[Any], Awaitable[object]], interval: Callable[[Any], float], what: str
) -> Callable[[Any], Awaitable[None]]:
    """A service job running ``tick(runtime)`` every ``interval(runtime)`` seconds, for ever.

    A tick that fails is logged (``what`` names it) and retried at the next interval; cancellation
    (the service stopping) ends the loop. Each success is recorded in ``runtime.metrics`` (when the
    runtime has one) under the tick's name.
    """
    name = getattr(tick, "__name__", "tick")

    async def job(runtime: Any) -> None:
        metrics = getattr(runtime, "metrics", None)
        while True:
            try:
                await tick(runtime)
                if metrics is not None:
                    metrics.job_succeeded(name)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception(f"{what} failed; retrying at the next tick")
            await asyncio.sleep(interval(runtime))

    job.__name__ = job.__qualname__ = f"{name}_job"
    return job
