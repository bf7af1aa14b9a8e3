"""SQL of loading a school: its learners and results as the renderers take them."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from services.export.domain.records import Candidate, CertificationResult, Learner, ResultStatus
from services.export.domain.uai import normalise_uai
from services.export.store_results import RESULT_COLUMNS
from shared.contracts.referential import COMPETENCE_IDS


@dataclass(frozen=True, slots=True)
class SchoolSnapshot:
    """What the exports of one school are rendered from."""

    uai: str
    learners: list[Learner]
    candidates: list[Candidate]
    results: list[CertificationResult]


def learner_record(row: asyncpg.Record) -> Learner:
    return Learner(
        id=row["learner_id"],
        uai=row["uai"],
        ine=row["ine"],
        first_name=row["first_name"],
        middle_name=row["middle_name"],
        third_name=row["third_name"],
        last_name=row["last_name"],
        birthdate=row["birthdate"],
        division=row["division"],
        active=row["active"],
        birth_city=row["birth_city"],
    )


def result_record(row: asyncpg.Record) -> CertificationResult:
    """A stored result as the renderers see it: published, since it came from a processed session."""
    levels = {
        competence_id: level
        for competence_id, level in zip(COMPETENCE_IDS, row["competence_levels"], strict=False)
        if level is not None
    }
    return CertificationResult(
        certification_id=row["certification_id"],
        candidate_id=row["candidate_id"],
        session_id=row["session_id"],
        session_number=row["session_number"],
        status=ResultStatus(row["status"]),
        published=True,
        pix_score=row["pix_score"],
        taken_at=row["taken_at"],
        first_name=row["first_name"],
        last_name=row["last_name"],
        birthdate=row["birthdate"],
        certification_center=row["certification_center"],
        verification_code=row["verification_code"],
        published_at=row["published_at"],
        birthplace=row["birthplace"],
        external_id=row["external_id"],
        jury_comment_for_organization=row["jury_comment"],
        competence_levels=levels,
    )


class SchoolQueries:
    """Loading a school, mixed into ``ExportStore`` (store.py); ``self.conn`` is its connection."""

    conn: asyncpg.Connection | asyncpg.Pool

    async def lock_school(self, uai: str) -> None:
        """Two rebuilds of one school never interleave their writes (held to the transaction's end)."""
        await self.conn.execute(
            "SELECT pg_advisory_xact_lock(hashtext('certibus.export.school.' || $1))", normalise_uai(uai)
        )
        # small indexed reads: JIT compilation would cost more than the queries themselves
        await self.conn.execute("SET LOCAL jit = off")

    async def load_school(self, uai: str) -> SchoolSnapshot:
        """The school's roster (active or not), its learners' enrolments and every result of theirs,
        wherever they sat (a learner who changed school keeps their certifications)."""
        uai = normalise_uai(uai)
        learner_rows = await self.conn.fetch(
            "SELECT learner_id, uai, ine, first_name, middle_name, third_name, last_name, birthdate,"
            " division, active, birth_city FROM learners WHERE uai = $1",
            uai,
        )
        learner_ids = [r["learner_id"] for r in learner_rows]
        # by id list rather than a join: index lookups, whatever the planner thinks of the school's size
        candidate_rows = await self.conn.fetch(
            "SELECT candidate_id, learner_id, session_id FROM candidates"
            " WHERE learner_id = ANY($1::text[]) AND unenrolled_at IS NULL",
            learner_ids,
        )
        result_rows = await self.conn.fetch(
            f"SELECT {RESULT_COLUMNS} FROM results WHERE learner_id = ANY($1::text[])", learner_ids
        )
        candidates = [Candidate(r["candidate_id"], r["learner_id"], r["session_id"]) for r in candidate_rows]
        # a result names its learner itself: attach it even if the enrolment was never seen (or was
        # withdrawn afterwards)
        known = {c.id for c in candidates}
        candidates += [
            Candidate(r["candidate_id"], r["learner_id"], r["session_id"])
            for r in result_rows
            if r["candidate_id"] not in known
        ]
        return SchoolSnapshot(
            uai=uai,
            learners=[learner_record(r) for r in learner_rows],
            candidates=candidates,
            results=[result_record(r) for r in result_rows],
        )

    async def school_level(self, uai: str) -> str | None:
        """'college' or 'lycee' as the school's most recent session says; None when no session is known."""
        return await self.conn.fetchval(
            "SELECT school_level FROM sessions WHERE uai = $1 ORDER BY session_date DESC, updated_at DESC LIMIT 1",
            normalise_uai(uai),
        )

    async def learners_awaiting_results(self, uai: str) -> set[str]:
        """Learners of the school enrolled in a (not cancelled) session that has no result yet."""
        rows = await self.conn.fetch(
            """
            SELECT DISTINCT c.learner_id FROM candidates c
            JOIN learners l ON l.learner_id = c.learner_id
            LEFT JOIN sessions s ON s.session_id = c.session_id
            WHERE l.uai = $1 AND c.unenrolled_at IS NULL AND NOT coalesce(s.cancelled, false)
              AND NOT EXISTS (SELECT 1 FROM results r WHERE r.session_id = c.session_id)
            """,
            normalise_uai(uai),
        )
        return {r["learner_id"] for r in rows}

    async def schools_with_learners(self) -> list[str]:
        return [r["uai"] for r in await self.conn.fetch("SELECT DISTINCT uai FROM learners ORDER BY uai")]
