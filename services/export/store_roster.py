"""SQL of the read model's roster: learners, sessions and their candidates, from the other services' events."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from services.export.domain.uai import normalise_uai
from shared.contracts.events import (
    LearnerSnapshot,
    SessionFields,
)


def _learner_row(learner: LearnerSnapshot, active: bool) -> tuple[Any, ...]:
    return (
        learner.learner_id,
        normalise_uai(learner.uai),
        learner.ine,
        learner.first_name,
        learner.middle_name,
        learner.third_name,
        learner.last_name,
        learner.birthdate,
        learner.birth_city,
        learner.division,
        active,
    )


class RosterQueries:
    """Roster, sessions and enrolments, mixed into ``ExportStore`` (store.py); ``self.conn`` is its connection."""

    conn: asyncpg.Connection | asyncpg.Pool

    async def learner_classes(self, learner_ids: Sequence[str]) -> list[tuple[str, str]]:
        """The school and class each of these learners is in now (unknown ones are left out)."""
        rows = await self.conn.fetch(
            "SELECT uai, division FROM learners WHERE learner_id = ANY($1::text[])", list(learner_ids)
        )
        return [(r["uai"], r["division"]) for r in rows]

    async def upsert_learners(self, learners: Sequence[tuple[LearnerSnapshot, bool]]) -> None:
        """Store each learner's latest snapshot with its active flag, in one statement (one per id)."""
        if not learners:
            return
        columns = list(zip(*(_learner_row(snapshot, active) for snapshot, active in learners), strict=True))
        await self.conn.execute(
            """
            INSERT INTO learners (learner_id, uai, ine, first_name, middle_name, third_name, last_name,
                                  birthdate, birth_city, division, active, updated_at)
            SELECT l.*, now() FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                                          $6::text[], $7::text[], $8::date[], $9::text[], $10::text[],
                                          $11::boolean[]) AS l
            ON CONFLICT (learner_id) DO UPDATE SET
                uai = EXCLUDED.uai, ine = EXCLUDED.ine, first_name = EXCLUDED.first_name,
                middle_name = EXCLUDED.middle_name, third_name = EXCLUDED.third_name,
                last_name = EXCLUDED.last_name, birthdate = EXCLUDED.birthdate,
                birth_city = EXCLUDED.birth_city, division = EXCLUDED.division, active = EXCLUDED.active,
                updated_at = now()
            """,
            *(list(column) for column in columns),
        )

    async def deactivate_learners(self, learner_ids: Sequence[str]) -> list[tuple[str, str]]:
        """Mark learners as gone from the roster; return the school and class of the known ones."""
        rows = await self.conn.fetch(
            "UPDATE learners SET active = false, updated_at = now() WHERE learner_id = ANY($1::text[])"
            " RETURNING uai, division",
            list(learner_ids),
        )
        return [(r["uai"], r["division"]) for r in rows]

    async def session_schools(self, session_ids: Sequence[str]) -> list[str]:
        """The school each of these known sessions is in now."""
        rows = await self.conn.fetch(
            "SELECT uai FROM sessions WHERE session_id = ANY($1::text[])", list(session_ids)
        )
        return [r["uai"] for r in rows]

    async def upsert_sessions(self, sessions: Sequence[SessionFields]) -> None:
        """Store each session's latest details in one statement (one per id); ``cancelled`` is kept."""
        if not sessions:
            return
        await self.conn.execute(
            """
            INSERT INTO sessions (session_id, session_number, uai, certification_center, school_level,
                                  session_date, updated_at)
            SELECT s.*, now() FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::text[],
                                          $6::date[]) AS s
            ON CONFLICT (session_id) DO UPDATE SET
                session_number = EXCLUDED.session_number, uai = EXCLUDED.uai,
                certification_center = EXCLUDED.certification_center,
                school_level = EXCLUDED.school_level, session_date = EXCLUDED.session_date,
                updated_at = now()
            """,
            [s.session_id for s in sessions],
            [s.session_number for s in sessions],
            [normalise_uai(s.uai) for s in sessions],
            [s.certification_center for s in sessions],
            [s.school_level for s in sessions],
            [s.date for s in sessions],
        )

    async def cancel_sessions(self, session_ids: Sequence[str]) -> None:
        await self.conn.execute(
            "UPDATE sessions SET cancelled = true, updated_at = now() WHERE session_id = ANY($1::text[])",
            list(session_ids),
        )

    async def enrol_candidates(self, candidates: Sequence[tuple[str, str, str, str]]) -> None:
        """``(candidate_id, learner_id, session_id, uai)`` rows, one per candidate: enrolled again."""
        if not candidates:
            return
        ids, learners, sessions, uais = (list(column) for column in zip(*candidates, strict=True))
        await self.conn.execute(
            """
            INSERT INTO candidates (candidate_id, learner_id, session_id, uai, unenrolled_at)
            SELECT c.*, NULL FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS c
            ON CONFLICT (candidate_id) DO UPDATE SET
                learner_id = EXCLUDED.learner_id, session_id = EXCLUDED.session_id,
                uai = EXCLUDED.uai, unenrolled_at = NULL
            """,
            ids,
            learners,
            sessions,
            [normalise_uai(u) for u in uais],
        )

    async def unenrol_candidates(self, unenrolments: Sequence[tuple[str, datetime]]) -> None:
        """``(candidate_id, unenrolled_at)`` pairs, one per candidate."""
        if not unenrolments:
            return
        ids, times = (list(column) for column in zip(*unenrolments, strict=True))
        await self.conn.execute(
            "UPDATE candidates c SET unenrolled_at = u.at"
            " FROM unnest($1::text[], $2::timestamptz[]) AS u(id, at) WHERE c.candidate_id = u.id",
            ids,
            times,
        )
