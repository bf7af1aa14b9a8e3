"""Topics as code: every topic certibus owns, with partitions, retention and cleanup policy.

Topics are created at service start-up (broker auto-creation is off), never implicitly. One topic
per publishing service; one dead-letter topic per consuming service.
"""

from __future__ import annotations

from dataclasses import dataclass

DAY_MS = 24 * 60 * 60 * 1000

SCHEDULER = "certibus.scheduler"
ELIGIBILITY = "certibus.eligibility"
FINALISATION = "certibus.finalisation"
EXPORT = "certibus.export"

#: the topics services publish on (the académie view publishes nothing: it has none)
EVENT_TOPICS = (SCHEDULER, ELIGIBILITY, FINALISATION, EXPORT)

#: every service: each has its schema and role, its consumer groups and its dead-letter topic
SERVICES = ("scheduler", "eligibility", "finalisation", "export", "academie")


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    partitions: int
    retention_ms: int
    cleanup_policy: str = "delete"
    replication_factor: int = 1

    def config(self) -> dict[str, str]:
        return {"retention.ms": str(self.retention_ms), "cleanup.policy": self.cleanup_policy}


def dead_letter_topic(service: str) -> str:
    """Where a consuming service parks messages it could not handle after its retries."""
    return f"certibus.{service}.dlq"


def all_topics(
    partitions: int = 6, retention_days: int = 400, replication_factor: int = 1
) -> list[TopicSpec]:
    """Event topics keep a whole school year plus margin (400 days) so a read model can be replayed;
    dead-letter topics keep 30 days, long enough for an operator to look and redrive."""
    events = [
        TopicSpec(name, partitions, retention_days * DAY_MS, replication_factor=replication_factor)
        for name in EVENT_TOPICS
    ]
    dead_letters = [
        TopicSpec(dead_letter_topic(s), 1, 30 * DAY_MS, replication_factor=replication_factor)
        for s in SERVICES
    ]
    return events + dead_letters
