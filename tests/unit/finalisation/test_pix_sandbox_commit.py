"""The sandbox survives a commit the broker refuses (it died of one after a 22 s broker stall).

The consumer is replaced here only to script the refusal aiokafka raises once the group has
rebalanced under a stalled member; the sandbox must log it and carry on, not crash.
"""

from __future__ import annotations

import pytest
from aiokafka import ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaConnectionError

from deploy.pix_sandbox.__main__ import commit_or_carry_on


class RefusingConsumer:
    def __init__(self, error: Exception | None) -> None:
        self.error, self.committed = error, []

    async def commit(self, offsets: dict) -> None:
        if self.error is not None:
            raise self.error
        self.committed.append(offsets)


def record(offset: int) -> ConsumerRecord:
    return ConsumerRecord("certibus.finalisation", 2, offset, 0, 0, b"k", b"{}", None, 1, 2, [])


@pytest.mark.parametrize(
    "refusal",
    [
        CommitFailedError("Commit cannot be completed since the group has already rebalanced"),
        KafkaConnectionError("broker away"),
    ],
)
async def test_a_refused_commit_is_logged_and_the_sandbox_carries_on(refusal):
    consumer = RefusingConsumer(refusal)
    await commit_or_carry_on(consumer, record(41))  # no exception: the loop goes on


async def test_an_accepted_commit_moves_past_the_record():
    consumer = RefusingConsumer(None)
    await commit_or_carry_on(consumer, record(41))
    assert consumer.committed == [{TopicPartition("certibus.finalisation", 2): 42}]


async def test_other_errors_still_stop_the_sandbox():
    with pytest.raises(RuntimeError):
        await commit_or_carry_on(RefusingConsumer(RuntimeError("a bug")), record(1))
