"""Erasing one learner's personal data: what every service shares (README, *Erasing a learner*).

Eligibility erases its learner and raises LearnerErasureRequested; each subscriber then erases the
learner from its own tables (its ``store_erasure.py``), from the payloads still in its outbox, and
records the erasure in ``erased_learners`` (platform migration 0009). The erased values are
replaced, never the rows: names become ``""`` (or NULL where the column allows it), the INE and
the birth place NULL, the birth date ``ERASED_BIRTHDATE``, so counts, sessions' candidates and
class results stay as they were. ``erased_learners`` is kept by replays: a handler that stores an
event about a learner calls ``erase_again`` so an event published before the erasure and read
again (a redelivery, a replay) does not bring the data back.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import date, datetime
from typing import Any

import asyncpg
import structlog
from pydantic import BaseModel

from shared.consumer import BatchHandler, EventConsumer, Handler
from shared.contracts.envelope import Envelope
from shared.contracts.events import EVENT_TYPES, LearnerErasureRequested
from shared.inbox import Delivery
from shared.outbox import UnitOfWork

log = structlog.get_logger(__name__)

#: the birth date an erased learner keeps where a column or a contract needs one (not a real one)
ERASED_BIRTHDATE = date(1900, 1, 1)
#: what each personal field of an event payload becomes once erased (required strings stay strings)
ERASED_VALUES: dict[str, Any] = {
    "ine": None,
    "first_name": "",
    "middle_name": None,
    "third_name": None,
    "last_name": "",
    "preferred_last_name": None,
    "birthdate": ERASED_BIRTHDATE.isoformat(),
    "sex": None,
    "birth_city": None,
    "birth_city_code": None,
    "birth_department_code": None,
    "birth_country_code": None,
    "birthplace": None,
    "external_id": None,
    "jury_comment": None,
}

#: a service's erasure of one learner in its own tables: (connection, learner id) → rows changed
EraseTables = Callable[[asyncpg.Connection, str], Awaitable[int]]


def learner_ids_of(value: object) -> set[str]:
    """Every ``learner_id`` an event (or any nested model, list or dict) names."""
    found: set[str] = set()
    if isinstance(value, BaseModel):
        value = value.__dict__
    if isinstance(value, dict):
        learner = value.get("learner_id")
        if isinstance(learner, str):
            found.add(learner)
        for item in value.values():
            if isinstance(item, BaseModel | dict | list | tuple):
                found |= learner_ids_of(item)
    elif isinstance(value, list | tuple):
        for item in value:
            found |= learner_ids_of(item)
    return found


def erase_fields(value: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """``value`` (one person's object of a payload) with its personal fields erased; 1 if it changed."""
    erased = {k: ERASED_VALUES[k] for k in value if k in ERASED_VALUES}
    if all(value[k] == v for k, v in erased.items()):
        return value, 0
    return {**value, **erased}, 1


def erase_in_payload(value: Any, learner_id: str) -> tuple[Any, int]:
    """The decoded JSON ``value`` with the personal fields of every object about ``learner_id`` erased,
    and how many objects changed."""
    if isinstance(value, dict):
        changed = 0
        out = {}
        for key, item in value.items():
            out[key], n = erase_in_payload(item, learner_id)
            changed += n
        if out.get("learner_id") == learner_id:
            out, n = erase_fields(out)
            changed += n
        return out, changed
    if isinstance(value, list):
        pairs = [erase_in_payload(item, learner_id) for item in value]
        return [p[0] for p in pairs], sum(p[1] for p in pairs)
    return value, 0


async def erase_outbox(conn: asyncpg.Connection, learner_id: str) -> int:
    """Erase the learner from the payloads of the service's outbox (published rows are kept for a
    while, unpublished ones are still to travel): each is rewritten, still valid for its type."""
    rows = await conn.fetch(
        "SELECT id, event_type, payload FROM outbox WHERE position($1::bytea IN payload) > 0",
        learner_id.encode(),
    )
    changed = 0
    for row in rows:
        payload, n = erase_in_payload(json.loads(bytes(row["payload"])), learner_id)
        if not n:
            continue
        event_cls = EVENT_TYPES.get(row["event_type"])
        body = event_cls.model_validate(payload).model_dump_json() if event_cls else json.dumps(payload)
        await conn.execute("UPDATE outbox SET payload = $2 WHERE id = $1", row["id"], body.encode())
        changed += 1
    return changed


async def erase_learner(
    conn: asyncpg.Connection,
    erase_tables: EraseTables,
    *,
    learner_id: str,
    uai: str,
    requested_at: datetime,
    now: datetime,
    service: str,
) -> bool:
    """Erase one learner in this service's schema, once; False when it was already erased.

    Logs ``learner erased`` (the learner id, the school and the rows changed, no personal data):
    the confirmation an operator reads per service, with ``erased_learners`` as its record.
    """
    first = await conn.fetchval(
        "INSERT INTO erased_learners (learner_id, uai, requested_at, erased_at) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (learner_id) DO NOTHING RETURNING true",
        learner_id,
        uai,
        requested_at,
        now,
    )
    if not first:
        log.info("learner erasure already done", learner_id=learner_id, uai=uai, erasure_service=service)
        return False
    rows = await erase_tables(conn, learner_id) + await erase_outbox(conn, learner_id)
    await conn.execute("UPDATE erased_learners SET rows_erased = $2 WHERE learner_id = $1", learner_id, rows)
    log.info("learner erased", learner_id=learner_id, uai=uai, erasure_service=service, rows=rows)
    return True


async def erased_among(conn: asyncpg.Connection | asyncpg.Pool, learner_ids: Iterable[str]) -> set[str]:
    """The learners of ``learner_ids`` this service has erased."""
    ids = sorted(set(learner_ids))
    if not ids:
        return set()
    rows = await conn.fetch("SELECT learner_id FROM erased_learners WHERE learner_id = ANY($1::text[])", ids)
    return {r["learner_id"] for r in rows}


async def erase_again(conn: asyncpg.Connection, erase_tables: EraseTables, events: Sequence[object]) -> int:
    """After a handler stored ``events``: erase again the erased learners they name (a replayed
    LearnerUpdated, an enrolment or results published before the erasure). Rows changed."""
    ids = set().union(*(learner_ids_of(e) for e in events)) if events else set()
    changed = 0
    for learner_id in sorted(await erased_among(conn, ids)):
        changed += await erase_tables(conn, learner_id)
    if changed:
        log.info("erased learner's data kept out", learners=len(ids), rows=changed)
    return changed


def keep_erasures(consumer: EventConsumer, erase_tables: EraseTables) -> None:
    """Wrap the consumer's handlers of events carrying personal data (registered before this call):
    after each, the erased learners it named are erased again, in the same transaction."""
    for event_type, handler in list(consumer.handlers.items()):
        if EVENT_TYPES[event_type].personal_data:
            consumer.handlers[event_type] = _guarded(handler, erase_tables)
    for event_type, batch in list(consumer.batch_handlers.items()):
        if EVENT_TYPES[event_type].personal_data:
            consumer.batch_handlers[event_type] = _guarded_batch(batch, erase_tables)


def _guarded(handler: Handler, erase_tables: EraseTables) -> Handler:
    async def guarded(uow: UnitOfWork, event: Any, envelope: Envelope) -> None:
        await handler(uow, event, envelope)
        await erase_again(uow.conn, erase_tables, [event])

    return guarded


def _guarded_batch(handler: BatchHandler, erase_tables: EraseTables) -> BatchHandler:
    async def guarded(uow: UnitOfWork, deliveries: Sequence[Delivery]) -> None:
        await handler(uow, deliveries)
        await erase_again(uow.conn, erase_tables, [d.event for d in deliveries])

    return guarded


def handle_erasures(
    consumer: EventConsumer,
    service: str,
    erase_tables: EraseTables,
    now: Callable[[], datetime],
    *,
    guard: bool = True,
) -> None:
    """Register the service's LearnerErasureRequested handler on ``consumer`` (an eligibility one),
    then guard its other handlers (``keep_erasures``) unless ``guard`` is False (a service that
    stores no personal data: the académie view)."""

    async def on_learner_erasure_requested(
        uow: UnitOfWork, event: LearnerErasureRequested, envelope: Envelope
    ) -> None:
        await erase_learner(
            uow.conn,
            erase_tables,
            learner_id=event.learner_id,
            uai=event.uai,
            requested_at=event.requested_at,
            now=now(),
            service=service,
        )

    consumer.on(LearnerErasureRequested, on_learner_erasure_requested)
    if guard:
        keep_erasures(consumer, erase_tables)


async def nothing_to_erase(_conn: asyncpg.Connection, _learner_id: str) -> int:
    """The erasure of a service that stores no personal data (its erasure is only recorded and logged)."""
    return 0
