"""SQL of the read model's results: Pix's certification results and the learners their candidates are."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
import structlog

from services.export.domain.uai import normalise_uai
from shared.contracts.events import (
    CertificationResult as ResultPayload,
)
from shared.contracts.events import (
    ResultsProcessed,
)
from shared.contracts.referential import COMPETENCE_IDS

log = structlog.get_logger("services.export.store")  # the name its warnings had before the split


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


RESULT_COLUMNS = (
    "certification_id, session_id, session_number, candidate_id, learner_id, uai, certification_center,"
    " status, pix_score, competence_levels, verification_code, first_name, last_name, birthdate,"
    " birthplace, external_id, jury_comment, taken_at, published_at, processed_at"
)


class ResultQueries:
    """Results, mixed into ``ExportStore`` (store.py); ``self.conn`` is its connection."""

    conn: asyncpg.Connection | asyncpg.Pool

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
