"""Where a run's database time went: ``pg_stat_statements`` of the run's PostgreSQL.

deploy/local preloads the module when the server has it (localinfra/postgres.py); the statistics are
reset when the stack is ready, so the table covers the run and not the migrations. Statement texts
are normalised by PostgreSQL (constants become $n): no personal data is printed.
"""

from __future__ import annotations

import asyncpg
from rich.table import Table


async def _connect(dsn: str) -> asyncpg.Connection | None:
    try:
        conn = await asyncpg.connect(dsn, timeout=5)
    except (OSError, asyncpg.PostgresError):
        return None
    try:
        await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    except asyncpg.PostgresError:  # not preloaded (a server without the module): no statistics
        await conn.close()
        return None
    return conn


async def reset(dsn: str) -> bool:
    """Forget what was counted so far; False when the server keeps no statement statistics."""
    conn = await _connect(dsn)
    if conn is None:
        return False
    try:
        await conn.execute("SELECT pg_stat_statements_reset()")
        return True
    finally:
        await conn.close()


async def top(dsn: str, limit: int = 15) -> list[dict]:
    """The statements that took the most time since the reset, with their share of all of it."""
    conn = await _connect(dsn)
    if conn is None:
        return []
    try:
        rows = await conn.fetch(
            "SELECT calls, total_exec_time, rows, query,"
            " total_exec_time / NULLIF(sum(total_exec_time) OVER (), 0) AS share"
            " FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT $1",
            limit,
        )
    finally:
        await conn.close()
    return [
        {
            "calls": r["calls"],
            "total_ms": round(r["total_exec_time"], 1),
            "mean_ms": round(r["total_exec_time"] / max(r["calls"], 1), 3),
            "rows": r["rows"],
            "share": round(float(r["share"] or 0), 4),
            "query": " ".join(r["query"].split())[:160],
        }
        for r in rows
    ]


def table(statements: list[dict]) -> Table:
    out = Table(title="PostgreSQL: the statements that took the most time in the run")
    for column in ("share", "calls", "total ms", "mean ms", "statement"):
        out.add_column(column, justify="left" if column == "statement" else "right", overflow="fold")
    for s in statements:
        out.add_row(
            f"{s['share']:.1%}", f"{s['calls']:,}", f"{s['total_ms']:,.0f}", f"{s['mean_ms']:.3f}", s["query"]
        )
    return out
