"""SQL of the finalisations: recorded, read and locked, and the sessions overdue for one."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import asyncpg

from services.finalisation.domain.sessions import RecordedFinalisation, ScheduledSession
from services.finalisation.store_sessions import _session


def _finalisation(row: asyncpg.Record) -> RecordedFinalisation:
    return RecordedFinalisation(
        row["session_id"],
        row["finalised_at"],
        row["payload"],
        row["finalised_by"],
        row["amendments"],
        row["amended_at"],
        row["amended_by"],
    )


class FinalisationQueries:
    """Finalisations and overdue notices, mixed into ``FinalisationStore`` (store.py); ``self.conn`` is the transaction's."""

    conn: asyncpg.Connection

    async def insert_finalisation(
        self, session_id: str, finalised_at: datetime, payload: dict[str, Any], by: str | None = None
    ) -> None:
        await self.conn.execute(
            "INSERT INTO finalisations (session_id, finalised_at, payload, finalised_by)"
            " VALUES ($1, $2, $3, $4)",
            session_id,
            finalised_at,
            payload,
            by,
        )

    async def amend_finalisation(
        self, session_id: str, payload: dict[str, Any], amended_at: datetime, by: str | None
    ) -> int:
        """Replace the finalisation's payload, keeping the one it replaces; the amendment's number."""
        return await self.conn.fetchval(
            """
            WITH previous AS (
                SELECT payload, amendments + 1 AS amendment FROM finalisations WHERE session_id = $1
            ), kept AS (
                INSERT INTO finalisation_amendments (session_id, amendment, amended_at, amended_by, replaced)
                SELECT $1, amendment, $3, $4, payload FROM previous
            )
            UPDATE finalisations SET payload = $2, amendments = amendments + 1, amended_at = $3,
                amended_by = $4
            WHERE session_id = $1 RETURNING amendments
            """,
            session_id,
            payload,
            amended_at,
            by,
        )

    async def finalisation(self, session_id: str, *, lock: bool = False) -> RecordedFinalisation | None:
        suffix = " FOR UPDATE" if lock else ""
        row = await self.conn.fetchrow(
            f"SELECT * FROM finalisations WHERE session_id = $1{suffix}", session_id
        )
        return None if row is None else _finalisation(row)

    async def pix_session_numbers(self, session_ids: Sequence[str]) -> dict[str, int]:
        """Session id → its Pix Certif number, for the sessions that have one recorded."""
        rows = await self.conn.fetch(
            "SELECT session_id, pix_session_number FROM sessions"
            " WHERE session_id = ANY($1::text[]) AND pix_session_number IS NOT NULL",
            list(session_ids),
        )
        return {r["session_id"]: r["pix_session_number"] for r in rows}

    async def finalisations(self, uai: str | None = None) -> list[RecordedFinalisation]:
        """Finalised sessions (optionally of one school), for matching a multi-session results file.

        Two statements, not one with ``$1 IS NULL OR …``: the prepared statement's generic plan of
        that form cannot use the ``finalisations_uai`` index, and read every finalisation of the
        académie for each school's file (4.6 ms a call at 900 sessions, growing with them)."""
        if uai is None:
            rows = await self.conn.fetch("SELECT f.* FROM finalisations f ORDER BY f.session_id")
        else:
            rows = await self.conn.fetch(
                "SELECT f.* FROM finalisations f WHERE f.payload->>'uai' = $1 ORDER BY f.session_id", uai
            )
        return [_finalisation(row) for row in rows]

    async def lock_finalisations(self, session_ids: Sequence[str]) -> None:
        """Lock these finalised sessions, in one statement and in id order (concurrent imports of
        overlapping files take their locks in the same order, so they cannot deadlock)."""
        await self.conn.execute(
            "SELECT 1 FROM finalisations WHERE session_id = ANY($1::text[]) ORDER BY session_id FOR UPDATE",
            list(session_ids),
        )

    async def unfinalised_sessions_up_to(self, last_date: date) -> list[ScheduledSession]:
        """Sessions held on or before `last_date`, not cancelled, not finalised, not yet reported overdue."""
        rows = await self.conn.fetch(
            """
            SELECT s.* FROM sessions s
            WHERE s.session_date <= $1 AND s.cancelled_at IS NULL
              AND NOT EXISTS (SELECT 1 FROM finalisations f WHERE f.session_id = s.session_id)
              AND NOT EXISTS (SELECT 1 FROM overdue_notices o WHERE o.session_id = s.session_id)
            ORDER BY s.session_date, s.session_id
            """,
            last_date,
        )
        return [_session(row) for row in rows]

    async def insert_overdue_notice(self, session_id: str, due_at: datetime, detected_at: datetime) -> bool:
        """True when this call recorded the notice (False: another replica or tick already did)."""
        return bool(
            await self.conn.fetchval(
                "INSERT INTO overdue_notices (session_id, due_at, detected_at) VALUES ($1, $2, $3)"
                " ON CONFLICT DO NOTHING RETURNING true",
                session_id,
                due_at,
                detected_at,
            )
        )
