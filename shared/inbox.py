"""The inbox: which events a consumer has applied, recorded in the transaction that applies them.

A row ``(consumer, event id)`` is inserted in the same Postgres transaction as the handler's
effects; a redelivered event finds its row, the insert returns nothing, and the handler is not run
again. A batch's run of records is recorded with one statement (``unnest`` arrays,
``ON CONFLICT DO NOTHING RETURNING``) that says which of them are fresh.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import asyncpg
from aiokafka import ConsumerRecord

from shared.contracts.envelope import Envelope
from shared.contracts.events import Event


class Delivery(NamedTuple):
    """One fresh event handed to a batch handler, with the envelope it travelled in."""

    event: Any
    envelope: Envelope


@dataclass(slots=True)
class Received:
    """A record whose envelope and payload parsed, and that the consumer has a handler for."""

    record: ConsumerRecord
    envelope: Envelope
    event: Event


async def record_one(conn: asyncpg.Connection, consumer: str, item: Received) -> bool:
    """Insert the record's inbox row; False when the consumer has already applied its event."""
    record = item.record
    return bool(
        await conn.fetchval(
            "INSERT INTO inbox (consumer, event_id, event_type, topic, kafka_partition, kafka_offset)"
            " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING true",
            consumer,
            item.envelope.id,
            item.envelope.type,
            record.topic,
            record.partition,
            record.offset,
        )
    )


async def record_run(conn: asyncpg.Connection, consumer: str, items: list[Received]) -> list[Received]:
    """Insert the inbox rows of one partition's run in one statement; return the fresh, in order.

    The statement says which rows it inserted by their offsets (unique in a partition's run, and
    free of how an event id is spelt): an id already recorded, or met earlier in the run, is not.
    """
    head = items[0].record
    inserted = await conn.fetch(
        "INSERT INTO inbox (consumer, event_id, event_type, topic, kafka_partition, kafka_offset)"
        " SELECT $1, e.id, e.type, $2, $3, e.kafka_offset"
        " FROM unnest($4::uuid[], $5::text[], $6::bigint[]) WITH ORDINALITY AS e(id, type, kafka_offset, n)"
        " ORDER BY e.n ON CONFLICT DO NOTHING RETURNING kafka_offset",
        consumer,
        head.topic,
        head.partition,
        [item.envelope.id for item in items],
        [item.envelope.type for item in items],
        [item.record.offset for item in items],
    )
    fresh_offsets = {row[0] for row in inserted}
    return [item for item in items if item.record.offset in fresh_offsets]
