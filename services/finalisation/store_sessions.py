"""SQL of the read models from the scheduler's events: sessions and their candidates, one at a time or a run at a time."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import asyncpg

from services.finalisation.domain.sessions import ScheduledSession
from shared.contracts.events import AnySessionDetails
from shared.contracts.events import EnrolledCandidate as EnrolledCandidateEvent

if TYPE_CHECKING:
    from services.finalisation.usecases.ports import Lock


def _session(row: asyncpg.Record) -> ScheduledSession:
    return ScheduledSession(
        session_id=row["session_id"],
        session_number=row["session_number"],
        uai=row["uai"],
        certification_center=row["certification_center"],
        session_date=row["session_date"],
        session_time=row["session_time"],
        invigilator_password_hash=row["invigilator_password_hash"],
        address=row["address"],
        room=row["room"],
        examiners=row["examiners"],
        cancelled_at=row["cancelled_at"],
        pix_session_number=row["pix_session_number"],
    )


_SESSION_COLUMNS = (
    "session_id, session_number, uai, certification_center, school_level, address, room, examiners,"
    " session_date, session_time, test_minutes, invigilator_password_hash, updated_at, pix_session_number"
)


#: the latest snapshot wins: the one conflict rule of the single and the set-based upsert
_SESSION_UPSERT = """
    ON CONFLICT (session_id) DO UPDATE SET
        session_number = EXCLUDED.session_number, uai = EXCLUDED.uai,
        certification_center = EXCLUDED.certification_center,
        school_level = EXCLUDED.school_level, address = EXCLUDED.address, room = EXCLUDED.room,
        examiners = EXCLUDED.examiners, session_date = EXCLUDED.session_date,
        session_time = EXCLUDED.session_time, test_minutes = EXCLUDED.test_minutes,
        invigilator_password_hash = EXCLUDED.invigilator_password_hash,
        updated_at = EXCLUDED.updated_at, pix_session_number = EXCLUDED.pix_session_number
    WHERE sessions.updated_at <= EXCLUDED.updated_at"""


_CANDIDATE_COLUMNS = (
    "session_id, candidate_id, learner_id, ine, first_name, last_name, birthdate, division,"
    " extra_time_percentage"
)


#: an enrolment replaces the candidate's details and enrols them again (unenrolled_at back to NULL)
_CANDIDATE_UPSERT = """
    ON CONFLICT (session_id, candidate_id) DO UPDATE SET
        learner_id = EXCLUDED.learner_id, ine = EXCLUDED.ine, first_name = EXCLUDED.first_name,
        last_name = EXCLUDED.last_name, birthdate = EXCLUDED.birthdate,
        division = EXCLUDED.division, extra_time_percentage = EXCLUDED.extra_time_percentage,
        unenrolled_at = NULL"""


def _session_values(details: AnySessionDetails, changed_at: datetime) -> tuple[Any, ...]:
    """A snapshot's values in ``_SESSION_COLUMNS`` order (examiners as JSON text)."""
    return (
        details.session_id,
        details.session_number,
        details.uai,
        details.certification_center,
        details.school_level,
        details.address,
        details.room,
        json.dumps(list(details.examiners)),
        details.date,
        details.time,
        details.test_minutes,
        details.invigilator_password_verifier,
        changed_at,
        getattr(details, "pix_session_number", None),
    )


def _candidate_values(session_id: str, c: EnrolledCandidateEvent) -> tuple[Any, ...]:
    """An enrolled candidate's values in ``_CANDIDATE_COLUMNS`` order."""
    return (
        session_id,
        c.candidate_id,
        c.learner_id,
        c.ine,
        c.first_name,
        c.last_name,
        c.birthdate,
        c.division,
        c.extra_time_percentage,
    )


class SessionQueries:
    """Read models (scheduler events), mixed into ``FinalisationStore`` (store.py); ``self.conn`` is the transaction's."""

    conn: asyncpg.Connection

    async def upsert_session(self, details: AnySessionDetails, changed_at: datetime) -> None:
        """Latest snapshot wins; an older snapshot arriving late changes nothing."""
        await self.conn.execute(
            f"INSERT INTO sessions ({_SESSION_COLUMNS})"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
            f" {_SESSION_UPSERT}",
            details.session_id,
            details.session_number,
            details.uai,
            details.certification_center,
            details.school_level,
            details.address,
            details.room,
            list(details.examiners),
            details.date,
            details.time,
            details.test_minutes,
            details.invigilator_password_verifier,
            changed_at,
            getattr(details, "pix_session_number", None),  # v1 never carried it
        )

    async def upsert_sessions(self, snapshots: Sequence[tuple[AnySessionDetails, datetime]]) -> None:
        """Many snapshots in one statement, leaving what ``upsert_session`` one after the other would.

        Applied in turn, a session ends as the snapshot with the latest ``changed_at`` (the last
        given of equal ones) unless its row is newer still; that snapshot is picked per session in
        SQL (``DISTINCT ON``, comparing as PostgreSQL does) and upserted with the same condition.
        """
        if not snapshots:
            return
        columns = list(zip(*(_session_values(d, at) for d, at in snapshots), strict=True))
        await self.conn.execute(
            f"""
            INSERT INTO sessions ({_SESSION_COLUMNS})
            SELECT DISTINCT ON (s.session_id) s.session_id, s.session_number, s.uai,
                s.certification_center, s.school_level, s.address, s.room, s.examiners::jsonb,
                s.session_date, s.session_time, s.test_minutes, s.invigilator_password_hash, s.updated_at,
                s.pix_session_number
            FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::text[], $6::text[],
                $7::text[], $8::text[], $9::date[], $10::text[], $11::int[], $12::text[],
                $13::timestamptz[], $14::int[]) WITH ORDINALITY AS s({_SESSION_COLUMNS}, n)
            ORDER BY s.session_id, s.updated_at DESC, s.n DESC
            {_SESSION_UPSERT}
            """,
            *(list(column) for column in columns),
        )

    async def cancel_session(self, session_id: str, reason: str | None, cancelled_at: datetime) -> None:
        await self.conn.execute(
            "UPDATE sessions SET cancelled_at = $2, cancel_reason = $3 WHERE session_id = $1",
            session_id,
            cancelled_at,
            reason,
        )

    async def cancel_sessions(self, cancellations: Sequence[tuple[str, str | None, datetime]]) -> None:
        """Many ``(session_id, reason, cancelled_at)`` in one statement; per session the last given wins
        (as ``cancel_session`` one after the other), and an unknown session is left alone."""
        if not cancellations:
            return
        session_ids, reasons, times = (list(column) for column in zip(*cancellations, strict=True))
        await self.conn.execute(
            """
            UPDATE sessions SET cancelled_at = c.cancelled_at, cancel_reason = c.reason
            FROM (SELECT DISTINCT ON (session_id) session_id, reason, cancelled_at
                  FROM unnest($1::text[], $2::text[], $3::timestamptz[])
                      WITH ORDINALITY AS c(session_id, reason, cancelled_at, n)
                  ORDER BY session_id, n DESC) c
            WHERE sessions.session_id = c.session_id
            """,
            session_ids,
            reasons,
            times,
        )

    async def upsert_candidates(self, session_id: str, candidates: Sequence[EnrolledCandidateEvent]) -> None:
        await self.conn.executemany(
            f"INSERT INTO candidates ({_CANDIDATE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
            f" {_CANDIDATE_UPSERT}",
            [_candidate_values(session_id, c) for c in candidates],
        )

    async def enrol_candidates(
        self, enrolments: Sequence[tuple[str, Sequence[EnrolledCandidateEvent]]]
    ) -> None:
        """Many ``(session_id, candidates)`` enrolments in one statement, as ``upsert_candidates`` one
        after the other: per candidate of a session the last given wins, and is enrolled again."""
        rows = [_candidate_values(sid, c) for sid, candidates in enrolments for c in candidates]
        if not rows:
            return
        await self.conn.execute(
            f"""
            INSERT INTO candidates ({_CANDIDATE_COLUMNS})
            SELECT DISTINCT ON (c.session_id, c.candidate_id) {_CANDIDATE_COLUMNS}
            FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                $7::date[], $8::text[], $9::int[]) WITH ORDINALITY AS c({_CANDIDATE_COLUMNS}, n)
            ORDER BY c.session_id, c.candidate_id, c.n DESC
            {_CANDIDATE_UPSERT}
            """,
            *(list(column) for column in zip(*rows, strict=True)),
        )

    async def unenrol_candidate(self, session_id: str, candidate_id: str, unenrolled_at: datetime) -> None:
        await self.conn.execute(
            "UPDATE candidates SET unenrolled_at = $3 WHERE session_id = $1 AND candidate_id = $2",
            session_id,
            candidate_id,
            unenrolled_at,
        )

    async def unenrol_candidates(self, unenrolments: Sequence[tuple[str, str, datetime]]) -> None:
        """Many ``(session_id, candidate_id, unenrolled_at)`` in one statement; per candidate the last
        given wins (as ``unenrol_candidate`` one after the other), an unknown one is left alone."""
        if not unenrolments:
            return
        session_ids, candidate_ids, times = (list(column) for column in zip(*unenrolments, strict=True))
        await self.conn.execute(
            """
            UPDATE candidates SET unenrolled_at = u.unenrolled_at
            FROM (SELECT DISTINCT ON (session_id, candidate_id) session_id, candidate_id, unenrolled_at
                  FROM unnest($1::text[], $2::text[], $3::timestamptz[])
                      WITH ORDINALITY AS u(session_id, candidate_id, unenrolled_at, n)
                  ORDER BY session_id, candidate_id, n DESC) u
            WHERE candidates.session_id = u.session_id AND candidates.candidate_id = u.candidate_id
            """,
            session_ids,
            candidate_ids,
            times,
        )

    async def sessions_by_number(self, session_number: int) -> list[ScheduledSession]:
        """The sessions an invigilator may mean by this number: Pix Certif's, or certibus's own."""
        rows = await self.conn.fetch(
            "SELECT * FROM sessions WHERE pix_session_number = $1 OR session_number = $1"
            " ORDER BY updated_at DESC",
            session_number,
        )
        return [_session(row) for row in rows]

    async def school_of_session(self, session_id: str) -> str | None:
        """The UAI of the session (cancelled or not); None if this service does not know it."""
        return await self.conn.fetchval("SELECT uai FROM sessions WHERE session_id = $1", session_id)

    async def session(self, session_id: str, *, lock: Lock = None) -> ScheduledSession | None:
        """The session, under a row lock until the transaction ends if asked (``ports.Lock``)."""
        suffix = {None: "", "shared": " FOR KEY SHARE", "exclusive": " FOR UPDATE"}[lock]
        row = await self.conn.fetchrow(f"SELECT * FROM sessions WHERE session_id = $1{suffix}", session_id)
        return None if row is None else _session(row)
