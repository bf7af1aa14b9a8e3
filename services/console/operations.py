"""Dead letters, consumer lag and outbox backlog of every service, read from their ``/metrics``.

Each service exposes its Prometheus series over HTTP (shared/metrics.py, docs/metrics.md); the
operator page reads them the same way Prometheus does, with prometheus-client's own parser, and
sums them per service and per consumer group. A service that does not answer is shown as such,
never as "0 dead letters".
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass, field

from prometheus_client.parser import text_string_to_metric_families

from services.console.backend import Backend, Refused, ServiceUnavailable

#: the services whose operations the page shows, in the pipeline's order
SERVICES = ("scheduler", "eligibility", "finalisation", "export", "academie")
EVENTS_HANDLED = "certibus_events_handled_total"
CONSUMER_LAG = "certibus_consumer_lag"
OUTBOX_UNPUBLISHED = "certibus_outbox_unpublished"
DEAD_LETTERED = "dead_lettered"


@dataclass(frozen=True)
class ServiceOperations:
    """One service as its ``/metrics`` shows it (``reachable`` False: it did not answer)."""

    service: str
    reachable: bool
    dead_letters: int = 0
    #: consumer group → records not handled yet (summed over its partitions)
    lag: dict[str, int] = field(default_factory=dict)
    outbox_unpublished: int = 0

    @property
    def total_lag(self) -> int:
        return sum(self.lag.values())


def read_metrics(service: str, exposition: str) -> ServiceOperations:
    """The figures of one service's Prometheus text exposition."""
    dead, unpublished = 0.0, 0.0
    lag: dict[str, float] = defaultdict(float)
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            if sample.name == EVENTS_HANDLED and sample.labels.get("outcome") == DEAD_LETTERED:
                dead += sample.value
            elif sample.name == CONSUMER_LAG:
                lag[sample.labels.get("consumer", "?")] += sample.value
            elif sample.name == OUTBOX_UNPUBLISHED:
                unpublished += sample.value
    return ServiceOperations(
        service,
        True,
        int(dead),
        {consumer: int(v) for consumer, v in sorted(lag.items())},
        int(unpublished),
    )


async def _one(api: Backend, service: str) -> ServiceOperations:
    try:
        return read_metrics(service, await api.text(service, "/metrics"))
    except (ServiceUnavailable, Refused, ValueError):
        return ServiceOperations(service, False)


async def every_service(api: Backend) -> list[ServiceOperations]:
    """Every service's figures, asked at once (one slow service does not hold the others)."""
    return list(await asyncio.gather(*(_one(api, service) for service in SERVICES)))
