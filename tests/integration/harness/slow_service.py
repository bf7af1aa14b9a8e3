"""A real service process (uvicorn, lifespan, consumers, relay) whose handler takes its time.

For the shutdown test: ``python -m tests.integration.harness.slow_service`` with the usual service
variables; a SessionUpdated whose changed_fields hold "slow" writes ``SLOW_HANDLER_MARKER`` and
sleeps ``SLOW_HANDLER_SECONDS`` inside its transaction before recording its effect.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from shared.contracts.events import SessionUpdated
from shared.contracts.topics import SCHEDULER
from shared.service import Runtime, ServiceDefinition, run
from tests.integration.harness.processes import record_effect


async def on_update(uow, event: SessionUpdated, envelope) -> None:
    if "slow" in event.changed_fields:
        await asyncio.to_thread(Path(os.environ["SLOW_HANDLER_MARKER"]).write_text, "started")
        await asyncio.sleep(float(os.environ.get("SLOW_HANDLER_SECONDS", "2")))
    await record_effect(uow, event, envelope)


def wire(runtime: Runtime) -> None:
    runtime.consumer("slow", SCHEDULER).on(SessionUpdated, on_update)


definition = ServiceDefinition(name="finalisation", wire=wire)

if __name__ == "__main__":
    run(definition)
