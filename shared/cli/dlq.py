"""``certibus dlq list|show|redrive``: the dead letters of one service (``--service``) or of all.

A dead letter keeps its original key, value and CloudEvents headers plus ``dlq_*`` headers (origin,
consumer, attempts, error). ``redrive`` republishes it to its original topic with its original
envelope: consumers that already applied the event drop it (inbox), the one that failed retries it.
Fix the cause first.
"""

from __future__ import annotations

import json

import click
from aiokafka import AIOKafkaProducer, ConsumerRecord

from shared.cli.output import OK, PROBLEM, emit_json, exits, json_option, run, service_choice, settings, table
from shared.contracts.topics import SERVICES, dead_letter_topic
from shared.kafka_admin import read_topic
from shared.kafka_security import client_options

DLQ_PREFIX = "dlq_"


def headers(record: ConsumerRecord) -> dict[str, str]:
    return {k: v.decode(errors="replace") for k, v in record.headers or []}


def describe(service: str, record: ConsumerRecord, full: bool = False) -> dict:
    """A dead letter as operators read it; ``full`` adds the whole error, the headers and the payload."""
    h = headers(record)
    entry = {
        "service": service,
        "event_id": h.get("ce_id"),
        "type": h.get("ce_type"),
        "subject": h.get("ce_subject"),
        "origin": f"{h.get('dlq_original_topic')}[{h.get('dlq_original_partition')}]@{h.get('dlq_original_offset')}",
        "consumer": h.get("dlq_consumer"),
        "attempts": None if h.get("dlq_attempts") is None else int(h["dlq_attempts"]),
        "error": h.get("dlq_error", "") if full else h.get("dlq_error", "")[:300],
        "dlq_offset": f"{record.topic}[{record.partition}]@{record.offset}",
    }
    if full:
        entry["headers"] = h
        try:
            entry["payload"] = json.loads(record.value) if record.value is not None else None
        except ValueError:
            entry["payload"] = (record.value or b"").decode(errors="replace")
    return entry


async def dead_letters(bootstrap: str, services: list[str]) -> list[tuple[str, ConsumerRecord]]:
    found = []
    for service in services:
        found += [(service, r) for r in await read_topic(bootstrap, dead_letter_topic(service))]
    return found


def _services(service: str | None) -> list[str]:
    return [service] if service else list(SERVICES)


@click.group()
def dlq() -> None:
    """List, show or redrive dead letters."""


service_option = click.option("--service", type=service_choice, help="one consuming service; default: all")


@dlq.command(name="list")
@service_option
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True, help="latest N shown")
@click.option("--fail-if-any", is_flag=True, help="exit 1 when there is at least one dead letter")
@json_option
@exits
def list_(service: str | None, limit: int, fail_if_any: bool, as_json: bool) -> int:
    """The dead letters, latest last: event, origin, consumer, attempts, error."""
    found = run(dead_letters(settings().kafka_bootstrap_servers, _services(service)))
    shown = [describe(s, r) for s, r in found[-limit:]]
    if as_json:
        emit_json({"count": len(found), "dead_letters": shown})
    else:
        table(
            f"{len(found)} dead letter(s)",
            ["service", "event_id", "type", "origin", "consumer", "attempts", "error"],
            [
                [
                    d["service"],
                    d["event_id"],
                    d["type"],
                    d["origin"],
                    d["consumer"],
                    d["attempts"],
                    d["error"],
                ]
                for d in shown
            ],
        )
    return PROBLEM if fail_if_any and found else OK


@dlq.command()
@service_option
@click.option("--event-id", required=True, help="the dead letter's event id (ce_id)")
@json_option
@exits
def show(service: str | None, event_id: str, as_json: bool) -> int:
    """One dead letter in full: headers, whole error and payload (exit 1 if there is none)."""
    found = run(dead_letters(settings().kafka_bootstrap_servers, _services(service)))
    matching = [describe(s, r, full=True) for s, r in found if headers(r).get("ce_id") == event_id]
    if as_json:
        emit_json({"dead_letters": matching})
    elif matching:
        for entry in matching:
            table(
                f"dead letter {event_id}",
                ["field", "value"],
                [
                    [k, json.dumps(v, ensure_ascii=False) if isinstance(v, dict | list) else v]
                    for k, v in entry.items()
                ],
            )
    else:
        click.echo(f"no dead letter with event id {event_id}", err=True)
    return OK if matching else PROBLEM


async def redrive_records(bootstrap: str, found: list[tuple[str, ConsumerRecord]]) -> int:
    """Republish each record to its original topic with its original key, value and headers."""
    producer = AIOKafkaProducer(**client_options(bootstrap), enable_idempotence=True, acks="all")
    await producer.start()
    try:
        for _, record in found:
            h = headers(record)
            original = [(k, v.encode()) for k, v in h.items() if not k.startswith(DLQ_PREFIX)]
            await producer.send_and_wait(
                h["dlq_original_topic"], record.value, key=record.key, headers=original
            )
    finally:
        await producer.stop()
    return len(found)


@dlq.command()
@service_option
@click.option("--event-id", help="only this event; default: every dead letter of the service(s)")
@json_option
@exits
def redrive(service: str | None, event_id: str | None, as_json: bool) -> int:
    """Republish dead letters to their original topic, with their original envelope."""
    bootstrap = settings().kafka_bootstrap_servers

    async def go() -> tuple[int, list[str]]:
        found = await dead_letters(bootstrap, _services(service))
        chosen = [(s, r) for s, r in found if event_id is None or headers(r).get("ce_id") == event_id]
        return await redrive_records(bootstrap, chosen), [headers(r).get("ce_id", "") for _, r in chosen]

    sent, ids = run(go())
    if as_json:
        emit_json({"redriven": sent, "event_ids": ids})
    else:
        click.echo(f"redriven: {sent}")
    return OK if sent or event_id is None else PROBLEM
