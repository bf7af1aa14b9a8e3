"""``certibus digest SERVICE``: a deterministic fingerprint of the service's read models.

Per table of ``ServiceDefinition.read_model_tables``: its row count and a sha256 over its rows, each
row a canonical JSON array of its columns in name order (timestamps in UTC ISO 8601, jsonb with
sorted keys, numerics as text), the rows sorted, one per line. The service's digest is the sha256
of ``<table> <rows> <sha256>`` lines in table order. Columns (or whole tables) that legitimately
differ between a live run and a replay are left out, as the service declares in
``digest_ignores`` (why is written next to each). A replay (``certibus replay``) must end on the
digest the live state had.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg
import click

from shared.cli.output import OK, emit_json, exits, json_option, run, service_choice, settings, table
from shared.cli.services import definition
from shared.cli.store import table_columns, table_rows
from shared.db import create_pool, schema_for
from shared.service import WHOLE_TABLE, ServiceDefinition


def _canonical(value: Any) -> Any:
    if isinstance(value, datetime):
        return (value.astimezone(UTC) if value.tzinfo else value).isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Decimal | UUID):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items()}
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def row_line(row: tuple) -> str:
    """One row as a canonical JSON line."""
    return json.dumps(_canonical(list(row)), ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def rows_digest(rows: list[tuple]) -> str:
    """sha256 over the rows' lines, sorted (the order Postgres returns them in does not matter)."""
    sha = hashlib.sha256()
    for line in sorted(row_line(r) for r in rows):
        sha.update(line.encode())
        sha.update(b"\n")
    return sha.hexdigest()


def overall(tables: dict[str, dict]) -> str:
    lines = "".join(f"{name} {t['rows']} {t['sha256']}\n" for name, t in sorted(tables.items()))
    return hashlib.sha256(lines.encode()).hexdigest()


async def service_digest(pool: asyncpg.Pool, schema: str, service: ServiceDefinition) -> dict:
    """The digest document: ``service``, ``schema``, ``digest``, ``tables`` and ``ignored_tables``."""
    tables: dict[str, dict] = {}
    ignored_tables = []
    for name in service.read_model_tables:
        ignored = service.digest_ignores.get(name, ())
        if ignored == WHOLE_TABLE:
            ignored_tables.append(name)
            continue
        columns = await table_columns(pool, schema, name)
        if not columns:
            raise click.ClickException(f"{schema}.{name}: no such table (has the service migrated?)")
        kept = [c for c in columns if c not in ignored]
        rows = await table_rows(pool, schema, name, kept)
        tables[name] = {"rows": len(rows), "sha256": rows_digest(rows), "ignored_columns": sorted(ignored)}
    return {
        "service": service.name,
        "schema": schema,
        "digest": overall(tables),
        "tables": tables,
        "ignored_tables": sorted(ignored_tables),
    }


async def digest_of(service: str, dsn: str, schema: str | None) -> dict:
    schema = schema or schema_for(service)
    pool = await create_pool(dsn, schema, 2)
    try:
        return await service_digest(pool, schema, definition(service))
    finally:
        await pool.close()


def print_digest(document: dict, as_json: bool) -> None:
    if as_json:
        emit_json(document)
        return
    table(
        f"{document['service']} read models ({document['schema']}): {document['digest']}",
        ["table", "rows", "sha256", "columns left out"],
        [
            [name, t["rows"], t["sha256"], ", ".join(t["ignored_columns"])]
            for name, t in sorted(document["tables"].items())
        ]
        + [[name, None, None, "whole table"] for name in document["ignored_tables"]],
    )


@click.command()
@click.argument("service", type=service_choice, metavar="SERVICE")
@json_option
@exits
def digest(service: str, as_json: bool) -> int:
    """Row counts and sha256 of the service's read models (DATABASE_URL, DATABASE_SCHEMA)."""
    s = settings()
    print_digest(run(digest_of(service, s.database_url, s.database_schema)), as_json)
    return OK
