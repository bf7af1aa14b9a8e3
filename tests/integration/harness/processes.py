"""Real processes for the crash tests: an outbox relay and an event consumer that a test can SIGKILL.

Each can pause at the one instant a crash test is about (the relay after publishing but before
marking rows sent; the consumer after its transaction but before committing the offset, or inside
its transaction with ``--pause-in-transaction``): it writes a marker file and sleeps, and the test
kills the process for real.

    python -m tests.integration.harness.processes relay --dsn … --schema … --bootstrap … [--pause-marker F]
    python -m tests.integration.harness.processes consume --dsn … --schema … --bootstrap … --group … [--pause-marker F]
        [--pause-subject S | --pause-in-transaction] [--topic T]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from pathlib import Path

from faststream.kafka import KafkaBroker

from shared.consumer import EventConsumer
from shared.contracts.envelope import Envelope
from shared.contracts.events import SessionUpdated
from shared.contracts.topics import SCHEDULER
from shared.db import create_pool
from shared.logging import configure_logging
from shared.outbox import OutboxRelay, UnitOfWork

EFFECTS_DDL = """
CREATE TABLE IF NOT EXISTS effects (
    seq        bigserial PRIMARY KEY,
    event_id   uuid NOT NULL,
    subject    text NOT NULL,
    marker     text NOT NULL
)"""


async def _pause_forever(marker: Path) -> None:
    await asyncio.to_thread(marker.write_text, "paused")
    await asyncio.Event().wait()


async def record_effect(uow: UnitOfWork, event: SessionUpdated, envelope: Envelope) -> None:
    """The effect under test: one row per handled event (no unique key, so a double apply shows)."""
    if "poison" in event.changed_fields:
        raise RuntimeError("this event always fails")
    await uow.conn.execute(
        "INSERT INTO effects (event_id, subject, marker) VALUES ($1, $2, $3)",
        envelope.id,
        envelope.subject,
        ",".join(event.changed_fields),
    )


async def relay(args: argparse.Namespace) -> None:
    pause = None
    if args.pause_marker:
        marker = Path(args.pause_marker)

        async def pause(_ids: list[int]) -> None:
            await _pause_forever(marker)

    await OutboxRelay(
        dsn=args.dsn,
        schema=args.schema,
        bootstrap_servers=args.bootstrap,
        poll_seconds=0.5,
        after_publish=pause,
    ).run()


async def consume(args: argparse.Namespace) -> None:
    pool = await create_pool(args.dsn, args.schema)
    broker = KafkaBroker(args.bootstrap, logger=logging.getLogger("faststream"))
    after_commit = None
    handler = record_effect
    if args.pause_marker and args.pause_in_transaction:
        marker = Path(args.pause_marker)

        async def handler(uow: UnitOfWork, event: SessionUpdated, envelope: Envelope) -> None:
            await record_effect(uow, event, envelope)
            if "pause-here" in event.changed_fields:  # the batch's transaction is still open
                await _pause_forever(marker)

    elif args.pause_marker:
        marker = Path(args.pause_marker)

        async def after_commit(envelope, _record) -> None:
            if envelope.subject == args.pause_subject:
                await _pause_forever(marker)

    consumer = EventConsumer(
        service="harness",
        name=args.group,
        pool=pool,
        broker=broker,
        retry_max_attempts=3,
        retry_backoff_ms=10,
        after_commit=after_commit,
    )
    consumer.on(SessionUpdated, handler)
    consumer.subscribe(args.topic)
    await broker.start()
    await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("role", choices=["relay", "consume"])
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--schema", required=True)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--group", default="harness")
    parser.add_argument("--pause-marker", help="write this file and hang at the crash point")
    parser.add_argument("--pause-subject", help="consumer: hang only after handling this aggregate's event")
    parser.add_argument(
        "--pause-in-transaction",
        action="store_true",
        help="consumer: hang inside the transaction, after applying an event marked 'pause-here'",
    )
    parser.add_argument("--topic", default=SCHEDULER, help="consumer: the topic to read")
    args = parser.parse_args()
    configure_logging(f"harness-{args.role}", "INFO", "json")
    asyncio.run(relay(args) if args.role == "relay" else consume(args))


if __name__ == "__main__":
    main()
