"""SQL of the sessions read model (from the scheduler's events) and of the one-month checks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

import asyncpg


@dataclass(frozen=True, slots=True)
class DueSession:
    session_id: str
    uai: str
    session_date: date


@dataclass(frozen=True, slots=True)
class SessionCandidate:
    candidate_id: str
    learner_id: str
    division: str


@dataclass(frozen=True, slots=True)
class SessionRow:
    """What the sessions read model keeps of a SessionCreated / SessionUpdated."""

    session_id: str
    uai: str
    session_date: date
    session_time: str
    at: datetime


@dataclass(frozen=True, slots=True)
class CandidateRow:
    """What the sessions read model keeps of an enrolled candidate."""

    session_id: str
    candidate_id: str
    learner_id: str
    division: str


class SessionQueries:
    """Sessions, candidates and one-month checks, mixed into ``EligibilityStore`` (store.py); ``self.conn`` is its connection."""

    conn: asyncpg.Connection | asyncpg.Pool

    async def upsert_sessions(self, sessions: Sequence[SessionRow]) -> None:
        """One row per session (the latest of its events), created or overwritten, in one statement."""
        if not sessions:
            return
        await self.conn.execute(
            "INSERT INTO sessions (session_id, uai, session_date, session_time, updated_at)"
            " SELECT * FROM unnest($1::text[], $2::text[], $3::date[], $4::text[], $5::timestamptz[])"
            " ON CONFLICT (session_id) DO UPDATE SET uai = EXCLUDED.uai, session_date = EXCLUDED.session_date,"
            " session_time = EXCLUDED.session_time, updated_at = EXCLUDED.updated_at",
            [r.session_id for r in sessions],
            [r.uai for r in sessions],
            [r.session_date for r in sessions],
            [r.session_time for r in sessions],
            [r.at for r in sessions],
        )

    async def cancel_session(self, session_id: str, uai: str, at: datetime) -> None:
        """Cancelled even if the creation was never seen (the row keeps the cancellation)."""
        await self.conn.execute(
            "INSERT INTO sessions (session_id, uai, session_date, session_time, cancelled, updated_at)"
            " VALUES ($1, $2, 'infinity', '00:00', true, $3)"
            " ON CONFLICT (session_id) DO UPDATE SET cancelled = true, updated_at = EXCLUDED.updated_at",
            session_id,
            uai,
            at,
        )

    async def upsert_candidates(self, candidates: Sequence[CandidateRow]) -> None:
        """Candidates of any sessions, one row per (session, candidate); re-enrolling one overwrites it."""
        if not candidates:
            return
        await self.conn.execute(
            "INSERT INTO session_candidates (session_id, candidate_id, learner_id, division)"
            " SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])"
            " ON CONFLICT (session_id, candidate_id) DO UPDATE SET learner_id = EXCLUDED.learner_id,"
            " division = EXCLUDED.division",
            [c.session_id for c in candidates],
            [c.candidate_id for c in candidates],
            [c.learner_id for c in candidates],
            [c.division for c in candidates],
        )

    async def remove_candidate(self, session_id: str, candidate_id: str) -> None:
        await self.conn.execute(
            "DELETE FROM session_candidates WHERE session_id = $1 AND candidate_id = $2",
            session_id,
            candidate_id,
        )

    async def sessions_due_for_check(self, today: date, lead_days: int) -> list[DueSession]:
        """Open sessions from their due date to their date, with candidates, not checked for that due date."""
        rows = await self.conn.fetch(
            "SELECT s.session_id, s.uai, s.session_date FROM sessions s"
            " WHERE NOT s.cancelled AND s.session_date >= $1 AND s.session_date - $2::int <= $1"
            " AND EXISTS (SELECT 1 FROM session_candidates c WHERE c.session_id = s.session_id)"
            " AND NOT EXISTS (SELECT 1 FROM remediation_checks r"
            "   WHERE r.session_id = s.session_id AND r.due_date = s.session_date - $2::int)"
            " ORDER BY s.session_date, s.session_id",
            today,
            lead_days,
        )
        return [DueSession(r["session_id"], r["uai"], r["session_date"]) for r in rows]

    async def claim_check(
        self,
        session_id: str,
        due_date: date,
        session_date: date,
        uai: str,
        candidates: int,
        requested: int,
        at: datetime,
    ) -> bool:
        """Record the check; False when another run already did (then nothing may be raised)."""
        return bool(
            await self.conn.fetchval(
                "INSERT INTO remediation_checks"
                " (session_id, due_date, session_date, uai, candidates, requested, checked_at)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING RETURNING true",
                session_id,
                due_date,
                session_date,
                uai,
                candidates,
                requested,
                at,
            )
        )

    async def session_candidates(self, session_id: str) -> list[SessionCandidate]:
        rows = await self.conn.fetch(
            "SELECT candidate_id, learner_id, division FROM session_candidates WHERE session_id = $1"
            " ORDER BY division, candidate_id",
            session_id,
        )
        return [SessionCandidate(r["candidate_id"], r["learner_id"], r["division"]) for r in rows]
