"""The scheduler's learners consumer on real Kafka and Postgres: its batch handlers build exactly the
rows the events applied one at a time build, whatever a run holds (a learner registered, updated and
deactivated in one run, a snapshot changed and changed back, repeats, late older assessments,
deactivations of unknown or inactive learners), duplicates and a redelivered batch change nothing,
and a poison event in the middle of a run is dead-lettered alone."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.partitioner import DefaultPartitioner

from services.scheduler.app import MIGRATIONS
from services.scheduler.handlers import handle_learner_events
from shared.contracts.events import LearnerDeactivated, LearnerUpdated
from shared.contracts.topics import TopicSpec
from shared.kafka_admin import ensure_topics
from tests.events import certifiability, learner, new_uai
from tests.integration.scheduler.consumer_paths import (
    as_record,
    consumer_path,
    parked_ids,
    produce_together,
)
from tests.integration.test_batch_delivery import Lane, Sent

pytestmark = pytest.mark.integration

T0 = datetime(2025, 9, 8, 8, 0, tzinfo=UTC)
ASSESSED = datetime(2025, 10, 1, 12, 0, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.fixture
async def lane(kafka) -> AsyncIterator[Lane]:
    tag = uuid.uuid4().hex[:8]
    lane = Lane(f"certibus.it.learners.{tag}", f"learners{tag}")
    await ensure_topics(
        kafka, [TopicSpec(lane.topic, 3, 3_600_000), TopicSpec(lane.dead_letters, 1, 3_600_000)]
    )
    yield lane
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka)
    await admin.start()
    await admin.delete_topics([lane.topic, lane.dead_letters])
    await admin.close()


def partition_of(record: Sent) -> int:
    """The partition of the lane's 3 the producer writes ``record`` to (Kafka's default partitioner)."""
    return DefaultPartitioner()(record.key, [0, 1, 2], [0, 1, 2])


def updated(registered, minutes: int, **changes):
    return as_record(LearnerUpdated(**(registered.model_dump() | changes)), at(minutes))


def first_run(uai: str, roster: list) -> list[Sent]:
    """A roster import and a campaign, with every case a run can hold for one learner."""
    l0, l1, l2, l3, l4, l5, l6, l7, l8 = roster[:9]
    records = [as_record(r, at(0)) for r in roster]
    twice = as_record(l8.model_copy(update={"first_name": "Inès"}), at(1))
    records += [
        as_record(l0, at(1)),  # the same snapshot again (a replay, new id): nothing changes
        as_record(l1.model_copy(update={"first_name": "Autre"}), at(1)),
        as_record(l1, at(2)),  # changed and changed back in the same run: written at 2
        as_record(l2.model_copy(update={"division": "3B"}), at(1)),
        as_record(l2.model_copy(update={"division": "3B"}), at(2)),  # a repeat keeps time 1
        twice,
        twice,  # the very same record twice in one batch: applied once
        updated(l3, 3, division="3C"),
        updated(l3, 4, division="3C", active=False),
        updated(l7, 5, last_name="Martin"),
        as_record(LearnerDeactivated(learner_id=l4.learner_id, uai=uai, division="3A", deactivated_at=at(5)), at(5)),
        as_record(LearnerDeactivated(learner_id=l4.learner_id, uai=uai, division="3A", deactivated_at=at(6)), at(6)),
        as_record(LearnerDeactivated(learner_id=l3.learner_id, uai=uai, division="3C", deactivated_at=at(6)), at(6)),
        as_record(LearnerDeactivated(learner_id=f"{uai}-nobody", uai=uai, division="3A", deactivated_at=at(6)), at(6)),
        as_record(LearnerDeactivated(learner_id=l7.learner_id, uai=uai, division="3A", deactivated_at=at(6)), at(6)),
        updated(l4, 7),  # back on the roster after a deactivation
    ]  # fmt: skip
    records += [as_record(certifiability(r, ASSESSED), at(8)) for r in roster]
    older = certifiability(l0, ASSESSED - timedelta(days=1), certifiable=False)
    tie = certifiability(l6, ASSESSED + timedelta(days=1), certifiable=False)
    records += [
        as_record(older, at(9)),  # a late older assessment: ignored
        as_record(tie, at(9)),
        as_record(tie.model_copy(update={"status": "certifiable", "certifiable_competences": 5}), at(9)),
        as_record(certifiability(learner(uai, "later"), ASSESSED), at(9)),  # before its learner
        as_record(l5.model_copy(update={"uai": uai.lower(), "first_name": "Zoé"}), at(10)),
    ]
    return records


async def test_batches_build_the_rows_events_one_at_a_time_build(admin_dsn, kafka, lane):
    uai = new_uai()
    roster = [learner(uai, f"{i:02d}") for i in range(40)]
    l0, l1, l2, l3, l4, _, l6, l7, _ = roster[:9]
    records = first_run(uai, roster)
    later = [
        as_record(l1.model_copy(update={"division": "3D"}), at(11)),
        as_record(l1, at(12)),  # changed and back to the stored row in one run: written at 12
        as_record(l0, at(12)),  # equal to the stored row: untouched
        as_record(certifiability(l0, ASSESSED - timedelta(days=2), certifiable=False), at(12)),
        as_record(learner(uai, "late"), at(12)),
    ]
    poison = as_record(learner(uai, "poison", first_name="Nul\x00"), at(13))  # Postgres refuses NUL
    candidates = (as_record(learner(uai, f"n{i:02d}"), at(13)) for i in range(100))
    neighbours = [r for r in candidates if partition_of(r) == partition_of(poison)][:10]
    around_poison = [*neighbours[:5], poison, *neighbours[5:]]  # in the middle of its partition's run

    async with (
        consumer_path(admin_dsn, kafka, lane, MIGRATIONS, handle_learner_events, batched=True) as batched,
        consumer_path(admin_dsn, kafka, lane, MIGRATIONS, handle_learner_events, batched=False) as one_by_one,
    ):
        await produce_together(kafka, lane.topic, *records)
        await asyncio.gather(batched.drained(kafka, lane.topic), one_by_one.drained(kafka, lane.topic))
        first = await batched.rows("learners", "learner_id")
        assert first == await one_by_one.rows("learners", "learner_id")
        assert max(batched.handler_calls) > 1  # the runs did reach the batch handlers whole
        for path in (batched, one_by_one):
            assert (path.consumer.processed, path.consumer.duplicates) == (len(records) - 1, 1)

        await produce_together(kafka, lane.topic, *records, *later)  # a redelivered batch, then new events
        await asyncio.gather(batched.drained(kafka, lane.topic), one_by_one.drained(kafka, lane.topic))
        for path in (batched, one_by_one):
            assert path.consumer.duplicates == 1 + len(records)
        calls_before_poison = len(batched.handler_calls)

        await produce_together(kafka, lane.topic, *around_poison)
        await asyncio.gather(batched.drained(kafka, lane.topic), one_by_one.drained(kafka, lane.topic))
        assert batched.handler_calls[calls_before_poison] == len(around_poison)  # one run, then alone
        learners = await batched.rows("learners", "learner_id")
        assert learners == await one_by_one.rows("learners", "learner_id")
        assessments = await batched.rows("learner_certifiability", "learner_id")
        assert assessments == await one_by_one.rows("learner_certifiability", "learner_id")
        for path in (batched, one_by_one):
            assert path.consumer.dead_lettered == 1

    assert await parked_ids(kafka, lane) == [poison.event_id] * 2  # the poison alone, once per path
    by_id = {row["learner_id"]: row for row in learners}
    assert len(learners) == 40 + 1 + 10  # roster, the late one, the poison's neighbours; not the poison
    assert f"{uai}-poison" not in by_id and f"{uai}-nobody" not in by_id
    assert by_id[l0.learner_id]["updated_at"] == at(0)
    assert by_id[l1.learner_id]["updated_at"] == at(12) and by_id[l1.learner_id]["division"] == "3A"
    assert (by_id[l2.learner_id]["division"], by_id[l2.learner_id]["updated_at"]) == ("3B", at(1))
    assert (by_id[l3.learner_id]["active"], by_id[l3.learner_id]["updated_at"]) == (False, at(4))
    assert (by_id[l4.learner_id]["active"], by_id[l4.learner_id]["updated_at"]) == (True, at(7))
    l7_row = by_id[l7.learner_id]
    assert (l7_row["last_name"], l7_row["active"], l7_row["updated_at"]) == ("Martin", False, at(6))
    assert by_id[roster[5].learner_id]["uai"] == uai and by_id[roster[5].learner_id]["first_name"] == "Zoé"
    status = {row["learner_id"]: (row["status"], row["certifiable_competences"]) for row in assessments}
    assert status[l0.learner_id] == ("certifiable", 6)  # the older ones arrived late: ignored
    assert status[l6.learner_id] == ("certifiable", 5)  # equal times: the last one wins
    assert status[f"{uai}-later"] == ("certifiable", 6)
    assert len(assessments) == 40 + 1
