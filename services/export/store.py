"""SQL of the export schema, and nothing else: the read model fed by other services' events,
the exports log and the classes to rebuild, as ``ExportStore`` over a connection.

Every write is an upsert keyed by the upstream id, so applying the latest snapshot of something
twice (a redelivery, a Pix re-send, a replay) leaves the same rows. The writes take a consumer's
run of events at once (``unnest`` arrays, one statement per table, one row per id: the caller
keeps each id's latest snapshot, :mod:`services.export.usecases.read_model`). Loads return domain records
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
    CertificationResult as ResultPayload,
)
from shared.contracts.events import (
    LearnerSnapshot,
    ResultsProcessed,
    SessionFields,
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


@dataclass(frozen=True, slots=True)
class ResultRow:
    """A ``results`` row (``values`` in RESULT_COLUMNS order) and whether Pix gave its publication
    time (``published``); without one, ``published_at`` holds the processing time, used only when
    the row is new (see upsert_results)."""

    certification_id: int
    candidate_id: str
    learner_id: str
    values: tuple[Any, ...]
    published: bool


def result_row(event: ResultsProcessed, result: ResultPayload) -> ResultRow:
    """The ``results`` row of one result of a ``ResultsProcessed``."""
    values = (
        result.certification_id,
        event.session_id,
        event.pix_session_number or event.session_number,  # what Pix's own files show
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
    )
    return ResultRow(
        result.certification_id,
        result.candidate_id,
        result.learner_id,
        values,
        result.published_at is not None,
    )


def _smallint_array_literal(levels: Sequence[int | None]) -> str:
    """A ``smallint[]`` literal (``{3,NULL,2}``): unnest cannot take an array of arrays as rows."""
    return "{" + ",".join("NULL" if level is None else str(int(level)) for level in levels) + "}"


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

    # -- sessions and enrolments -----------------------------------------------------------------

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

    async def classes_of_candidates_results(self, candidate_ids: Sequence[str]) -> list[tuple[str, str]]:
        """The classes an enrolment change can move a result into or out of: of the learner each
        result names and of the learner its candidate row names, for candidates that have results
        (none in the usual order, enrolment before results)."""
        rows = await self.conn.fetch(
            """
            SELECT DISTINCT l.uai, l.division FROM results r
            LEFT JOIN candidates c ON c.candidate_id = r.candidate_id
            JOIN learners l ON l.learner_id IN (r.learner_id, c.learner_id)
            WHERE r.candidate_id = ANY($1::text[])
            """,
            list(candidate_ids),
        )
        return [(r["uai"], r["division"]) for r in rows]

    # -- results ---------------------------------------------------------------------------------

    async def candidate_learners(self, candidate_ids: Sequence[str]) -> set[str]:
        """The learners these known candidates are attached to now."""
        rows = await self.conn.fetch(
            "SELECT learner_id FROM candidates WHERE candidate_id = ANY($1::text[])", list(candidate_ids)
        )
        return {r["learner_id"] for r in rows}

    async def upsert_results(
        self, results: Sequence[ResultRow], candidates: Sequence[tuple[str, str, str, str]]
    ) -> None:
        """Store results (one row per certification) and link their candidates to their learners.

        A result without its own publication time (``published`` false) keeps the one recorded the
        first time (its row's fallback, the processing time), so a re-send does not move
        ``deliveredAt``. ``candidates``: ``(candidate_id, learner_id, session_id, uai)``, one per
        candidate; an existing candidate only takes the learner.
        """
        for published, update_published in ((True, "EXCLUDED.published_at"), (False, "results.published_at")):
            rows = [row for row in results if row.published is published]
            if rows:
                await self._insert_results(rows, update_published)
        if candidates:
            ids, learners, sessions, uais = (list(column) for column in zip(*candidates, strict=True))
            await self.conn.execute(
                """
                INSERT INTO candidates (candidate_id, learner_id, session_id, uai)
                SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])
                ON CONFLICT (candidate_id) DO UPDATE SET learner_id = EXCLUDED.learner_id
                """,
                ids,
                learners,
                sessions,
                uais,
            )

    async def _insert_results(self, rows: Sequence[ResultRow], update_published: str) -> None:
        columns = [list(column) for column in zip(*(row.values for row in rows), strict=True)]
        columns[9] = [_smallint_array_literal(levels) for levels in columns[9]]
        await self.conn.execute(
            f"""
            INSERT INTO results ({RESULT_COLUMNS})
            SELECT r.certification_id, r.session_id, r.session_number, r.candidate_id, r.learner_id,
                   r.uai, r.certification_center, r.status, r.pix_score,
                   r.competence_levels::smallint[], r.verification_code, r.first_name, r.last_name,
                   r.birthdate, r.birthplace, r.external_id, r.jury_comment, r.taken_at,
                   r.published_at, r.processed_at
            FROM unnest($1::bigint[], $2::text[], $3::int[], $4::text[], $5::text[], $6::text[],
                                   $7::text[], $8::text[], $9::int[], $10::text[], $11::text[], $12::text[],
                                   $13::text[], $14::date[], $15::text[], $16::text[], $17::text[],
                                   $18::timestamptz[], $19::timestamptz[], $20::timestamptz[])
                 AS r(certification_id, session_id, session_number, candidate_id, learner_id, uai,
                      certification_center, status, pix_score, competence_levels, verification_code,
                      first_name, last_name, birthdate, birthplace, external_id, jury_comment, taken_at,
                      published_at, processed_at)
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
                published_at = {update_published}, processed_at = EXCLUDED.processed_at
            """,
            *columns,
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

    # -- classes to rebuild ----------------------------------------------------------------------

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


# -- the unit of work the use cases get --------------------------------------------------------


#: one transaction of the service: its store and its outbox (shared/usecases.py)
StoreWork = shared_usecases.StoreWork[ExportStore]


def transactions(
    begin: Callable[[], AbstractAsyncContextManager[UnitOfWork]],
) -> Callable[[], AbstractAsyncContextManager[StoreWork]]:
    """A ``begin`` factory for the use cases from the platform's (``runtime.unit_of_work``)."""
    return shared_usecases.transactions(begin, ExportStore)
