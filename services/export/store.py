"""SQL of the export schema, and nothing else: the read model fed by other services' events,
the exports log and the schools to rebuild, as ``ExportStore`` over a connection.

Every write is an upsert keyed by the upstream id, so applying the latest snapshot of something
twice (a redelivery, a Pix re-send, a replay) leaves the same rows. Loads return domain records
(:mod:`services.export.domain.records`) ready for the renderers, or the typed rows below; never an
``asyncpg.Record``. The use cases (services/export/usecases/) see only this class's methods, which
is what lets their tests swap in an in-memory store; ``transactions`` binds it to the platform's
unit of work. Over 400 lines because it is all of the service's SQL, kept in the one place a
reviewer checks queries.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import structlog

from services.export.domain.records import Candidate, CertificationResult, Learner, ResultStatus
from services.export.domain.selection import division_key
from services.export.domain.uai import normalise_uai
from shared import usecases as shared_usecases
from shared.contracts.events import (
    CandidatesEnrolled,
    LearnerSnapshot,
    ResultsProcessed,
    SessionDetails,
)
from shared.contracts.events import (
    CertificationResult as ResultPayload,
)
from shared.contracts.referential import COMPETENCE_IDS
from shared.outbox import UnitOfWork

log = structlog.get_logger(__name__)

_COMPETENCE_POSITION = {competence_id: i for i, competence_id in enumerate(COMPETENCE_IDS)}


def competence_array(levels: dict[str, int | None]) -> list[int | None]:
    """Levels in referential order; ids outside the referential are dropped (and logged)."""
    array: list[int | None] = [None] * len(COMPETENCE_IDS)
    for competence_id, level in levels.items():
        position = _COMPETENCE_POSITION.get(competence_id)
        if position is None:
            log.warning("unknown competence id in a result", competence_id=competence_id)
        else:
            array[position] = level
    return array


def result_row(event: ResultsProcessed, result: ResultPayload) -> tuple[Any, ...]:
    """A ``results`` row; ``published_at`` falls back to the processing time (see upsert_results)."""
    return (
        result.certification_id,
        event.session_id,
        event.session_number,
        result.candidate_id,
        result.learner_id,
        normalise_uai(event.uai),
        event.certification_center,
        result.status,
        result.pix_score,
        competence_array(result.competence_levels),
        result.verification_code,
        result.first_name,
        result.last_name,
        result.birthdate,
        result.birthplace,
        result.external_id,
        result.jury_comment,
        result.taken_at,
        result.published_at or event.processed_at,
        event.processed_at,
        result.published_at is not None,
    )


RESULT_COLUMNS = (
    "certification_id, session_id, session_number, candidate_id, learner_id, uai, certification_center,"
    " status, pix_score, competence_levels, verification_code, first_name, last_name, birthdate,"
    " birthplace, external_id, jury_comment, taken_at, published_at, processed_at"
)


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


class ExportStore:
    """The export schema over one connection (a transaction's) or the pool (plain reads)."""

    def __init__(self, conn: asyncpg.Connection | asyncpg.Pool) -> None:
        self.conn = conn

    # -- roster ----------------------------------------------------------------------------------

    async def upsert_learner(self, learner: LearnerSnapshot, active: bool) -> str | None:
        """Store the learner's latest snapshot; return the school they were in before, if any."""
        previous_uai = await self.conn.fetchval(
            "SELECT uai FROM learners WHERE learner_id = $1", learner.learner_id
        )
        await self.conn.execute(
            """
            INSERT INTO learners (learner_id, uai, ine, first_name, middle_name, third_name, last_name,
                                  birthdate, birth_city, division, active, updated_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, now())
            ON CONFLICT (learner_id) DO UPDATE SET
                uai = EXCLUDED.uai, ine = EXCLUDED.ine, first_name = EXCLUDED.first_name,
                middle_name = EXCLUDED.middle_name, third_name = EXCLUDED.third_name,
                last_name = EXCLUDED.last_name, birthdate = EXCLUDED.birthdate,
                birth_city = EXCLUDED.birth_city, division = EXCLUDED.division, active = EXCLUDED.active, updated_at = now()
            """,
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
        return previous_uai

    async def deactivate_learner(self, learner_id: str) -> str | None:
        """Mark a learner as gone from the roster; return their school (None when unknown)."""
        return await self.conn.fetchval(
            "UPDATE learners SET active = false, updated_at = now() WHERE learner_id = $1 RETURNING uai",
            learner_id,
        )

    # -- sessions and enrolments -----------------------------------------------------------------

    async def upsert_session(self, session: SessionDetails) -> None:
        await self.conn.execute(
            """
            INSERT INTO sessions (session_id, session_number, uai, certification_center, school_level,
                                  session_date, updated_at)
            VALUES ($1, $2, $3, $4, $5, $6, now())
            ON CONFLICT (session_id) DO UPDATE SET
                session_number = EXCLUDED.session_number, uai = EXCLUDED.uai,
                certification_center = EXCLUDED.certification_center,
                school_level = EXCLUDED.school_level, session_date = EXCLUDED.session_date,
                updated_at = now()
            """,
            session.session_id,
            session.session_number,
            normalise_uai(session.uai),
            session.certification_center,
            session.school_level,
            session.date,
        )

    async def cancel_session(self, session_id: str) -> None:
        await self.conn.execute(
            "UPDATE sessions SET cancelled = true, updated_at = now() WHERE session_id = $1", session_id
        )

    async def enrol_candidates(self, event: CandidatesEnrolled) -> None:
        await self.conn.executemany(
            """
            INSERT INTO candidates (candidate_id, learner_id, session_id, uai, unenrolled_at)
            VALUES ($1, $2, $3, $4, NULL)
            ON CONFLICT (candidate_id) DO UPDATE SET
                learner_id = EXCLUDED.learner_id, session_id = EXCLUDED.session_id,
                uai = EXCLUDED.uai, unenrolled_at = NULL
            """,
            [
                (c.candidate_id, c.learner_id, event.session_id, normalise_uai(event.uai))
                for c in event.candidates
            ],
        )

    async def unenrol_candidate(self, candidate_id: str, when: datetime) -> None:
        await self.conn.execute(
            "UPDATE candidates SET unenrolled_at = $2 WHERE candidate_id = $1", candidate_id, when
        )

    # -- results ---------------------------------------------------------------------------------

    async def upsert_results(self, event: ResultsProcessed) -> None:
        """Store every result of the event and link its candidate to its learner.

        A re-sent result without its own ``published_at`` keeps the publication time recorded the
        first time (the processing time then), so a re-send does not move ``deliveredAt``.
        """
        rows = [result_row(event, result) for result in event.results]
        await self.conn.executemany(
            f"""
            INSERT INTO results ({RESULT_COLUMNS})
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)
            ON CONFLICT (certification_id) DO UPDATE SET
                session_id = EXCLUDED.session_id, session_number = EXCLUDED.session_number,
                candidate_id = EXCLUDED.candidate_id, learner_id = EXCLUDED.learner_id,
                uai = EXCLUDED.uai, certification_center = EXCLUDED.certification_center,
                status = EXCLUDED.status, pix_score = EXCLUDED.pix_score,
                competence_levels = EXCLUDED.competence_levels,
                verification_code = EXCLUDED.verification_code, first_name = EXCLUDED.first_name,
                last_name = EXCLUDED.last_name, birthdate = EXCLUDED.birthdate,
                birthplace = EXCLUDED.birthplace, external_id = EXCLUDED.external_id,
                jury_comment = EXCLUDED.jury_comment, taken_at = EXCLUDED.taken_at,
                published_at = CASE WHEN $21 THEN EXCLUDED.published_at ELSE results.published_at END,
                processed_at = EXCLUDED.processed_at
            """,
            rows,
        )
        await self.conn.executemany(
            """
            INSERT INTO candidates (candidate_id, learner_id, session_id, uai) VALUES ($1, $2, $3, $4)
            ON CONFLICT (candidate_id) DO UPDATE SET learner_id = EXCLUDED.learner_id
            """,
            [
                (r.candidate_id, r.learner_id, event.session_id, normalise_uai(event.uai))
                for r in event.results
            ],
        )

    async def classes_of_learners(self, learner_ids: Sequence[str]) -> dict[str, set[str]]:
        """The current school and class of known learners: ``{uai: {division, …}}``."""
        rows = await self.conn.fetch(
            "SELECT DISTINCT uai, division FROM learners WHERE learner_id = ANY($1::text[])",
            list(learner_ids),
        )
        classes: dict[str, set[str]] = {}
        for row in rows:
            classes.setdefault(row["uai"], set()).add(row["division"])
        return classes

    # -- loading a school ------------------------------------------------------------------------

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

    # -- exports log -----------------------------------------------------------------------------

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

    # -- schools to rebuild ----------------------------------------------------------------------

    async def mark_stale(self, uais: Iterable[str | None]) -> None:
        """Ask the rebuild job to look at these schools again (roster or sessions changed)."""
        for uai in sorted({normalise_uai(u) for u in uais if u}):
            await self.conn.execute(
                """
                INSERT INTO stale_schools (uai) VALUES ($1)
                ON CONFLICT (uai) DO UPDATE SET generation = stale_schools.generation + 1, marked_at = now()
                """,
                uai,
            )

    async def stale_schools(self, limit: int) -> list[tuple[str, int]]:
        rows = await self.conn.fetch(
            "SELECT uai, generation FROM stale_schools ORDER BY marked_at LIMIT $1", limit
        )
        return [(r["uai"], r["generation"]) for r in rows]

    async def stale_generation(self, uai: str) -> int | None:
        """The school's stale mark (its generation), None when its files follow its roster."""
        return await self.conn.fetchval(
            "SELECT generation FROM stale_schools WHERE uai = $1", normalise_uai(uai)
        )

    async def clear_stale(self, uai: str, generation: int) -> None:
        """Forget the mark unless the school was marked again while it was being rebuilt."""
        await self.conn.execute(
            "DELETE FROM stale_schools WHERE uai = $1 AND generation = $2", uai, generation
        )


# -- the unit of work the use cases get --------------------------------------------------------


#: one transaction of the service: its store and its outbox (shared/usecases.py)
StoreWork = shared_usecases.StoreWork[ExportStore]


def transactions(
    begin: Callable[[], AbstractAsyncContextManager[UnitOfWork]],
) -> Callable[[], AbstractAsyncContextManager[StoreWork]]:
    """A ``begin`` factory for the use cases from the platform's (``runtime.unit_of_work``)."""
    return shared_usecases.transactions(begin, ExportStore)
