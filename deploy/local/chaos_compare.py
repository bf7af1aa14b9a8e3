"""A faulty run against its clean twin (same seed): files, services' state, events (issue 11 item 2).

Three comparisons, each a list of ``Difference`` (the run is sound when all are empty):

- **files**: every output file, after the normalisation of deploy/local/normalise.py;
- **state**: per service, every read model of its digest (``certibus digest``: the same tables and
  ignored columns) row by row. Two runs draw their own random ids (uuid4 session and candidate ids,
  uuid7 event ids), stamp their own times and hash their own invigilator passwords, so the rows are
  compared with every UUID, every timestamp (a date *and* a time) and every password hash masked:
  what is left (INEs, names, dates, scores, statuses, counts of rows) must be equal. A table a
  timed job fills (``TIMED_TABLES``) is left out, as its events are. Within one run, live and replayed digests are compared unmasked by
  tests/e2e/test_deterministic_runs.py;
- **events**: on every topic, the distinct event ids per event type (duplicates on the wire are
  allowed: a relay that publishes a batch again after a crash), as many as in the clean run, and
  every event an outbox raised is on its topic (nothing lost). Types whose count follows a timed
  job rather than the seed (``TIMED_EVENTS``) are checked for loss only.

Facts are read from the run's own broker and the admin connection once the run has settled.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import asyncpg
from rich.table import Table

from deploy.local.chaos import Injected
from deploy.local.normalise import Difference, compare_outputs
from shared.cli.digest import row_line
from shared.cli.services import definition
from shared.cli.store import table_columns, table_rows
from shared.contracts.topics import EVENT_TOPICS, SERVICES
from shared.kafka_admin import read_topic
from shared.service import WHOLE_TABLE

#: events whose number depends on when a timed job runs, not on the seed: export announces each
#: version of a school's files (how many versions a run goes through depends on when its rebuilds
#: run), eligibility's one-month check raises a remediation request when its tick finds one due
TIMED_EVENTS = (
    "certibus.export.livret_export_produced.v1",
    "certibus.export.class_results_exported.v1",
    "certibus.eligibility.remediation_requested.v1",
)
#: read models a timed job fills when its tick finds something due (eligibility's one-month check
#: of the remediation list): a longer run sees more ticks; compared through their events' loss only
TIMED_TABLES = {"eligibility": ("remediation_items",)}
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)?")
#: what each run draws for itself: the invigilator password's hash (its salt and digest)
SECRET_HASH = re.compile(r"hmac_sha256\$[A-Za-z0-9_\-$]+")
#: the services' log line for a redelivered event an inbox already held (shared/consumer.py)
DUPLICATE_LINE = "duplicate event ignored"


@dataclass
class RunFacts:
    """What a run left: its output folder, its masked state, its events."""

    root: Path
    #: service → table → its rows as canonical lines, ids and times masked, sorted
    state: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    #: topic → event type → distinct event ids
    events: dict[str, Counter[str]] = field(default_factory=dict)
    #: topic → records on the wire (duplicates included)
    records: dict[str, int] = field(default_factory=dict)
    #: topic → events some outbox raised that are not on the topic
    lost: dict[str, int] = field(default_factory=dict)

    @property
    def duplicates_on_the_wire(self) -> int:
        return sum(self.records.values()) - sum(sum(c.values()) for c in self.events.values())


def masked(line: str) -> str:
    """A row's canonical line without what each run draws or stamps for itself."""
    return SECRET_HASH.sub("<secret>", TIMESTAMP.sub("<time>", UUID.sub("<id>", line)))


async def _state(conn: asyncpg.Connection, schema_of: dict[str, str]) -> dict[str, dict[str, list[str]]]:
    state: dict[str, dict[str, list[str]]] = {}
    for service in SERVICES:
        service_definition, schema = definition(service), schema_of[service]
        tables = state.setdefault(service, {})
        for table in service_definition.read_model_tables:
            ignored = service_definition.digest_ignores.get(table, ())
            if ignored == WHOLE_TABLE or table in TIMED_TABLES.get(service, ()):
                continue
            columns = [c for c in await table_columns(conn, schema, table) if c not in ignored]
            rows = await table_rows(conn, schema, table, columns)
            tables[table] = sorted(masked(row_line(r)) for r in rows)
    return state


async def _raised(conn: asyncpg.Connection, schema_of: dict[str, str]) -> dict[str, set[str]]:
    """topic → the ids of the events the services' outboxes hold."""
    raised: dict[str, set[str]] = {}
    for service in SERVICES:
        for r in await conn.fetch(f'SELECT topic, event_id FROM "{schema_of[service]}".outbox'):
            raised.setdefault(r["topic"], set()).add(str(r["event_id"]))
    return raised


async def collect_facts(root: Path, kafka: str, admin_url: str, namespace: str | None) -> RunFacts:
    """The facts of a finished run (its stack may be stopped; its broker and database are up)."""
    schema_of = {s: f"{namespace}_{s}" if namespace else s for s in SERVICES}
    facts = RunFacts(root)
    conn = await asyncpg.connect(admin_url)
    try:
        facts.state = await _state(conn, schema_of)
        raised = await _raised(conn, schema_of)
    finally:
        await conn.close()
    for topic in EVENT_TOPICS:
        records = await read_topic(kafka, topic)
        ids: dict[str, str] = {}
        for record in records:
            headers = {k: v.decode() for k, v in record.headers}
            ids[headers["ce_id"]] = headers["ce_type"]
        facts.records[topic] = len(records)
        facts.events[topic] = Counter(ids.values())
        facts.lost[topic] = len(raised.get(topic, set()) - ids.keys())
    return facts


def collect(root: Path, kafka: str, admin_url: str, namespace: str | None) -> RunFacts:
    return asyncio.run(collect_facts(root, kafka, admin_url, namespace))


def state_differences(clean: RunFacts, faulty: RunFacts) -> list[Difference]:
    found = []
    for service in SERVICES:
        for table, rows in clean.state[service].items():
            other = faulty.state[service].get(table, [])
            if rows != other:
                missing, extra = Counter(rows) - Counter(other), Counter(other) - Counter(rows)
                detail = f"{len(rows)} rows vs {len(other)}: {sum(missing.values())} missing, {sum(extra.values())} extra"
                examples = [f"clean {next(iter(missing))[:400]}"] if missing else []
                examples += [f"faulty {next(iter(extra))[:400]}"] if extra else []
                found.append(
                    Difference(
                        f"state {service}.{table}", "content", f"{detail}; e.g. {' / '.join(examples)}"
                    )
                )
    return found


def event_differences(clean: RunFacts, faulty: RunFacts) -> list[Difference]:
    found = [
        Difference(f"topic {topic}", "lost", f"{lost} event(s) raised and never published")
        for topic, lost in faulty.lost.items()
        if lost
    ]
    for topic in EVENT_TOPICS:
        for event_type in sorted(set(clean.events[topic]) | set(faulty.events[topic])):
            if event_type in TIMED_EVENTS:
                continue
            a, b = clean.events[topic][event_type], faulty.events[topic][event_type]
            if a != b:
                found.append(
                    Difference(f"topic {topic}", "content", f"{event_type}: {a} distinct ids vs {b}")
                )
    return found


def compare_runs(clean: RunFacts, faulty: RunFacts) -> list[Difference]:
    """Every difference between the clean run and the faulty one: files, state, events."""
    return (
        compare_outputs(clean.root, faulty.root)
        + state_differences(clean, faulty)
        + event_differences(clean, faulty)
    )


def log_timestamps(log_dir: Path, event: str) -> list[float]:
    """When (epoch seconds) the services logged ``event``, from their JSON log lines."""
    stamps = []
    for log in sorted(log_dir.glob("*.log")):
        with log.open(encoding="utf-8", errors="replace") as lines:
            for line in lines:
                if event not in line:
                    continue
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                if entry.get("event") == event and "timestamp" in entry:
                    stamps.append(datetime.fromisoformat(entry["timestamp"]).timestamp())
    return stamps


def attribute_duplicates(injected: list[Injected], log_dir: Path) -> int:
    """Count the duplicates the inboxes dropped, each given to the last fault before it; the total."""
    stamps = sorted(log_timestamps(log_dir, DUPLICATE_LINE))
    for index, fault in enumerate(injected):
        until = injected[index + 1].wall_at if index + 1 < len(injected) else float("inf")
        fault.duplicates_dropped = sum(1 for s in stamps if fault.wall_at <= s < until)
    return len(stamps)


def settled_facts(root: Path, kafka: str, admin_url: str, namespace: str | None, tries: int = 30) -> RunFacts:
    """The facts once two reads a few seconds apart agree (the consumers have caught up)."""
    last = collect(root, kafka, admin_url, namespace)
    for _ in range(tries):
        time.sleep(3)
        now = collect(root, kafka, admin_url, namespace)
        if (now.state, now.events, now.records) == (last.state, last.events, last.records):
            return now
        last = now
    return last


def chaos_table(injected: list[Injected], faulty: RunFacts, differences: list[Difference]) -> Table:
    """The faults injected, the recovery after each, redeliveries and duplicates, differences found."""
    table = Table(title="faults injected into the run, compared with its clean twin")
    for column in (
        "#",
        "fault",
        "target",
        "phase",
        "at (s)",
        "recovered after (s)",
        "duplicates dropped",
        "detail",
    ):
        table.add_column(
            column,
            justify="right"
            if column in ("#", "at (s)", "recovered after (s)", "duplicates dropped")
            else "left",
        )
    for index, fault in enumerate(injected, 1):
        recovered = "—" if fault.recovered_after is None else f"{fault.recovered_after:.1f}"
        table.add_row(
            str(index),
            fault.kind,
            fault.target,
            fault.phase,
            f"{fault.at:.1f}",
            recovered,
            str(fault.duplicates_dropped),
            fault.detail,
        )
    table.add_section()
    dropped = sum(f.duplicates_dropped for f in injected)
    table.add_row(
        "", "records redelivered", "", "", "", "", str(dropped), "consumed again and dropped by an inbox"
    )
    table.add_row(
        "",
        "duplicates on the wire",
        "",
        "",
        "",
        "",
        str(faulty.duplicates_on_the_wire),
        "records of an event id already on its topic",
    )
    table.add_row(
        "", "differences found", "", "", "", "", str(len(differences)), "files, state, events (must be 0)"
    )
    return table
