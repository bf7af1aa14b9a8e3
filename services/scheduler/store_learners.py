"""SQL of the learners read model: learners, their certifiability, their classes, and who is free to plan."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

import asyncpg

from services.scheduler.domain.enrolment import Learner


@dataclass(frozen=True, slots=True)
class LearnerRow:
    learner: Learner
    ine: str | None
    active: bool


@dataclass(frozen=True, slots=True)
class LearnerSnapshotRow:
    """What the learners read model keeps of a LearnerRegistered / LearnerUpdated."""

    learner_id: str
    uai: str
    ine: str | None
    first_name: str
    last_name: str
    birthdate: date
    division: str
    active: bool
    at: datetime
    #: an earlier event of the same run left the learner different: written even if equal to the row
    changed_in_run: bool = False
    mef_code: str | None = None

    def fields(self) -> tuple:
        """What a replay must not touch the row for (all but the time)."""
        return (
            self.uai,
            self.ine,
            self.first_name,
            self.last_name,
            self.birthdate,
            self.division,
            self.active,
            self.mef_code,
        )


@dataclass(frozen=True, slots=True)
class CertifiabilityRow:
    """What the read model keeps of a CertifiabilityAssessed."""

    learner_id: str
    uai: str
    status: str
    certifiable_competences: int | None
    assessed_at: datetime


_LEARNERS = (
    "SELECT l.*, coalesce(c.status = 'certifiable', false) AS certifiable"
    " FROM learners l LEFT JOIN learner_certifiability c USING (learner_id)"
)


def _learner(row: asyncpg.Record) -> LearnerRow:
    return LearnerRow(
        Learner(
            id=row["learner_id"],
            school_id=row["uai"],
            last_name=row["last_name"],
            first_name=row["first_name"],
            birthdate=row["birthdate"],
            division=row["division"],
            certifiable=row["certifiable"],
        ),
        row["ine"],
        row["active"],
    )


@dataclass(frozen=True, slots=True)
class ClassCount:
    """One class of a school in the learners read model."""

    division: str
    learners: int
    certifiable: int


class LearnerQueries:
    """The learners read model, mixed into ``SchedulerStore`` (store.py); ``self.conn`` is the transaction's."""

    conn: asyncpg.Connection

    async def upsert_learners(self, snapshots: Sequence[LearnerSnapshotRow]) -> None:
        """The latest snapshot of each learner (one row per learner), in one statement.

        A snapshot equal to the stored row (a replay) leaves it untouched, unless the run it comes
        from changed the learner in between (``changed_in_run``): then it is written with its time.
        """
        if not snapshots:
            return
        await self.conn.execute(
            "INSERT INTO learners"
            " (learner_id, uai, ine, first_name, last_name, birthdate, division, active, updated_at,"
            " mef_code)"
            " SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],"
            " $6::date[], $7::text[], $8::boolean[], $9::timestamptz[], $11::text[])"
            " ON CONFLICT (learner_id) DO UPDATE SET uai = EXCLUDED.uai, ine = EXCLUDED.ine,"
            " first_name = EXCLUDED.first_name, last_name = EXCLUDED.last_name,"
            " birthdate = EXCLUDED.birthdate, division = EXCLUDED.division, active = EXCLUDED.active,"
            " updated_at = EXCLUDED.updated_at, mef_code = EXCLUDED.mef_code"
            " WHERE learners.learner_id = ANY($10::text[])"
            " OR (learners.uai, learners.ine, learners.first_name, learners.last_name, learners.birthdate,"
            " learners.division, learners.active, learners.mef_code) IS DISTINCT FROM (EXCLUDED.uai,"
            " EXCLUDED.ine, EXCLUDED.first_name, EXCLUDED.last_name, EXCLUDED.birthdate, EXCLUDED.division,"
            " EXCLUDED.active, EXCLUDED.mef_code)",
            [s.learner_id for s in snapshots],
            [s.uai for s in snapshots],
            [s.ine for s in snapshots],
            [s.first_name for s in snapshots],
            [s.last_name for s in snapshots],
            [s.birthdate for s in snapshots],
            [s.division for s in snapshots],
            [s.active for s in snapshots],
            [s.at for s in snapshots],
            [s.learner_id for s in snapshots if s.changed_in_run],
            [s.mef_code for s in snapshots],
        )

    async def deactivate_learners(self, deactivations: Mapping[str, datetime]) -> None:
        """learner id → time: the active ones become inactive at that time, the others stay as they are."""
        if not deactivations:
            return
        await self.conn.execute(
            "UPDATE learners l SET active = false, updated_at = d.at"
            " FROM unnest($1::text[], $2::timestamptz[]) AS d(learner_id, at)"
            " WHERE l.learner_id = d.learner_id AND l.active",
            list(deactivations),
            list(deactivations.values()),
        )

    async def upsert_certifiabilities(self, assessments: Sequence[CertifiabilityRow]) -> None:
        """One assessment per learner; kept unless the stored one is more recent (a late older one)."""
        if not assessments:
            return
        await self.conn.execute(
            "INSERT INTO learner_certifiability (learner_id, uai, status, certifiable_competences, assessed_at)"
            " SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::integer[], $5::timestamptz[])"
            " ON CONFLICT (learner_id) DO UPDATE SET uai = EXCLUDED.uai, status = EXCLUDED.status,"
            " certifiable_competences = EXCLUDED.certifiable_competences,"
            " assessed_at = EXCLUDED.assessed_at"
            " WHERE learner_certifiability.assessed_at <= EXCLUDED.assessed_at",
            [a.learner_id for a in assessments],
            [a.uai for a in assessments],
            [a.status for a in assessments],
            [a.certifiable_competences for a in assessments],
            [a.assessed_at for a in assessments],
        )

    async def learners_of_class(self, uai: str, division: str) -> list[LearnerRow]:
        rows = await self.conn.fetch(
            _LEARNERS
            + " WHERE l.uai = $1 AND l.division = $2 AND l.active ORDER BY l.last_name, l.first_name",
            uai,
            division,
        )
        return [_learner(r) for r in rows]

    async def learners_by_id(self, ids: Iterable[str]) -> dict[str, LearnerRow]:
        rows = await self.conn.fetch(_LEARNERS + " WHERE l.learner_id = ANY($1::text[])", list(ids))
        return {r["learner_id"]: _learner(r) for r in rows}

    async def divisions(self, uai: str) -> list[str]:
        rows = await self.conn.fetch(
            "SELECT DISTINCT division FROM learners WHERE uai = $1 AND active ORDER BY division", uai
        )
        return [r["division"] for r in rows]

    async def division_mef_counts(self, uai: str) -> dict[str, dict[str | None, int]]:
        """division → {MEF code: its active learners} of the school (the planner's level of each class)."""
        rows = await self.conn.fetch(
            "SELECT division, mef_code, count(*) AS learners FROM learners"
            " WHERE uai = $1 AND active GROUP BY division, mef_code ORDER BY division, mef_code",
            uai,
        )
        counts: dict[str, dict[str | None, int]] = {}
        for row in rows:
            counts.setdefault(row["division"], {})[row["mef_code"]] = row["learners"]
        return counts

    async def class_counts(self, uai: str) -> list[ClassCount]:
        rows = await self.conn.fetch(
            "SELECT l.division, count(*) AS learners,"
            " count(*) FILTER (WHERE c.status = 'certifiable') AS certifiable"
            " FROM learners l LEFT JOIN learner_certifiability c USING (learner_id)"
            " WHERE l.uai = $1 AND l.active GROUP BY l.division ORDER BY l.division",
            uai,
        )
        return [ClassCount(r["division"], r["learners"], r["certifiable"]) for r in rows]

    async def plannable_learners(self, uai: str) -> dict[str, list[str]]:
        """Certifiable active learners of the school not yet in a live session, by class (ids sorted by name)."""
        rows = await self.conn.fetch(
            "SELECT l.learner_id, l.division FROM learners l"
            " JOIN learner_certifiability c USING (learner_id)"
            " WHERE l.uai = $1 AND l.active AND c.status = 'certifiable'"
            " AND NOT EXISTS (SELECT 1 FROM candidates k JOIN sessions s USING (session_id)"
            "                 WHERE k.learner_id = l.learner_id AND s.status = 'scheduled'"
            "                 AND k.released_at IS NULL)"
            " ORDER BY l.division, l.last_name, l.first_name, l.learner_id",
            uai,
        )
        classes: dict[str, list[str]] = {}
        for row in rows:
            classes.setdefault(row["division"], []).append(row["learner_id"])
        return classes

    async def learners_in_other_live_sessions(
        self, learner_ids: Iterable[str], session_id: uuid.UUID
    ) -> dict[str, int]:
        """learner id → number of the other live session holding them (an absent or aborted candidate
        of a finalised session is released: it holds no one)."""
        rows = await self.conn.fetch(
            "SELECT k.learner_id, s.session_number FROM candidates k JOIN sessions s USING (session_id)"
            " WHERE k.learner_id = ANY($1::text[]) AND s.status = 'scheduled' AND s.session_id <> $2"
            " AND k.released_at IS NULL",
            list(learner_ids),
            session_id,
        )
        return {r["learner_id"]: r["session_number"] for r in rows}
