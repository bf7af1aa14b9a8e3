"""SQL of the exports log and of the classes to rebuild."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from services.export.domain.selection import division_key
from services.export.domain.uai import normalise_uai


@dataclass(frozen=True, slots=True)
class ExportRecord:
    uai: str
    kind: str
    division_key: str
    division: str
    file_name: str
    sha256: str
    items: int
    produced_at: datetime


def _export_record(row: asyncpg.Record) -> ExportRecord:
    return ExportRecord(**dict(row))


_EXPORT_COLUMNS = "uai, kind, division_key, division, file_name, sha256, items, produced_at"


class ExportLogQueries:
    """The exports log and the stale marks, mixed into ``ExportStore`` (store.py); ``self.conn`` is its connection."""

    conn: asyncpg.Connection | asyncpg.Pool

    async def exports_of(self, uai: str) -> list[ExportRecord]:
        rows = await self.conn.fetch(
            f"SELECT {_EXPORT_COLUMNS} FROM exports WHERE uai = $1 ORDER BY kind, division_key",
            normalise_uai(uai),
        )
        return [_export_record(r) for r in rows]

    async def export_of(self, uai: str, kind: str, division: str = "") -> ExportRecord | None:
        row = await self.conn.fetchrow(
            f"SELECT {_EXPORT_COLUMNS} FROM exports WHERE uai = $1 AND kind = $2 AND division_key = $3",
            normalise_uai(uai),
            kind,
            division_key(division),
        )
        return None if row is None else _export_record(row)

    async def record_export(self, record: ExportRecord) -> None:
        await self.conn.execute(
            f"""
            INSERT INTO exports ({_EXPORT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
            ON CONFLICT (uai, kind, division_key) DO UPDATE SET
                division = EXCLUDED.division, file_name = EXCLUDED.file_name, sha256 = EXCLUDED.sha256,
                items = EXCLUDED.items, produced_at = EXCLUDED.produced_at
            """,
            record.uai,
            record.kind,
            record.division_key,
            record.division,
            record.file_name,
            record.sha256,
            record.items,
            record.produced_at,
        )

    async def forget_export(self, uai: str, kind: str, key: str) -> None:
        await self.conn.execute(
            "DELETE FROM exports WHERE uai = $1 AND kind = $2 AND division_key = $3", uai, kind, key
        )

    async def mark_stale(self, marks: Iterable[tuple[str, str]]) -> None:
        """Ask for these classes to be rendered again: ``(uai, division_key)`` pairs (``''``: the
        school's livret alone), one row each, appended (never a row another handler updates)."""
        unique = sorted({(normalise_uai(uai), key) for uai, key in marks if uai})
        if unique:
            await self.conn.execute(
                "INSERT INTO stale_classes (uai, division_key)"
                " SELECT * FROM unnest($1::text[], $2::text[]) AS m ORDER BY 1, 2",
                [uai for uai, _ in unique],
                [key for _, key in unique],
            )

    async def stale_schools(self, limit: int) -> list[str]:
        """Schools with marked classes, the longest waiting first."""
        rows = await self.conn.fetch(
            "SELECT uai FROM stale_classes GROUP BY uai ORDER BY min(mark_id) LIMIT $1", limit
        )
        return [r["uai"] for r in rows]

    async def stale_marks(self, uai: str) -> list[tuple[int, str]]:
        """The school's marks as ``(mark_id, division_key)``."""
        rows = await self.conn.fetch(
            "SELECT mark_id, division_key FROM stale_classes WHERE uai = $1", normalise_uai(uai)
        )
        return [(r["mark_id"], r["division_key"]) for r in rows]

    async def clear_stale(self, mark_ids: Sequence[int]) -> None:
        """Forget the marks a rebuild has rendered (exactly those: a mark added meanwhile stays)."""
        if mark_ids:
            await self.conn.execute(
                "DELETE FROM stale_classes WHERE mark_id = ANY($1::bigint[])", list(mark_ids)
            )
