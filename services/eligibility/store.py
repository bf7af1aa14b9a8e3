"""SQL of the eligibility schema, and nothing else: ``EligibilityStore`` over a connection.

A 50k-learner roster must be stored with its events in one transaction in a few seconds, so rows
travel as column arrays in one statement rather than one statement per learner (unnest / COPY).
Every read returns domain values or the small typed read models below, never ``asyncpg.Record``;
the use cases (services/eligibility/usecases/) see only this class's methods, which is what lets
their tests swap in an in-memory store. ``transactions`` binds the store to the platform's unit of
work (one transaction, its events to the outbox). Over 400 lines because it is all of the
service's SQL: split by table it would scatter the one place a reviewer checks queries.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import asyncpg

from services.eligibility.domain.campaign_matching import LearnerIdentity
from services.eligibility.domain.certifiability import (
    AssessmentOrigin,
    CertifiabilityAssessment,
    CertifiabilityStatus,
    CurrentAssessment,
    Disagreement,
)
from services.eligibility.domain.roster import RosterLearner, Sex
from services.eligibility.domain.roster_diff import ExistingLearner
from shared import usecases as shared_usecases
from shared.outbox import UnitOfWork

#: Learner columns holding the RosterLearner fields, in RosterLearner's order.
LEARNER_FIELDS = (
    "ine",
    "first_name",
    "last_name",
    "birth_date",
    "sex",
    "division",
    "mef_code",
    "status",
    "birth_country_code",
    "birth_department_code",
    "birth_city_code",
    "birth_city",
    "second_name",
    "third_name",
    "usage_name",
)
_LEARNER_SELECT = ", ".join(LEARNER_FIELDS)


def _record_of(row: asyncpg.Record) -> RosterLearner:
    values = {name: row[name] for name in LEARNER_FIELDS}
    values["sex"] = Sex(values["sex"])
    return RosterLearner(**values)


def _field_values(learner: RosterLearner) -> tuple[Any, ...]:
    return tuple(learner.sex.value if name == "sex" else getattr(learner, name) for name in LEARNER_FIELDS)


def _assessment(row: asyncpg.Record) -> CertifiabilityAssessment:
    return CertifiabilityAssessment(
        str(row["learner_id"]),
        CertifiabilityStatus(row["status"]),
        row["certifiable_count"],
        row["levels"],
        row["shared_at"],
        row["source_line"],
        (),
        row["pix_total"],
    )


# ---------------------------------------------------------------------------------------------
# read models


@dataclass(frozen=True, slots=True)
class StoredLearner:
    """A learner as the school's list shows it (every roster field, and whether still active)."""

    learner_id: str
    active: bool
    deactivated_at: datetime | None
    ine: str
    first_name: str
    last_name: str
    birth_date: date
    sex: str
    division: str
    mef_code: str
    status: str
    birth_country_code: str
    birth_department_code: str
    birth_city_code: str
    birth_city: str
    second_name: str
    third_name: str
    usage_name: str


@dataclass(frozen=True, slots=True)
class LearnerCertifiability:
    """An active learner of a dashboard with their stored assessment (None: never assessed)."""

    learner_id: str
    ine: str
    first_name: str
    last_name: str
    division: str
    source: str | None
    assessment: CertifiabilityAssessment | None
    origin: str | None = None  # campaign_export / orga_certificability
    certifiable_at: date | None = None  # Orga's computation day (orga_certificability only)


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


class EligibilityStore:
    """The eligibility schema over one connection (a transaction's) or the pool (plain reads)."""

    def __init__(self, conn: asyncpg.Connection | asyncpg.Pool) -> None:
        self.conn = conn

    # ---------------------------------------------------------------------------------------------
    # learners

    async def lock_school(self, uai: str) -> None:
        """Serialise imports of one school (two concurrent re-imports would each diff a stale roster)."""
        await self.conn.execute("SELECT pg_advisory_xact_lock(hashtext('eligibility.school.' || $1))", uai)

    async def school_learners(self, uai: str) -> list[ExistingLearner]:
        rows = await self.conn.fetch(
            f"SELECT learner_id, active, {_LEARNER_SELECT} FROM learners WHERE uai = $1", uai
        )
        return [ExistingLearner(str(row["learner_id"]), _record_of(row), row["active"]) for row in rows]

    async def insert_learners(
        self,
        uai: str,
        learners: Sequence[tuple[str, RosterLearner]],
        import_id: str,
        now: datetime,
    ) -> None:
        """New learners with their ids, by COPY."""
        if not learners:
            return
        import_uuid = uuid.UUID(import_id)
        await self.conn.copy_records_to_table(
            "learners",
            columns=[
                "learner_id",
                "uai",
                *LEARNER_FIELDS,
                "active",
                "registered_at",
                "updated_at",
                "last_import_id",
            ],
            records=[
                (uuid.UUID(learner_id), uai, *_field_values(learner), True, now, now, import_uuid)
                for learner_id, learner in learners
            ],
        )

    async def update_learners(
        self,
        learners: Sequence[tuple[str, RosterLearner]],
        import_id: str,
        now: datetime,
    ) -> None:
        """Overwrite the SIECLE fields of existing learners and mark them active (updates, reactivations)."""
        if not learners:
            return
        columns = list(zip(*(_field_values(learner) for _, learner in learners), strict=True))
        types = ["date" if name == "birth_date" else "text" for name in LEARNER_FIELDS]
        unnest = ", ".join(f"${i + 2}::{t}[]" for i, t in enumerate(types))
        assignments = ", ".join(f"{name} = u.{name}" for name in LEARNER_FIELDS)
        await self.conn.execute(
            f"UPDATE learners l SET {assignments}, active = true, deactivated_at = NULL,"
            f" updated_at = ${len(types) + 2}, last_import_id = ${len(types) + 3}"
            f" FROM unnest($1::uuid[], {unnest}) AS u(learner_id, {_LEARNER_SELECT})"
            " WHERE l.learner_id = u.learner_id",
            [uuid.UUID(learner_id) for learner_id, _ in learners],
            *[list(column) for column in columns],
            now,
            uuid.UUID(import_id),
        )

    async def deactivate_learners(self, learner_ids: Sequence[str], import_id: str, now: datetime) -> None:
        if not learner_ids:
            return
        await self.conn.execute(
            "UPDATE learners SET active = false, deactivated_at = $2, updated_at = $2, last_import_id = $3"
            " WHERE learner_id = ANY($1::uuid[])",
            [uuid.UUID(i) for i in learner_ids],
            now,
            uuid.UUID(import_id),
        )

    async def insert_roster_import(self, **values: Any) -> None:
        values["skipped"] = json.dumps(values["skipped"])
        names = list(values)
        await self.conn.execute(
            f"INSERT INTO roster_imports ({', '.join(names)})"
            f" VALUES ({', '.join(f'${i + 1}' for i in range(len(names)))})",
            *values.values(),
        )

    async def active_identities(self, uai: str) -> list[LearnerIdentity]:
        rows = await self.conn.fetch(
            "SELECT learner_id, ine, last_name, first_name, division, usage_name FROM learners"
            " WHERE uai = $1 AND active",
            uai,
        )
        return [
            LearnerIdentity(
                str(r["learner_id"]),
                r["ine"],
                r["last_name"],
                r["first_name"],
                r["division"],
                r["usage_name"],
            )
            for r in rows
        ]

    async def list_learners(
        self, uai: str, division: str | None, include_inactive: bool
    ) -> list[StoredLearner]:
        rows = await self.conn.fetch(
            f"SELECT learner_id, active, deactivated_at, {_LEARNER_SELECT} FROM learners"
            " WHERE uai = $1 AND ($2::text IS NULL OR division = $2) AND (active OR $3)"
            " ORDER BY division, last_name, first_name, learner_id",
            uai,
            division,
            include_inactive,
        )
        return [StoredLearner(**{**dict(r), "learner_id": str(r["learner_id"])}) for r in rows]

    async def learner_divisions(self, learner_ids: Sequence[str]) -> dict[str, str]:
        rows = await self.conn.fetch(
            "SELECT learner_id, division FROM learners WHERE learner_id = ANY($1::uuid[])",
            [uuid.UUID(i) for i in learner_ids],
        )
        return {str(r["learner_id"]): r["division"] for r in rows}

    # ---------------------------------------------------------------------------------------------
    # campaign imports and assessments

    async def insert_campaign_import(self, **values: Any) -> None:
        values["unmatched"] = json.dumps(values["unmatched"])
        values["ambiguous"] = json.dumps(values["ambiguous"])
        names = list(values)
        await self.conn.execute(
            f"INSERT INTO campaign_imports ({', '.join(names)})"
            f" VALUES ({', '.join(f'${i + 1}' for i in range(len(names)))})",
            *values.values(),
        )

    async def current_assessments(self, learner_ids: Sequence[str]) -> dict[str, CurrentAssessment]:
        """Each learner's stored status, origin and date (the share's or Orga's computation's)."""
        rows = await self.conn.fetch(
            "SELECT learner_id, status, origin, CASE WHEN origin = 'orga_certificability'"
            " THEN certifiable_at ELSE shared_at END AS dated"
            " FROM assessments WHERE learner_id = ANY($1::uuid[])",
            [uuid.UUID(i) for i in learner_ids],
        )
        return {
            str(r["learner_id"]): CurrentAssessment(
                CertifiabilityStatus(r["status"]), AssessmentOrigin(r["origin"]), r["dated"]
            )
            for r in rows
        }

    async def upsert_assessments(
        self,
        uai: str,
        assessments: Sequence[CertifiabilityAssessment],
        source: str,
        import_id: str,
        now: datetime,
    ) -> None:
        if not assessments:
            return
        await self.conn.execute(
            "INSERT INTO assessments (learner_id, uai, status, certifiable_count, levels, pix_total,"
            " shared_at, source, source_line, import_id, assessed_at)"
            " SELECT a.learner_id, $2, a.status, a.certifiable_count, a.levels::jsonb, a.pix_total,"
            " a.shared_at, $3, a.source_line, $4, $5"
            " FROM unnest($1::uuid[], $6::text[], $7::int[], $8::text[], $9::int[], $10::date[], $11::int[])"
            " AS a(learner_id, status, certifiable_count, levels, pix_total, shared_at, source_line)"
            " ON CONFLICT (learner_id) DO UPDATE SET uai = EXCLUDED.uai, status = EXCLUDED.status,"
            " certifiable_count = EXCLUDED.certifiable_count, levels = EXCLUDED.levels,"
            " pix_total = EXCLUDED.pix_total, shared_at = EXCLUDED.shared_at, source = EXCLUDED.source,"
            " source_line = EXCLUDED.source_line, import_id = EXCLUDED.import_id,"
            " assessed_at = EXCLUDED.assessed_at, origin = 'campaign_export', certifiable_at = NULL",
            [uuid.UUID(a.learner_id) for a in assessments],
            uai,
            source,
            uuid.UUID(import_id),
            now,
            [a.status.value for a in assessments],
            [a.certifiable_count for a in assessments],
            [None if a.levels is None else json.dumps(dict(a.levels)) for a in assessments],
            [a.pix_total for a in assessments],
            [a.shared_at for a in assessments],
            [a.source_line for a in assessments],
        )

    async def insert_disagreements(
        self, import_id: str, disagreements: Sequence[tuple[str, Disagreement]]
    ) -> None:
        if not disagreements:
            return
        await self.conn.execute(
            "INSERT INTO assessment_disagreements (import_id, learner_id, rule, file_value, computed_value, line)"
            " SELECT $1, d.learner_id, d.rule, d.file_value, d.computed_value, d.line"
            " FROM unnest($2::uuid[], $3::text[], $4::text[], $5::text[], $6::int[])"
            " AS d(learner_id, rule, file_value, computed_value, line)"
            " ON CONFLICT DO NOTHING",
            uuid.UUID(import_id),
            [uuid.UUID(learner_id) for learner_id, _ in disagreements],
            [d.rule.value for _, d in disagreements],
            [str(d.file_value) for _, d in disagreements],
            [str(d.computed_value) for _, d in disagreements],
            [d.line for _, d in disagreements],
        )

    async def assessments_of(self, learner_ids: Iterable[str]) -> dict[str, CertifiabilityAssessment]:
        """Stored assessments as domain objects (for dashboards and the one-month check)."""
        ids = [uuid.UUID(i) for i in learner_ids]
        rows = await self.conn.fetch(
            "SELECT learner_id, status, certifiable_count, levels, shared_at, source_line, pix_total"
            " FROM assessments WHERE learner_id = ANY($1::uuid[])",
            ids,
        )
        return {str(r["learner_id"]): _assessment(r) for r in rows}

    async def school_certifiability(
        self, uai: str, division: str | None = None
    ) -> list[LearnerCertifiability]:
        """Active learners of a school (or one class) with their assessment, if any."""
        rows = await self.conn.fetch(
            "SELECT l.learner_id, l.ine, l.first_name, l.last_name, l.usage_name, l.division,"
            " a.status, a.certifiable_count, a.levels, a.shared_at, a.source_line, a.pix_total, a.source,"
            " a.origin, a.certifiable_at"
            " FROM learners l LEFT JOIN assessments a USING (learner_id)"
            " WHERE l.uai = $1 AND l.active AND ($2::text IS NULL OR l.division = $2)"
            " ORDER BY l.division, l.last_name, l.first_name, l.learner_id",
            uai,
            division,
        )
        return [
            LearnerCertifiability(
                str(r["learner_id"]),
                r["ine"],
                r["first_name"],
                r["last_name"],
                r["division"],
                r["source"],
                None if r["status"] is None else _assessment(r),
                r["origin"],
                r["certifiable_at"],
            )
            for r in rows
        ]

    # ---------------------------------------------------------------------------------------------
    # sessions read model (from the scheduler's events) and the one-month checks

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


# ---------------------------------------------------------------------------------------------
# the unit of work the use cases get


#: one transaction of the service: its store and its outbox (shared/usecases.py)
StoreWork = shared_usecases.StoreWork[EligibilityStore]


def transactions(
    begin: Callable[[], AbstractAsyncContextManager[UnitOfWork]],
) -> Callable[[], AbstractAsyncContextManager[StoreWork]]:
    """A ``begin`` factory for the use cases from the platform's (``runtime.unit_of_work``)."""
    return shared_usecases.transactions(begin, EligibilityStore)
