"""A bounded replay: a stopped service's read models rebuilt from its input topics, record by record.

``REBUILD_READ_MODELS=true`` starts the whole service in replay mode and lets it consume to the end
and on. An operator's replay (``certibus replay``) wants a replay that *ends*, at offsets known in
advance, so that its result can be compared with the live state: it plans, per consumer group and
partition, where to start (the beginning, or the first record at ``REBUILD_SINCE``) and where to
stop (the offsets the group had committed, i.e. what the live state had applied; or the topics'
end), clears the read models and the inbox and rewinds the groups as the replay mode does
(``rebuild_read_models``), hands exactly those records to the service's own consumers
(``EventConsumer.handle_batch``: the same decoding, inbox, handlers, retries and dead letters as a
live run), and finally commits the stop offsets so that the service, restarted, carries on from
there. No HTTP, no jobs, no outbox relay: what the handlers raise waits in the outbox for the
service's next start.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, TopicPartition

from shared.consumer import EventConsumer
from shared.db import create_pool, migrate, schema_for
from shared.kafka_admin import commit_group_offsets, group_lag, replay_window
from shared.kafka_security import client_options, service_broker
from shared.outbox import OutboxRelay
from shared.service import Runtime, ServiceDefinition, rebuild_read_models
from shared.settings import ServiceSettings


@dataclass
class GroupPlan:
    """One consumer group's replay: per partition, the first offset read and the one it stops before."""

    consumer: EventConsumer
    window: dict[TopicPartition, tuple[int, int]] = field(default_factory=dict)

    @property
    def records(self) -> int:
        return sum(stop - start for start, stop in self.window.values())


@contextlib.asynccontextmanager
async def service_runtime(definition: ServiceDefinition, settings: ServiceSettings) -> AsyncIterator[Runtime]:
    """The service's runtime without HTTP, jobs or relay: pool (migrated), broker connected, consumers wired."""
    schema = settings.database_schema or schema_for(definition.name)
    pool = await create_pool(settings.database_url, schema, settings.database_pool_max)
    try:
        async with pool.acquire() as conn:
            await migrate(conn, schema, definition.migrations)
        broker = service_broker(settings, f"certibus-{definition.name}-replay")
        relay = OutboxRelay(
            dsn=settings.database_url, schema=schema, bootstrap_servers=settings.kafka_bootstrap_servers
        )
        runtime = Runtime(definition, settings, pool, broker, relay)
        if definition.wire:
            definition.wire(runtime)
        await broker.connect()  # dead letters are published through it
        try:
            yield runtime
        finally:
            await broker.stop()
    finally:
        await pool.close()


async def plan_replay(runtime: Runtime, since_ms: int | None, to_end: bool) -> list[GroupPlan]:
    """Where each group's replay starts and stops; read before ``rebuild_read_models`` moves the groups."""
    bootstrap = runtime.settings.kafka_bootstrap_servers
    plans = []
    for consumer in runtime.consumers:
        window = await replay_window(bootstrap, list(consumer.topics), since_ms)
        if not to_end:
            committed = {
                TopicPartition(p.topic, p.partition): p.committed
                for p in await group_lag(bootstrap, consumer.group_id, list(consumer.topics))
            }
            window = {
                tp: (start, max(start, min(end, committed.get(tp) or 0)))
                for tp, (start, end) in window.items()
            }
        plans.append(GroupPlan(consumer, window))
    return plans


async def _apply(bootstrap: str, plan: GroupPlan, progress: Callable[[int], None]) -> None:
    todo = {tp: bounds for tp, bounds in plan.window.items() if bounds[0] < bounds[1]}
    if todo:
        reader = AIOKafkaConsumer(
            **client_options(bootstrap),
            enable_auto_commit=False,
            max_poll_records=plan.consumer.batch_max_records,
        )
        await reader.start()
        try:
            reader.assign(list(todo))
            for tp, (start, _) in todo.items():
                reader.seek(tp, start)
            while todo:
                fetched = await reader.getmany(*todo, timeout_ms=1000)
                batch = []
                for tp, records in fetched.items():
                    batch += [r for r in records if r.offset < todo[tp][1]]
                for tp in list(todo):
                    if await reader.position(tp) >= todo[tp][1]:
                        del todo[tp]
                        reader.pause(tp)
                if batch:
                    await plan.consumer.handle_batch(batch)
                    progress(len(batch))
        finally:
            await reader.stop()
    stops = {tp: stop for tp, (_, stop) in plan.window.items()}
    if stops:
        await commit_group_offsets(bootstrap, plan.consumer.group_id, stops)


async def replay(runtime: Runtime, plans: list[GroupPlan], progress: Callable[[int], None]) -> None:
    """Clear and rewind (the replay mode's own steps), then apply every group's planned records."""
    await rebuild_read_models(runtime)
    bootstrap = runtime.settings.kafka_bootstrap_servers
    await asyncio.gather(*(_apply(bootstrap, plan, progress) for plan in plans))
