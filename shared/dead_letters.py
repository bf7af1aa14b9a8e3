"""Parking a record that cannot be applied: the service's dead-letter topic, headers saying why.

The record keeps its value, key and envelope headers, and gains ``dlq_*`` headers naming where it
came from, which consumer gave up, after how many attempts and on what error (a payload error
names the fields, never their values: they can be names, INE or birth dates).
"""

from __future__ import annotations

import asyncio
import traceback

import structlog
from aiokafka import ConsumerRecord
from faststream.kafka import KafkaBroker
from pydantic import ValidationError

from shared.contracts.topics import dead_letter_topic

log = structlog.get_logger(__name__)

DLQ_HEADERS = (
    "dlq_original_topic",
    "dlq_original_partition",
    "dlq_original_offset",
    "dlq_error",
    "dlq_consumer",
    "dlq_attempts",
)


def dead_letter_headers(record: ConsumerRecord, error: str, consumer: str, attempts: int) -> dict[str, str]:
    """The record's own headers plus the ``dlq_*`` ones."""
    headers = {
        k: (v.decode(errors="replace") if isinstance(v, bytes) else v) for k, v in record.headers or []
    }
    headers.update(
        {
            "dlq_original_topic": record.topic,
            "dlq_original_partition": str(record.partition),
            "dlq_original_offset": str(record.offset),
            "dlq_error": error[:4000],
            "dlq_consumer": consumer,
            "dlq_attempts": str(attempts),
        }
    )
    return headers


async def park(
    broker: KafkaBroker,
    service: str,
    record: ConsumerRecord,
    headers: dict[str, str],
    backoff_ms: int,
    backoff_max_ms: int,
) -> None:
    """Publish to the service's dead-letter topic, retrying until it is there.

    The partition waits meanwhile: moving on would commit past a record nobody has.
    """
    delay = max(backoff_ms, 100) / 1000
    while True:
        try:
            await broker.publish(
                record.value, topic=dead_letter_topic(service), key=record.key, headers=headers
            )
            return
        except Exception as exc:
            log.error("dead-letter publish failed; the partition waits", error=describe(exc))
            await asyncio.sleep(delay)
            delay = min(delay * 2, max(backoff_max_ms, 100) / 1000)


def validation_summary(exc: ValidationError) -> str:
    """Where and why a payload is invalid, without the input values (names, INE, birth dates)."""
    errors = exc.errors(include_url=False, include_input=False, include_context=False)
    return f"{len(errors)} validation error(s): " + "; ".join(
        f"{'.'.join(map(str, e['loc'])) or '(root)'}: {e['msg']}" for e in errors
    )


def describe(exc: BaseException) -> str:
    """Type, message and where it was raised; a validation error without its input."""
    last = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
    where = f" at {last[0].filename}:{last[0].lineno}" if last else ""
    text = validation_summary(exc) if isinstance(exc, ValidationError) else str(exc)
    return f"{type(exc).__name__}: {text}{where}"
