"""SQL of the eligibility schema, and nothing else: ``EligibilityStore`` over a connection.

A 50k-learner roster must be stored with its events in one transaction in a few seconds, so rows
travel as column arrays in one statement rather than one statement per learner (unnest / COPY).
Every read returns domain values or small typed read models, never ``asyncpg.Record``;
the use cases (services/eligibility/usecases/) see only this class's methods, which is what lets
their tests swap in an in-memory store. ``transactions`` binds the store to the platform's unit of
work (one transaction, its events to the outbox). The learners' queries are here; the campaign
imports and assessments (store_assessments.py) and the sessions read model with the one-month
checks (store_sessions.py) are mixed into the class from beside it, their rows re-exported here.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import asyncpg

from services.eligibility.domain.campaign_matching import LearnerIdentity
from services.eligibility.domain.roster import RosterLearner, Sex
from services.eligibility.domain.roster_diff import ExistingLearner
from services.eligibility.store_assessments import AssessmentQueries, LearnerCertifiability
from services.eligibility.store_sessions import (
    CandidateRow,
    DueSession,
    SessionCandidate,
    SessionQueries,
    SessionRow,
)
from shared import usecases as shared_usecases
from shared.outbox import UnitOfWork

__all__ = [
    "LEARNER_FIELDS",
    "CandidateRow",
    "DueSession",
    "EligibilityStore",
    "LearnerCertifiability",
    "SessionCandidate",
    "SessionRow",
    "StoreWork",
    "StoredLearner",
    "transactions",
]

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


class EligibilityStore(AssessmentQueries, SessionQueries):
    """The eligibility schema over one connection (a transaction's) or the pool (plain reads); the
    learners' queries are here, the assessments' and the sessions' in store_<purpose>.py."""

    def __init__(self, conn: asyncpg.Connection | asyncpg.Pool) -> None:
        self.conn = conn

    # ---------------------------------------------------------------------------------------------
    # learners

    async def lock_school(self, uai: str) -> None:
        """Serialise imports of one school (two concurrent re-imports would each diff a stale roster)."""
        await self.conn.execute("SELECT pg_advisory_xact_lock(hashtext('eligibility.school.' || $1))", uai)

    async def school_learners(self, uai: str) -> list[ExistingLearner]:
        rows = await self.conn.fetch(
            f"SELECT learner_id, active, {_LEARNER_SELECT} FROM learners"
            " WHERE uai = $1 AND ine IS NOT NULL",  # an erased learner (no INE) is matched no more
            uai,
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
            " WHERE uai = $1 AND active AND ine IS NOT NULL",
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
# the unit of work the use cases get


#: one transaction of the service: its store and its outbox (shared/usecases.py)
StoreWork = shared_usecases.StoreWork[EligibilityStore]


def transactions(
    begin: Callable[[], AbstractAsyncContextManager[UnitOfWork]],
) -> Callable[[], AbstractAsyncContextManager[StoreWork]]:
    """A ``begin`` factory for the use cases from the platform's (``runtime.unit_of_work``)."""
    return shared_usecases.transactions(begin, EligibilityStore)
