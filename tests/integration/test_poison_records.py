"""Poison records, for every consumer of every service (issue 11 item 5), on real Kafka and Postgres.

Each service runs whole (its consumers as its definition wires them, batch handlers included) and
each of its consumers is fed, on one partition and in one batch, valid records interleaved with the
five kinds of poison: bytes that are not JSON, JSON that breaks the event's schema, a ``ce_type`` no
contract knows, a record missing a required CloudEvents header, and a valid event whose transaction
fails every time (a rule of the service's database refuses it at commit, after its handler ran).
Each poison record reaches ``certibus.<service>.dlq`` with headers naming its topic, partition,
offset, consumer and error; every valid record around it is applied, once; then the rule is lifted
and ``certibus dlq redrive`` brings the failing event back, and it is applied.

The records are written to a broker of the module's own: on the shared one every later test's fresh
consumer groups would read them from the start of the topics and dead-letter them again.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import pytest
from aiokafka import AIOKafkaProducer

from services.eligibility.app import definition as eligibility
from services.export.app import definition as export
from services.finalisation.app import definition as finalisation
from services.scheduler.app import definition as scheduler
from shared.consumer import EventConsumer
from shared.contracts.envelope import Envelope
from shared.contracts.events import (
    EVENT_TYPES,
    CertifiabilityAssessed,
    Event,
    LearnerErasureRequested,
    LearnerRegistered,
    LivretExportProduced,
    ResultsProcessed,
    SessionCreated,
    SessionStarted,
)
from shared.contracts.topics import all_topics, dead_letter_topic
from shared.kafka_admin import ensure_topics, group_lag, read_topic
from shared.service import ServiceDefinition
from tests import events
from tests.private_infra import PrivateInfra
from tests.support import REPO, wait_for

pytestmark = pytest.mark.integration

SERVICES = {d.name: d for d in (scheduler, eligibility, finalisation, export)}
ATTEMPTS = 2
UNKNOWN_TYPE = "certibus.scheduler.no_such_event.v1"


@pytest.fixture(scope="module")
def private_kafka(tmp_path_factory) -> Iterator[str]:
    with PrivateInfra(tmp_path_factory.mktemp("poison-kafka"), with_postgres=False) as infra:
        yield infra.kafka_bootstrap_servers


@pytest.fixture(scope="module")
async def kafka(private_kafka) -> str:
    """Overrides tests/support.py's: ``start_service`` runs the services on the module's broker."""
    await ensure_topics(private_kafka, all_topics())
    return private_kafka


#: a valid event of a class, applicable on an empty schema: ``build(uai, n)`` (n: a fresh number)
BUILDERS: dict[type[Event], Callable[[str, int], Event]] = {
    LearnerRegistered: lambda uai, n: events.learner(uai, f"k{n}"),
    SessionCreated: lambda uai, n: events.session(uai, n),
    SessionStarted: lambda uai, n: SessionStarted(
        session_id=str(uuid.uuid4()), uai=uai, session_number=n, started_at=datetime.now(UTC)
    ),
    ResultsProcessed: lambda uai, n: events.results(events.session(uai, n)),
    # the scheduler's exports consumer (a livret of a school it has no session of: nothing to mark)
    LivretExportProduced: lambda uai, n: events.livret_produced(uai, datetime.now(UTC), n),
    # eligibility's remediations consumer (its own events): an assessment of a learner it never listed
    CertifiabilityAssessed: lambda uai, n: events.certifiability(
        events.learner(uai, f"k{n}"), datetime.now(UTC)
    ),
    # finalisation's erasures consumer handles nothing else (an unknown learner: recorded, nothing to erase)
    LearnerErasureRequested: lambda uai, n: LearnerErasureRequested(
        learner_id=str(uuid.uuid4()), uai=uai, requested_by="operator", requested_at=datetime.now(UTC)
    ),
}


def valid_events(consumer: EventConsumer, count: int) -> list[Event]:
    """``count`` valid events of the types the consumer handles (in turn), for one fresh school."""
    handled = [EVENT_TYPES[t] for t in sorted(consumer.handlers)]
    buildable = [cls for cls in handled if cls in BUILDERS]
    assert buildable, f"{consumer.group_id}: add a builder for one of {[c.__name__ for c in handled]}"
    uai = events.new_uai()
    return [BUILDERS[buildable[n % len(buildable)]](uai, n) for n in range(count)]


@dataclass
class Written:
    """One record the test wrote: what it is, where it landed, and what the consumer must do with it."""

    kind: str
    offset: int
    partition: int
    event_id: str | None
    value: bytes
    #: a fragment the dead letter's ``dlq_error`` holds; None for a record that must be applied
    error: str | None


def headers_of(envelope: Envelope) -> list[tuple[str, bytes]]:
    return [(k, v.encode()) for k, v in envelope.to_headers().items()]


def envelope_of(event: Event, event_type: str | None = None) -> Envelope:
    return Envelope.new(
        source=f"/certibus/{event.source_service}",
        type=event_type or event.event_type,
        subject=event.subject(),
    )


def poisons(
    template: Event, failing: Event, failing_envelope: Envelope
) -> list[tuple[str, bytes, list, str]]:
    """(kind, value, headers, what its ``dlq_error`` says) of each kind of poison record."""
    value = template.model_dump_json().encode()
    without_id = [(k, v) for k, v in headers_of(envelope_of(template)) if k != "ce_id"]
    return [
        ("not-json", b"\xff\xfe not json {", headers_of(envelope_of(template)), "payload: "),
        ("schema", b'{"unexpected": 12}', headers_of(envelope_of(template)), "payload: "),
        (
            "unknown-type",
            value,
            headers_of(envelope_of(template, UNKNOWN_TYPE)),
            f"envelope: unknown event type '{UNKNOWN_TYPE}'",
        ),
        ("missing-header", value, without_id, "envelope: missing CloudEvents header(s): ce_id"),
        (
            "fails-always",
            failing.model_dump_json().encode(),
            headers_of(failing_envelope),
            "refused by the test's rule",
        ),
    ]


@dataclass
class Planned:
    kind: str
    value: bytes
    headers: list[tuple[str, bytes]]
    error: str | None


def plan_for(consumer: EventConsumer) -> tuple[list[Planned], str]:
    """A valid record, then each kind of poison followed by a valid record; and the id of the event
    whose transaction is to fail every time."""
    *valid, failing = valid_events(consumer, 7)
    failing_envelope = envelope_of(failing)
    kinds = poisons(valid[0], failing, failing_envelope)
    plan: list[Planned] = []
    for i, event in enumerate(valid):
        if i:
            plan.append(Planned(*kinds[i - 1]))
        plan.append(Planned("valid", event.model_dump_json().encode(), headers_of(envelope_of(event)), None))
    return plan, failing_envelope.id


async def send(kafka: str, topic: str, key: bytes, plan: list[Planned]) -> list[Written]:
    """Write the records in order with one key (one partition)."""
    written = []
    producer = AIOKafkaProducer(bootstrap_servers=kafka, enable_idempotence=True)
    await producer.start()
    try:
        for p in plan:
            meta = await producer.send_and_wait(topic, value=p.value, key=key, headers=p.headers)
            event_id = dict(p.headers).get("ce_id")
            written.append(
                Written(p.kind, meta.offset, meta.partition, event_id and event_id.decode(), p.value, p.error)
            )
    finally:
        await producer.stop()
    return written


async def refuse_at_commit(pool, event_id: str) -> None:
    """A rule of the service's own database that refuses one event's transaction, every time, at
    commit (after the handler ran): a deferred constraint trigger on its inbox row."""
    tag = event_id.replace("-", "")
    await pool.execute(
        f"""
        CREATE FUNCTION refuse_{tag}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'event % refused by the test''s rule', NEW.event_id; END $$;
        CREATE CONSTRAINT TRIGGER refuse_{tag} AFTER INSERT ON inbox DEFERRABLE INITIALLY DEFERRED
            FOR EACH ROW WHEN (NEW.event_id = '{event_id}') EXECUTE FUNCTION refuse_{tag}();
        """
    )


async def lift_rule(pool, event_id: str) -> None:
    tag = event_id.replace("-", "")
    await pool.execute(f"DROP TRIGGER refuse_{tag} ON inbox; DROP FUNCTION refuse_{tag}()")


async def applied(pool, consumer: EventConsumer, event_ids: list[str]) -> set[str]:
    rows = await pool.fetch(
        "SELECT event_id::text AS id FROM inbox WHERE consumer = $1 AND event_id = ANY($2::uuid[])",
        consumer.inbox_consumer,
        event_ids,
    )
    return {r["id"] for r in rows}


async def caught_up(kafka: str, consumer: EventConsumer) -> bool:
    lags = await group_lag(kafka, consumer.group_id, list(consumer.topics))
    return (
        bool(lags)
        and all(p.lag == 0 for p in lags if p.committed is not None)
        and any(p.committed is not None for p in lags)
    )


async def parked_with_key(kafka: str, service: str, key: bytes) -> list:
    return [r for r in await read_topic(kafka, dead_letter_topic(service)) if r.key == key]


def redrive(kafka: str, service: str, event_id: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "shared.cli", "dlq", "redrive", "--service", service, "--event-id", event_id],
        cwd=REPO,
        env={**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@dataclass
class Fed:
    """One consumer and what the test wrote for it."""

    consumer: EventConsumer
    key: bytes
    written: list[Written]
    failing_id: str

    @property
    def group(self) -> str:
        return self.consumer.group_id


async def assert_parked_alone(kafka: str, svc, service: str, fed: Fed) -> None:
    """Every valid record applied, every poison record parked with its headers, nothing else."""
    consumer, group = fed.consumer, fed.group
    valid_ids = [w.event_id for w in fed.written if w.error is None]
    await wait_for(lambda: _all_applied(svc.pool, consumer, valid_ids), 60, f"{group}: the valid records")
    await wait_for(lambda: _parked(kafka, service, fed.key, 5), 60, f"{group}: five dead letters")
    await wait_for(lambda: caught_up(kafka, consumer), 30, f"{group}: offsets committed past the poison")
    parked = {
        int(dict(r.headers)["dlq_original_offset"].decode()): r
        for r in await parked_with_key(kafka, service, fed.key)
    }
    poison = {w.offset: w for w in fed.written if w.error is not None}
    assert sorted(parked) == sorted(poison), f"{group}: only the poison records are parked"
    for offset, record in parked.items():
        w, h = poison[offset], {k: v.decode(errors="replace") for k, v in record.headers}
        where = (group, w.kind)
        assert h["dlq_original_topic"] == consumer.topics[0], where
        assert h["dlq_original_partition"] == str(w.partition), where
        assert h["dlq_consumer"] == consumer.group_id, where
        assert w.error in h["dlq_error"], (*where, h["dlq_error"])
        assert h["dlq_attempts"] == (str(ATTEMPTS) if w.kind == "fails-always" else "0"), where
        assert record.value == w.value and record.key == fed.key, where
    assert not await applied(svc.pool, consumer, [fed.failing_id]), f"{group}: the failing event applied"


async def assert_redriven(kafka: str, svc, service: str, fed: Fed) -> None:
    """The cause fixed (the rule lifted), ``dlq redrive`` brings the failing event back: applied."""
    await lift_rule(svc.pool, fed.failing_id)
    assert "redriven: 1" in redrive(kafka, service, fed.failing_id)
    await wait_for(
        lambda: _all_applied(svc.pool, fed.consumer, [fed.failing_id]), 60, f"{fed.group}: the redriven event"
    )
    await asyncio.sleep(0.5)
    assert len(await parked_with_key(kafka, service, fed.key)) == 5, f"{fed.group}: parked again"


@pytest.mark.parametrize("service", sorted(SERVICES))
async def test_every_poison_record_of_every_consumer_is_parked_alone_and_the_fixed_one_redriven(
    service, kafka, start_service, tmp_path
):
    definition: ServiceDefinition = replace(SERVICES[service], jobs=[])
    settings = {"retry_max_attempts": ATTEMPTS, "retry_backoff_ms": 10}
    if service == "export":
        settings["export_output_dir"] = str(tmp_path)
    svc = await start_service(definition, **settings)
    assert svc.runtime.consumers, f"{service} wires no consumer"
    planned = [(c.name, *plan_for(c)) for c in svc.runtime.consumers]  # as its definition wires them
    for _, _, failing_id in planned:
        await refuse_at_commit(svc.pool, failing_id)
    topics = {c.name: c.topics[0] for c in svc.runtime.consumers}
    await svc.stop()  # the records wait for the next start, which takes them in one batch
    fed = []
    for name, plan, failing_id in planned:
        key = f"poison-{name}-{uuid.uuid4().hex[:8]}".encode()
        fed.append((name, key, await send(kafka, topics[name], key, plan), failing_id))
    svc = await start_service(definition, schema=svc.schema, **settings)
    consumers = {c.name: c for c in svc.runtime.consumers}
    fed = [Fed(consumers[name], key, written, failing_id) for name, key, written, failing_id in fed]
    for one in fed:
        await assert_parked_alone(kafka, svc, service, one)
    for one in fed:
        await assert_redriven(kafka, svc, service, one)


async def _all_applied(pool, consumer: EventConsumer, event_ids: list[str]) -> bool:
    return await applied(pool, consumer, event_ids) == set(event_ids)


async def _parked(kafka: str, service: str, key: bytes, n: int) -> bool:
    return len(await parked_with_key(kafka, service, key)) >= n
