"""SQL of the enrolments: a session's candidates, added and removed."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from services.scheduler.domain.enrolment import Candidate


@dataclass(frozen=True, slots=True)
class CandidateRow:
    candidate_id: uuid.UUID
    ine: str | None
    enrolled_at: datetime
    candidate: Candidate


def _candidate(row: asyncpg.Record) -> CandidateRow:
    return CandidateRow(
        candidate_id=row["candidate_id"],
        ine=row["ine"],
        enrolled_at=row["enrolled_at"],
        candidate=Candidate(
            learner_id=row["learner_id"],
            session_number=row["session_number"],
            last_name=row["last_name"],
            first_name=row["first_name"],
            birthdate=row["birthdate"],
            division=row["division"],
            extra_time_percentage=row["extra_time_percentage"],
            certifiability_override=row["override_reason"],
            adapted_conditions=row["adapted_conditions"],
        ),
    )


class EnrolmentQueries:
    """Candidates, mixed into ``SchedulerStore`` (store.py); ``self.conn`` is the transaction's."""

    conn: asyncpg.Connection

    async def candidates(self, session_id: uuid.UUID) -> list[CandidateRow]:
        rows = await self.conn.fetch(
            "SELECT k.*, s.session_number FROM candidates k JOIN sessions s USING (session_id)"
            " WHERE k.session_id = $1 ORDER BY k.last_name, k.first_name, k.birthdate",
            session_id,
        )
        return [_candidate(r) for r in rows]

    async def candidate_counts(self, session_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
        """session id → number of its candidates (sessions without any are absent)."""
        rows = await self.conn.fetch(
            "SELECT session_id, count(*) FROM candidates WHERE session_id = ANY($1::uuid[])"
            " GROUP BY session_id",
            list(session_ids),
        )
        return {r[0]: r[1] for r in rows}

    async def insert_candidates(
        self,
        session_id: uuid.UUID,
        enrolled: Sequence[tuple[uuid.UUID, str | None, Candidate]],
        now: datetime,
    ) -> None:
        await self.conn.executemany(
            "INSERT INTO candidates (candidate_id, session_id, learner_id, ine, first_name, last_name,"
            " birthdate, division, extra_time_percentage, override_reason, enrolled_at, adapted_conditions)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            [
                (
                    candidate_id,
                    session_id,
                    c.learner_id,
                    ine,
                    c.first_name,
                    c.last_name,
                    c.birthdate,
                    c.division,
                    c.extra_time_percentage,
                    c.certifiability_override,
                    now,
                    c.adapted_conditions,
                )
                for candidate_id, ine, c in enrolled
            ],
        )

    async def delete_candidate(self, session_id: uuid.UUID, candidate_id: uuid.UUID) -> str | None:
        """Remove a candidate; returns its learner id, None when not a candidate of that session."""
        return await self.conn.fetchval(
            "DELETE FROM candidates WHERE session_id = $1 AND candidate_id = $2 RETURNING learner_id",
            session_id,
            candidate_id,
        )
