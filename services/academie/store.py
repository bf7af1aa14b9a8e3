"""SQL of the académie schema, and nothing else: the read model fed by the other services' events,
as ``AcademieStore`` over a connection.

Every write is an upsert keyed by the upstream id whose result does not depend on how many times
it runs: details are the latest snapshot, the time a step was reached is the earliest one seen
(``LEAST``), a certifiability is replaced only by a more recent one. So a redelivery, a producer's
duplicate (same facts, new event id) or a replay leaves the same rows. Each write takes a
consumer's run of events at once (``unnest`` arrays, one statement per table; the use cases keep
one row per id, :mod:`services.academie.usecases.read_model`), keys sorted so two runs lock rows in
the same order. Loads return the domain's ``SchoolFacts`` or the typed rows below, never an
``asyncpg.Record``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import asyncpg

from services.academie.domain.card import SchoolFacts, SessionFacts
from shared import usecases as shared_usecases
from shared.outbox import UnitOfWork

#: the step columns ``mark_sessions`` may write (the time a session reached it, first one kept)
STEP_COLUMNS = ("convoked_at", "started_at", "finalised_at")


@dataclass(frozen=True, slots=True)
class SessionDetailsRow:
    session_id: str
    uai: str
    session_number: int
    certification_center: str
    school_level: str
    session_date: date
    created_at: datetime | None
    details_at: datetime


@dataclass(frozen=True, slots=True)
class OverdueSession:
    """A session whose finalisation is overdue and not done yet."""

    session_id: str
    uai: str
    school_name: str | None
    session_number: int | None
    session_date: date | None
    due_at: datetime
    detected_at: datetime


def _columns(rows: Sequence[tuple[Any, ...]]) -> list[list[Any]]:
    return [list(column) for column in zip(*sorted(rows, key=lambda r: r[0]), strict=True)]


class AcademieStore:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    # -- sessions --------------------------------------------------------------------------------

    async def upsert_session_details(self, rows: Sequence[SessionDetailsRow]) -> None:
        """Each session's latest details; ``created_at`` keeps the earliest creation seen."""
        if not rows:
            return
        await self.conn.execute(
            """
            INSERT INTO sessions (session_id, uai, session_number, certification_center, school_level,
                                  session_date, created_at, details_at)
            SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::text[], $6::date[],
                                 $7::timestamptz[], $8::timestamptz[])
            ON CONFLICT (session_id) DO UPDATE SET
                uai = EXCLUDED.uai, session_number = EXCLUDED.session_number,
                certification_center = EXCLUDED.certification_center,
                school_level = EXCLUDED.school_level, session_date = EXCLUDED.session_date,
                created_at = LEAST(sessions.created_at, EXCLUDED.created_at),
                details_at = GREATEST(sessions.details_at, EXCLUDED.details_at)
            """,
            *_columns(
                [
                    (
                        r.session_id,
                        r.uai,
                        r.session_number,
                        r.certification_center,
                        r.school_level,
                        r.session_date,
                        r.created_at,
                        r.details_at,
                    )
                    for r in rows
                ]
            ),
        )

    async def cancel_sessions(self, rows: Sequence[tuple[str, str, datetime]]) -> None:
        """``(session_id, uai, cancelled_at)``: the session no longer counts (first time kept)."""
        if rows:
            await self.conn.execute(
                """
                INSERT INTO sessions (session_id, uai, cancelled_at)
                SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[])
                ON CONFLICT (session_id) DO UPDATE SET
                    cancelled_at = LEAST(sessions.cancelled_at, EXCLUDED.cancelled_at)
                """,
                *_columns(rows),
            )

    async def mark_sessions(self, column: str, rows: Sequence[tuple[str, str, int | None, datetime]]) -> None:
        """``(session_id, uai, session_number or None, at)``: the session reached the step of
        ``column`` (one of STEP_COLUMNS) at ``at``; the earliest time is kept."""
        if column not in STEP_COLUMNS:
            raise ValueError(f"not a step column: {column}")
        if rows:
            await self.conn.execute(
                f"""
                INSERT INTO sessions (session_id, uai, session_number, {column})
                SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::timestamptz[])
                ON CONFLICT (session_id) DO UPDATE SET
                    session_number = COALESCE(sessions.session_number, EXCLUDED.session_number),
                    {column} = LEAST(sessions.{column}, EXCLUDED.{column})
                """,
                *_columns(rows),
            )

    async def record_results(self, rows: Sequence[tuple[str, str, int, int, datetime]]) -> None:
        """``(session_id, uai, session_number, results, processed_at)``: the session's latest results
        (their count) and the first time results were processed for it."""
        if rows:
            await self.conn.execute(
                """
                INSERT INTO sessions (session_id, uai, session_number, results, results_at)
                SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::int[], $5::timestamptz[])
                ON CONFLICT (session_id) DO UPDATE SET
                    session_number = COALESCE(sessions.session_number, EXCLUDED.session_number),
                    results = EXCLUDED.results,
                    results_at = LEAST(sessions.results_at, EXCLUDED.results_at)
                """,
                *_columns(rows),
            )

    async def record_overdue(self, rows: Sequence[tuple[str, str, date, datetime, datetime]]) -> None:
        """``(session_id, uai, session_date, due_at, detected_at)``: finalisation overdue (first
        detection kept); it stops counting once the session is finalised."""
        if rows:
            await self.conn.execute(
                """
                INSERT INTO sessions (session_id, uai, session_date, overdue_due_at, overdue_detected_at)
                SELECT * FROM unnest($1::text[], $2::text[], $3::date[], $4::timestamptz[],
                                     $5::timestamptz[])
                ON CONFLICT (session_id) DO UPDATE SET
                    session_date = COALESCE(sessions.session_date, EXCLUDED.session_date),
                    overdue_due_at = EXCLUDED.overdue_due_at,
                    overdue_detected_at = LEAST(sessions.overdue_detected_at,
                                                EXCLUDED.overdue_detected_at)
                """,
                *_columns(rows),
            )

    # -- enrolments ------------------------------------------------------------------------------

    async def enrol_candidates(self, rows: Sequence[tuple[str, str, str]]) -> None:
        """``(candidate_id, session_id, uai)``, one per candidate: enrolled (again)."""
        if rows:
            await self.conn.execute(
                """
                INSERT INTO candidates (candidate_id, session_id, uai, unenrolled_at)
                SELECT c.*, NULL FROM unnest($1::text[], $2::text[], $3::text[]) AS c
                ON CONFLICT (candidate_id) DO UPDATE SET
                    session_id = EXCLUDED.session_id, uai = EXCLUDED.uai, unenrolled_at = NULL
                """,
                *_columns(rows),
            )

    async def unenrol_candidates(self, rows: Sequence[tuple[str, str, str, datetime]]) -> None:
        """``(candidate_id, session_id, uai, unenrolled_at)``, one per candidate."""
        if rows:
            await self.conn.execute(
                """
                INSERT INTO candidates (candidate_id, session_id, uai, unenrolled_at)
                SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[])
                ON CONFLICT (candidate_id) DO UPDATE SET unenrolled_at = EXCLUDED.unenrolled_at
                """,
                *_columns(rows),
            )

    # -- roster ----------------------------------------------------------------------------------

    async def upsert_learners(self, rows: Sequence[tuple[str, str, str | None, bool]]) -> None:
        """``(learner_id, uai, mef_code, active)``: each learner's latest roster entry."""
        if rows:
            await self.conn.execute(
                """
                INSERT INTO learners (learner_id, uai, mef_code, active)
                SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::boolean[])
                ON CONFLICT (learner_id) DO UPDATE SET
                    uai = EXCLUDED.uai, mef_code = EXCLUDED.mef_code, active = EXCLUDED.active
                """,
                *_columns(rows),
            )

    async def deactivate_learners(self, rows: Sequence[tuple[str, str]]) -> None:
        """``(learner_id, uai)``: gone from the roster."""
        if rows:
            await self.conn.execute(
                """
                INSERT INTO learners (learner_id, uai, active)
                SELECT l.*, false FROM unnest($1::text[], $2::text[]) AS l
                ON CONFLICT (learner_id) DO UPDATE SET active = false
                """,
                *_columns(rows),
            )

    async def assess_learners(self, rows: Sequence[tuple[str, str, str, datetime]]) -> None:
        """``(learner_id, uai, status, assessed_at)``: kept only when at least as recent as the one
        stored (the more recent assessment wins, whatever the order they are read in)."""
        if rows:
            await self.conn.execute(
                """
                INSERT INTO learners (learner_id, uai, status, assessed_at)
                SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[])
                ON CONFLICT (learner_id) DO UPDATE SET
                    status = EXCLUDED.status, assessed_at = EXCLUDED.assessed_at
                    WHERE learners.assessed_at IS NULL OR learners.assessed_at <= EXCLUDED.assessed_at
                """,
                *_columns(rows),
            )

    # -- files -----------------------------------------------------------------------------------

    async def record_livrets(self, rows: Sequence[tuple[str, str, str, int, datetime]]) -> None:
        """``(uai, level, file_name, certifications, produced_at)``: the latest file of each level."""
        if rows:
            await self.conn.execute(
                """
                INSERT INTO livrets (uai, level, file_name, certifications, produced_at)
                SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::timestamptz[])
                ON CONFLICT (uai, level) DO UPDATE SET
                    file_name = EXCLUDED.file_name, certifications = EXCLUDED.certifications,
                    produced_at = EXCLUDED.produced_at
                    WHERE livrets.produced_at <= EXCLUDED.produced_at
                """,
                *_columns(rows),
            )

    async def record_class_exports(self, rows: Sequence[tuple[str, str, int, datetime]]) -> None:
        """``(uai, division, rows, exported_at)``: the latest class results file of each class."""
        if rows:
            await self.conn.execute(
                """
                INSERT INTO class_exports (uai, division, rows, exported_at)
                SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::timestamptz[])
                ON CONFLICT (uai, division) DO UPDATE SET
                    rows = EXCLUDED.rows, exported_at = EXCLUDED.exported_at
                    WHERE class_exports.exported_at <= EXCLUDED.exported_at
                """,
                *_columns(rows),
            )

    # -- the view --------------------------------------------------------------------------------

    async def school_facts(self) -> list[SchoolFacts]:
        """Every school any event named, with its sessions, roster counts and files, by UAI."""
        sessions = await self.conn.fetch(
            """
            SELECT s.*, (SELECT count(*) FROM candidates c
                         WHERE c.session_id = s.session_id AND c.unenrolled_at IS NULL) AS candidates
            FROM sessions s ORDER BY s.uai, s.session_id
            """
        )
        roster = await self.conn.fetch(
            """
            SELECT uai, count(*) FILTER (WHERE active) AS learners,
                   count(*) FILTER (WHERE active AND status = 'certifiable') AS certifiable,
                   count(*) FILTER (WHERE active AND status = 'not_certifiable') AS not_certifiable
            FROM learners GROUP BY uai
            """
        )
        mefs = await self.conn.fetch(
            "SELECT uai, coalesce(left(mef_code, 2), '') AS prefix, count(*) AS n FROM learners"
            " WHERE active GROUP BY 1, 2"
        )
        livrets = await self.conn.fetch(
            "SELECT uai, max(produced_at) AS produced_at, count(*) AS n FROM livrets GROUP BY uai"
        )
        classes = await self.conn.fetch("SELECT uai, count(*) AS n FROM class_exports GROUP BY uai")
        by_school: dict[str, list[SessionFacts]] = defaultdict(list)
        names: dict[str, tuple[datetime, str, str]] = {}
        overdue: dict[str, int] = defaultdict(int)
        for r in sessions:
            by_school[r["uai"]].append(
                SessionFacts(
                    session_id=r["session_id"],
                    uai=r["uai"],
                    session_number=r["session_number"],
                    created_at=r["created_at"],
                    cancelled=r["cancelled_at"] is not None,
                    convoked_at=r["convoked_at"],
                    started_at=r["started_at"],
                    finalised_at=r["finalised_at"],
                    results_at=r["results_at"],
                    results=r["results"],
                    candidates=r["candidates"],
                )
            )
            if r["details_at"] is not None and (
                r["uai"] not in names or names[r["uai"]][0] < r["details_at"]
            ):
                names[r["uai"]] = (r["details_at"], r["certification_center"], r["school_level"])
            if r["overdue_due_at"] is not None and r["finalised_at"] is None and r["cancelled_at"] is None:
                overdue[r["uai"]] += 1
        prefixes: dict[str, dict[str, int]] = defaultdict(dict)
        for r in mefs:
            prefixes[r["uai"]][r["prefix"]] = r["n"]
        counts = {r["uai"]: r for r in roster}
        files = {r["uai"]: r for r in livrets}
        exported = {r["uai"]: r["n"] for r in classes}
        uais = sorted({*by_school, *counts, *files, *exported})
        return [
            SchoolFacts(
                uai=uai,
                name=names[uai][1] if uai in names else None,
                school_level=names[uai][2] if uai in names else None,
                sessions=by_school.get(uai, []),
                learners=counts[uai]["learners"] if uai in counts else 0,
                certifiable=counts[uai]["certifiable"] if uai in counts else 0,
                not_certifiable=counts[uai]["not_certifiable"] if uai in counts else 0,
                mef_prefixes=prefixes.get(uai, {}),
                livret_at=files[uai]["produced_at"] if uai in files else None,
                livrets=files[uai]["n"] if uai in files else 0,
                classes_exported=exported.get(uai, 0),
                overdue=overdue.get(uai, 0),
            )
            for uai in uais
        ]

    async def overdue_sessions(self) -> list[OverdueSession]:
        """Sessions whose finalisation is overdue, not finalised nor cancelled, the longest due first."""
        rows = await self.conn.fetch(
            """
            SELECT s.session_id, s.uai, s.session_number, s.session_date, s.overdue_due_at,
                   s.overdue_detected_at,
                   (SELECT n.certification_center FROM sessions n
                    WHERE n.uai = s.uai AND n.details_at IS NOT NULL
                    ORDER BY n.details_at DESC LIMIT 1) AS school_name
            FROM sessions s
            WHERE s.overdue_due_at IS NOT NULL AND s.finalised_at IS NULL AND s.cancelled_at IS NULL
            ORDER BY s.overdue_due_at, s.uai, s.session_id
            """
        )
        return [
            OverdueSession(
                session_id=r["session_id"],
                uai=r["uai"],
                school_name=r["school_name"],
                session_number=r["session_number"],
                session_date=r["session_date"],
                due_at=r["overdue_due_at"],
                detected_at=r["overdue_detected_at"],
            )
            for r in rows
        ]


# -- the unit of work the use cases get --------------------------------------------------------

#: one transaction of the service: its store and its outbox (shared/usecases.py)
StoreWork = shared_usecases.StoreWork[AcademieStore]


def transactions(
    begin: Callable[[], AbstractAsyncContextManager[UnitOfWork]],
) -> Callable[[], AbstractAsyncContextManager[StoreWork]]:
    """A ``begin`` factory for the use cases from the platform's (``runtime.unit_of_work``)."""
    return shared_usecases.transactions(begin, AcademieStore)
