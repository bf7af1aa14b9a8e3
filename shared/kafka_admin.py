"""Topic creation, consumer-group offsets and lag: the Kafka admin work services and operators need.

The services call it at start-up (topics) and in replay mode (rewinds); the operators' command
(``certibus``, shared/cli/) calls it for everything it shows or moves.
"""

from __future__ import annotations

from dataclasses import dataclass

import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from aiokafka.structs import OffsetAndMetadata

from shared.contracts.topics import TopicSpec
from shared.kafka_security import client_options

log = structlog.get_logger(__name__)


async def ensure_topics(bootstrap_servers: str, specs: list[TopicSpec]) -> list[str]:
    """Create the topics that do not exist yet (with their partitions and config); return those created.

    Existing topics are left alone: changing partitions or retention is an operator's decision.
    """
    admin = AIOKafkaAdminClient(**client_options(bootstrap_servers), client_id="certibus-topics")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [s for s in specs if s.name not in existing]
        created = []
        for spec in missing:
            try:
                await admin.create_topics(
                    [
                        NewTopic(
                            name=spec.name,
                            num_partitions=spec.partitions,
                            replication_factor=spec.replication_factor,
                            topic_configs=spec.config(),
                        )
                    ]
                )
                created.append(spec.name)
            except TopicAlreadyExistsError:
                pass  # another service created it meanwhile
        if created:
            log.info("topics created", topics=created)
        return created
    finally:
        await admin.close()


async def describe_topic_configs(bootstrap_servers: str, topic: str) -> dict[str, str]:
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

    admin = AIOKafkaAdminClient(**client_options(bootstrap_servers))
    await admin.start()
    try:
        [response] = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
        resource = response.resources[0]
        return {entry[0]: entry[1] for entry in resource[4]}
    finally:
        await admin.close()


async def topic_partitions(bootstrap_servers: str, topics: list[str]) -> list[TopicPartition]:
    """Every partition of ``topics``, from the broker's metadata (a fresh consumer does not know them)."""
    admin = AIOKafkaAdminClient(**client_options(bootstrap_servers))
    await admin.start()
    try:
        described = await admin.describe_topics(topics)
    finally:
        await admin.close()
    return sorted(
        TopicPartition(t["topic"], p["partition"])
        for t in described
        if t["error_code"] == 0
        for p in t["partitions"]
    )


async def end_offsets(bootstrap_servers: str, topics: list[str]) -> dict[TopicPartition, int]:
    """The end offset of every partition of ``topics`` (how many records were ever written there)."""
    partitions = await topic_partitions(bootstrap_servers, topics)
    if not partitions:  # (a consumer stopped right after its start raises CancelledError: aiokafka)
        return {}
    consumer = AIOKafkaConsumer(**client_options(bootstrap_servers), enable_auto_commit=False)
    await consumer.start()
    try:
        return await consumer.end_offsets(partitions)
    finally:
        await consumer.stop()


async def describe_topics(bootstrap_servers: str, topics: list[str]) -> dict[str, dict]:
    """Per existing topic: its partition count, replication factor and configuration (retention…)."""
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

    admin = AIOKafkaAdminClient(**client_options(bootstrap_servers))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [t for t in topics if t in existing]
        if not wanted:
            return {}
        described = await admin.describe_topics(wanted)
        configs = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, t) for t in wanted])
    finally:
        await admin.close()
    found: dict[str, dict] = {}
    for t in described:
        if t["error_code"] == 0:
            partitions = t["partitions"]
            replicas = min((len(p["replicas"]) for p in partitions), default=0)
            found[t["topic"]] = {"partitions": len(partitions), "replication_factor": replicas}
    for response in configs:
        for resource in response.resources:
            name, entries = resource[3], resource[4]
            if name in found:
                found[name]["config"] = {entry[0]: entry[1] for entry in entries}
    return found


async def list_groups(bootstrap_servers: str, prefix: str) -> list[str]:
    """The consumer groups whose id starts with ``prefix`` (``certibus.export.``), sorted."""
    admin = AIOKafkaAdminClient(**client_options(bootstrap_servers))
    await admin.start()
    try:
        groups = sorted(g[0] for g in await admin.list_consumer_groups())
    finally:
        await admin.close()
    return [g for g in groups if g.startswith(prefix)]


async def groups_with_members(bootstrap_servers: str, groups: list[str]) -> list[str]:
    """Those of ``groups`` that have live members (a running consumer): they must not be rewound."""
    if not groups:
        return []
    admin = AIOKafkaAdminClient(**client_options(bootstrap_servers))
    await admin.start()
    try:
        # one group a request: aiokafka 0.14 sends DescribeGroups v3 but reads the answer as v2, which
        # only holds for the first group of the answer (the field v3 adds per group ends it)
        described = [r for g in groups for r in await admin.describe_consumer_groups([g])]
    finally:
        await admin.close()
    active = []
    for response in described:
        for group in response.groups:
            # (error_code, group_id, state, protocol_type, protocol, members, …)
            if group[5]:
                active.append(group[1])
    return sorted(active)


async def read_topic(bootstrap_servers: str, topic: str) -> list[ConsumerRecord]:
    """Every record of a topic, from the beginning to the current end."""
    partitions = await topic_partitions(bootstrap_servers, [topic])
    if not partitions:
        return []
    consumer = AIOKafkaConsumer(**client_options(bootstrap_servers), enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        records: list[ConsumerRecord] = []
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            for batch in (await consumer.getmany(timeout_ms=1000)).values():
                records += batch
        return records
    finally:
        await consumer.stop()


@dataclass(frozen=True, slots=True)
class PartitionLag:
    topic: str
    partition: int
    committed: int | None
    end: int

    @property
    def lag(self) -> int:
        return self.end - (self.committed or 0)


async def group_lag(bootstrap_servers: str, group_id: str, topics: list[str]) -> list[PartitionLag]:
    """Committed offset, end offset and lag per partition for a consumer group."""
    partitions = await topic_partitions(bootstrap_servers, topics)
    if not partitions:
        return []
    consumer = AIOKafkaConsumer(
        **client_options(bootstrap_servers), group_id=group_id, enable_auto_commit=False
    )
    await consumer.start()
    try:
        ends = await consumer.end_offsets(partitions)
        rows = []
        for tp in partitions:
            committed = await consumer.committed(tp)
            rows.append(PartitionLag(tp.topic, tp.partition, committed, ends[tp]))
        return rows
    finally:
        await consumer.stop()


async def reset_group_offsets(
    bootstrap_servers: str, group_id: str, topics: list[str], since_ms: int | None = None
) -> dict[TopicPartition, int]:
    """Move a (stopped) group's committed offsets to the beginning, or to the first record at ``since_ms``."""
    partitions = await topic_partitions(bootstrap_servers, topics)
    if not partitions:
        return {}
    consumer = AIOKafkaConsumer(
        **client_options(bootstrap_servers), group_id=group_id, enable_auto_commit=False
    )
    await consumer.start()
    try:
        consumer.assign(partitions)
        targets = await _start_offsets(consumer, partitions, since_ms)
        await consumer.commit({tp: OffsetAndMetadata(offset, "") for tp, offset in targets.items()})
        return targets
    finally:
        await consumer.stop()


async def commit_group_offsets(
    bootstrap_servers: str, group_id: str, offsets: dict[TopicPartition, int]
) -> None:
    """Set a (stopped) group's committed offsets: where it resumes at its next start."""
    consumer = AIOKafkaConsumer(
        **client_options(bootstrap_servers), group_id=group_id, enable_auto_commit=False
    )
    await consumer.start()
    try:
        consumer.assign(list(offsets))
        await consumer.commit({tp: OffsetAndMetadata(offset, "") for tp, offset in offsets.items()})
    finally:
        await consumer.stop()


async def _start_offsets(
    consumer: AIOKafkaConsumer, partitions: list[TopicPartition], since_ms: int | None
) -> dict[TopicPartition, int]:
    """Where a rewind starts: the beginning, or the first record at or after ``since_ms`` (the end if none)."""
    if since_ms is None:
        return await consumer.beginning_offsets(partitions)
    found = await consumer.offsets_for_times({tp: since_ms for tp in partitions})
    ends = await consumer.end_offsets(partitions)
    return {tp: (found[tp].offset if found[tp] is not None else ends[tp]) for tp in partitions}


async def replay_window(
    bootstrap_servers: str, topics: list[str], since_ms: int | None = None
) -> dict[TopicPartition, tuple[int, int]]:
    """Per partition of ``topics``: (where a rewind to ``since_ms`` starts, the current end offset)."""
    partitions = await topic_partitions(bootstrap_servers, topics)
    if not partitions:
        return {}
    consumer = AIOKafkaConsumer(**client_options(bootstrap_servers), enable_auto_commit=False)
    await consumer.start()
    try:
        starts = await _start_offsets(consumer, partitions, since_ms)
        ends = await consumer.end_offsets(partitions)
        return {tp: (starts[tp], ends[tp]) for tp in partitions}
    finally:
        await consumer.stop()
