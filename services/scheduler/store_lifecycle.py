"""SQL of a session's lifecycle and of the changes allowed until finalisation (issue 16 items 2, 3).

Mixed into ``SchedulerStore`` (store.py, already long): the same connection, the same transaction.
Each step is dated once, by its first event (a replay or a late duplicate changes nothing), so the
status read back is the furthest step reached whatever the order of arrival.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime

import asyncpg

from services.scheduler.domain.lifecycle import Outcome


class LifecycleQueries:
    """Lifecycle steps, candidates' outcomes and corrections; ``self.conn`` is the transaction's."""

    conn: asyncpg.Connection

    async def mark_convoked(self, session_id: uuid.UUID, at: datetime) -> None:
        """The convocations were issued (the first time counts)."""
        await self.conn.execute(
            "UPDATE sessions SET convoked_at = coalesce(convoked_at, $2) WHERE session_id = $1",
            session_id,
            at,
        )

    async def record_outcomes(
        self, session_id: uuid.UUID, outcomes: Mapping[str, Outcome], finalised_at: datetime
    ) -> int:
        """Each candidate's outcome at finalisation; the absent and aborted are released from then on
        (they hold no learner any more). Returns how many candidates were released."""
        if not outcomes:
            return 0
        released = [cid for cid, outcome in outcomes.items() if outcome.releases]
        await self.conn.execute(
            "UPDATE candidates k SET outcome = o.outcome,"
            " released_at = CASE WHEN o.candidate_id = ANY($4::text[])"
            "   THEN coalesce(k.released_at, $3) ELSE NULL END"
            " FROM unnest($2::text[], $5::text[]) AS o(candidate_id, outcome)"
            " WHERE k.session_id = $1 AND k.candidate_id::text = o.candidate_id",
            session_id,
            list(outcomes),
            finalised_at,
            released,
            [o.value for o in outcomes.values()],
        )
        return len(released)

    async def mark_results_received(self, session_id: uuid.UUID, at: datetime) -> bool:
        """Pix's results for the session were processed (the first time counts); False if unknown."""
        result = await self.conn.execute(
            "UPDATE sessions SET results_received_at = coalesce(results_received_at, $2) WHERE session_id = $1",
            session_id,
            at,
        )
        return result != "UPDATE 0"

    async def mark_exported(self, uai: str, at: datetime) -> int:
        """A livret of the school was produced at ``at``: its sessions whose results were received by
        then are exported. Returns how many sessions it moved."""
        result = await self.conn.execute(
            "UPDATE sessions SET exported_at = $2 WHERE uai = $1 AND exported_at IS NULL"
            " AND results_received_at IS NOT NULL AND results_received_at <= $2",
            uai,
            at,
        )
        return int(result.split()[-1])

    async def correct_candidate(
        self,
        session_id: uuid.UUID,
        candidate_id: uuid.UUID,
        *,
        extra_time_percentage: int,
        adapted_conditions: str | None,
    ) -> None:
        """Store a candidate's corrected extra time and adapted conditions."""
        await self.conn.execute(
            "UPDATE candidates SET extra_time_percentage = $3, adapted_conditions = $4"
            " WHERE session_id = $1 AND candidate_id = $2",
            session_id,
            candidate_id,
            extra_time_percentage,
            adapted_conditions,
        )

    async def candidate_outcomes(self, session_id: uuid.UUID) -> dict[uuid.UUID, tuple[str | None, bool]]:
        """candidate id → (outcome recorded at finalisation or None, released)."""
        rows = await self.conn.fetch(
            "SELECT candidate_id, outcome, released_at IS NOT NULL AS released FROM candidates"
            " WHERE session_id = $1",
            session_id,
        )
        return {r["candidate_id"]: (r["outcome"], r["released"]) for r in rows}
