"""The SQL the operators' command runs on a service's schema: the columns and rows of a read model."""

from __future__ import annotations

import asyncpg


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def table_columns(conn: asyncpg.Connection | asyncpg.Pool, schema: str, table: str) -> list[str]:
    """The table's columns, by name (stable whatever order migrations added them in); [] if no table."""
    rows = await conn.fetch(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2"
        " ORDER BY column_name",
        schema,
        table,
    )
    return [r["column_name"] for r in rows]


async def table_rows(
    conn: asyncpg.Connection | asyncpg.Pool, schema: str, table: str, columns: list[str]
) -> list[tuple]:
    """Every row of ``schema.table``, only ``columns``, in no particular order (the digest sorts)."""
    if not columns:
        count = await conn.fetchval(f"SELECT count(*) FROM {_ident(schema)}.{_ident(table)}")
        return [() for _ in range(count)]
    query = f"SELECT {', '.join(map(_ident, columns))} FROM {_ident(schema)}.{_ident(table)}"
    return [tuple(r) for r in await conn.fetch(query)]
