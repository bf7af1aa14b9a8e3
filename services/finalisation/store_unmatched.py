"""SQL of the results rows matching left without a candidate: kept, listed, assigned by hand."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

import asyncpg

from services.finalisation.domain.unmatched import RowKind, UnmatchedRow


def _row(row: asyncpg.Record) -> UnmatchedRow:
    return UnmatchedRow(
        certification_id=row["certification_id"],
        kind=RowKind(row["kind"]),
        reason=row["reason"],
        uai=row["uai"],
        session_id=row["session_id"],
        candidate_ids=tuple(row["candidate_ids"]),
        result=row["result"],
        file_name=row["file_name"],
        recorded_at=row["recorded_at"],
        assigned_session_id=row["assigned_session_id"],
        assigned_candidate_id=row["assigned_candidate_id"],
        assigned_at=row["assigned_at"],
        assigned_by=row["assigned_by"],
    )


class UnmatchedQueries:
    """Unmatched and ambiguous results rows, mixed into ``FinalisationStore`` (store.py)."""

    conn: asyncpg.Connection

    async def keep_unmatched(self, rows: Sequence[UnmatchedRow]) -> None:
        """Record the rows in one statement; a row read again refreshes its place and content
        unless it was assigned already (an assignment is the referent's word, kept)."""
        if not rows:
            return
        await self.conn.execute(
            """
            INSERT INTO unmatched_results (certification_id, kind, reason, uai, session_id,
                candidate_ids, result, file_name, recorded_at)
            SELECT r.certification_id, r.kind, r.reason, r.uai, r.session_id, r.candidate_ids::jsonb,
                r.result::jsonb, r.file_name, r.recorded_at
            FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                $7::text[], $8::text[], $9::timestamptz[])
                AS r(certification_id, kind, reason, uai, session_id, candidate_ids, result, file_name,
                    recorded_at)
            ON CONFLICT (certification_id) DO UPDATE SET
                kind = EXCLUDED.kind, reason = EXCLUDED.reason,
                uai = coalesce(EXCLUDED.uai, unmatched_results.uai),
                session_id = coalesce(EXCLUDED.session_id, unmatched_results.session_id),
                candidate_ids = EXCLUDED.candidate_ids, result = EXCLUDED.result,
                file_name = EXCLUDED.file_name, recorded_at = EXCLUDED.recorded_at
            WHERE unmatched_results.assigned_at IS NULL
            """,
            [r.certification_id for r in rows],
            [r.kind.value for r in rows],
            [r.reason for r in rows],
            [r.uai for r in rows],
            [r.session_id for r in rows],
            [json.dumps(list(r.candidate_ids)) for r in rows],
            [json.dumps(r.result) for r in rows],
            [r.file_name for r in rows],
            [r.recorded_at for r in rows],
        )

    async def forget_unmatched(self, certification_ids: Sequence[int]) -> None:
        """Drop the waiting rows a later import matched on its own (assigned rows stay)."""
        await self.conn.execute(
            "DELETE FROM unmatched_results"
            " WHERE certification_id = ANY($1::bigint[]) AND assigned_at IS NULL",
            list(certification_ids),
        )

    async def unmatched_rows(
        self, *, uai: str | None = None, session_id: str | None = None
    ) -> list[UnmatchedRow]:
        """A school's rows, or a session's (placed there or assigned to it), oldest first."""
        rows = await self.conn.fetch(
            """
            SELECT * FROM unmatched_results
            WHERE ($1::text IS NULL OR uai = $1)
              AND ($2::text IS NULL OR session_id = $2 OR assigned_session_id = $2)
            ORDER BY recorded_at, certification_id
            """,
            uai,
            session_id,
        )
        return [_row(row) for row in rows]

    async def unmatched_row(self, certification_id: int, *, lock: bool = False) -> UnmatchedRow | None:
        suffix = " FOR UPDATE" if lock else ""
        row = await self.conn.fetchrow(
            f"SELECT * FROM unmatched_results WHERE certification_id = $1{suffix}", certification_id
        )
        return None if row is None else _row(row)

    async def assign_unmatched(
        self, certification_id: int, session_id: str, candidate_id: str, at: datetime, by: str | None
    ) -> None:
        await self.conn.execute(
            "UPDATE unmatched_results SET assigned_session_id = $2, assigned_candidate_id = $3,"
            " assigned_at = $4, assigned_by = $5 WHERE certification_id = $1",
            certification_id,
            session_id,
            candidate_id,
            at,
            by,
        )

    async def waiting_rows_of(self, session_id: str) -> int:
        """Rows placed in the session and not assigned yet (ResultsProcessed's ``unmatched_rows``)."""
        return await self.conn.fetchval(
            "SELECT count(*) FROM unmatched_results WHERE session_id = $1 AND assigned_at IS NULL",
            session_id,
        )
