"""Topic creation, consumer-group offsets and lag: the Kafka admin work services and operators need."""

from __future__ import annotations

from dataclasses import dataclass

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from aiokafka.structs import OffsetAndMetadata

from shared.contracts.topics import TopicSpec

log = structlog.get_logger(__name__)


async def ensure_topics(bootstrap_servers: str, specs: list[TopicSpec]) -> list[str]:
    """Create the topics that do not exist yet (with their partitions and config); return those created.

    Existing topics are left alone: changing partitions or retention is an operator's decision.
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="certibus-topics")
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

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        [response] = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
        resource = response.resources[0]
        return {entry[0]: entry[1] for entry in resource[4]}
    finally:
        await admin.close()


async def topic_partitions(bootstrap_servers: str, topics: list[str]) -> list[TopicPartition]:
    """Every partition of ``topics``, from the broker's metadata (a fresh consumer does not know them)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
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
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False)
    await consumer.start()
    try:
        return await consumer.end_offsets(partitions) if partitions else {}
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
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers, group_id=group_id, enable_auto_commit=False
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
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers, group_id=group_id, enable_auto_commit=False
    )
    await consumer.start()
    try:
        consumer.assign(partitions)
        targets = await consumer.beginning_offsets(partitions)
        if since_ms is not None:
            found = await consumer.offsets_for_times({tp: since_ms for tp in partitions})
            ends = await consumer.end_offsets(partitions)
            targets = {tp: (found[tp].offset if found[tp] is not None else ends[tp]) for tp in partitions}
        await consumer.commit({tp: OffsetAndMetadata(offset, "") for tp, offset in targets.items()})
        return targets
    finally:
        await consumer.stop()
