"""SQL of the scheduler's own schema: ``SchedulerStore`` on one transaction's connection.

Nothing here decides anything; the use cases and the event handlers call it inside their unit of
work. It returns domain values (``Session``, ``Learner``, ``Candidate``, ``PlanProposal``) or the
typed read models below, never an ``asyncpg.Record``. All of the service's SQL is here (one file on
purpose, past 400 lines: reading one table's queries next to the others' is what keeps the locks
and the indexes of the migration consistent); tests/unit/scheduler/fakes.py is its in-memory twin.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import asyncpg

from services.scheduler.domain.enrolment import Candidate, Learner
from services.scheduler.domain.lifecycle import LifecycleDates
from services.scheduler.domain.planner import Room
from services.scheduler.domain.plans import PlanProposal
from services.scheduler.domain.sessions import PixCertifLink, Session
from services.scheduler.store_lifecycle import LifecycleQueries
from shared import usecases as shared_usecases
from shared.outbox import UnitOfWork

LIVE = "scheduled"


@dataclass(frozen=True, slots=True)
class StaffRow:
    name: str
    #: None = whenever the school is open; else [{"date": "YYYY-MM-DD", "half_day": "morning"}, …]
    availability: list[dict[str, str]] | None


@dataclass(frozen=True, slots=True)
class SchoolRow:
    uai: str
    name: str
    level: str
    city: str
    site: str
    hours: dict[str, Any]
    rooms: tuple[Room, ...]
    staff: tuple[StaffRow, ...]
    updated_at: datetime


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
class SessionRow:
    session_id: uuid.UUID
    uai: str
    status: str
    password_hash: str
    plan_id: uuid.UUID | None
    finalised_at: datetime | None
    created_at: datetime
    updated_at: datetime
    session: Session
    #: when each step of its lifecycle was reached (issue 16: store_lifecycle.py)
    lifecycle: LifecycleDates = field(default_factory=LifecycleDates)

    @property
    def is_live(self) -> bool:
        return self.status == LIVE


def _session(row: asyncpg.Record) -> SessionRow:
    return SessionRow(
        session_id=row["session_id"],
        uai=row["uai"],
        status=row["status"],
        password_hash=row["invigilator_password_hash"],
        plan_id=row["plan_id"],
        finalised_at=row["finalised_at"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        session=Session(
            number=row["session_number"],
            site=row["site"],
            room=row["room"],
            invigilators=tuple(row["invigilators"]),
            day=row["day"],
            time=row["time"],
            access_code=row["access_code"],
            invigilator_password=row["invigilator_password"],
            observations=row["observations"],
            first_test_started_at=row["first_test_started_at"],
            pix=_pix_link(row),
        ),
        lifecycle=LifecycleDates(
            convoked_at=row["convoked_at"],
            started_at=row["first_test_started_at"],
            finalised_at=row["finalised_at"],
            results_received_at=row["results_received_at"],
            exported_at=row["exported_at"],
        ),
    )


def _pix_link(row: asyncpg.Record) -> PixCertifLink | None:
    if row["pix_session_number"] is None:
        return None
    return PixCertifLink(row["pix_session_number"], row["pix_access_code"], row["pix_invigilator_password"])


@dataclass(frozen=True, slots=True)
class CandidateRow:
    candidate_id: uuid.UUID
    ine: str | None
    enrolled_at: datetime
    candidate: Candidate


def _candidate(row: asyncpg.Record) -> CandidateRow:
    return CandidateRow(
        candidate_id=row["candidate_id"],
        ine=row["ine"],
        enrolled_at=row["enrolled_at"],
        candidate=Candidate(
            learner_id=row["learner_id"],
            session_number=row["session_number"],
            last_name=row["last_name"],
            first_name=row["first_name"],
            birthdate=row["birthdate"],
            division=row["division"],
            extra_time_percentage=row["extra_time_percentage"],
            certifiability_override=row["override_reason"],
            adapted_conditions=row["adapted_conditions"],
        ),
    )


@dataclass(frozen=True, slots=True)
class PlanRow:
    plan_id: uuid.UUID
    uai: str
    school_year: str
    status: str
    proposal: PlanProposal
    created_at: datetime
    confirmed_at: datetime | None


@dataclass(frozen=True, slots=True)
class ClassCount:
    """One class of a school in the learners read model."""

    division: str
    learners: int
    certifiable: int


@dataclass(frozen=True, slots=True)
class IssuedDocument:
    """A document whose fingerprint was recorded when it was issued (ConvocationsIssued)."""

    kind: str
    file_name: str
    sha256: str
    size_bytes: int
    candidate_ids: tuple[uuid.UUID, ...]
    issued_at: datetime


def _plan(row: asyncpg.Record) -> PlanRow:
    return PlanRow(
        row["plan_id"],
        row["uai"],
        row["school_year"],
        row["status"],
        PlanProposal.from_json(row["proposal"]),
        row["created_at"],
        row["confirmed_at"],
    )


class SchedulerStore(LifecycleQueries):
    """The scheduler's SQL, on one connection (the unit of work's transaction); the lifecycle's
    queries (issue 16) are in store_lifecycle.py."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def lock_school(self, uai: str) -> bool:
        """Serialise the commands of one school (session overlaps, enrolments); False if unknown."""
        return bool(await self.conn.fetchval("SELECT true FROM schools WHERE uai = $1 FOR UPDATE", uai))

    async def get_school(self, uai: str) -> SchoolRow | None:
        row = await self.conn.fetchrow("SELECT * FROM schools WHERE uai = $1", uai)
        if row is None:
            return None
        rooms = await self.conn.fetch("SELECT * FROM rooms WHERE uai = $1 ORDER BY position, name", uai)
        staff = await self.conn.fetch("SELECT * FROM staff WHERE uai = $1 ORDER BY position, name", uai)
        return SchoolRow(
            uai=row["uai"],
            name=row["name"],
            level=row["level"],
            city=row["city"],
            site=row["site"],
            hours=row["hours"],
            rooms=tuple(Room(r["name"], r["workstations"], r["site"]) for r in rooms),
            staff=tuple(StaffRow(s["name"], s["availability"]) for s in staff),
            updated_at=row["updated_at"],
        )

    async def upsert_school(
        self,
        *,
        uai: str,
        name: str,
        level: str,
        city: str,
        site: str,
        hours: Mapping[str, Any],
        rooms: Sequence[Room],
        staff: Sequence[StaffRow],
        now: datetime,
    ) -> bool:
        """Replace the school's description (rooms and staff included); True when it was created."""
        created = await self.conn.fetchval(
            "INSERT INTO schools (uai, name, level, city, site, hours, created_at, updated_at)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $7)"
            " ON CONFLICT (uai) DO UPDATE SET name = $2, level = $3, city = $4, site = $5, hours = $6,"
            " updated_at = $7"
            " RETURNING (xmax = 0)",  # xmax = 0 only for a freshly inserted row
            uai,
            name,
            level,
            city,
            site,
            dict(hours),
            now,
        )
        await self.conn.execute("DELETE FROM rooms WHERE uai = $1", uai)
        await self.conn.executemany(
            "INSERT INTO rooms (uai, name, workstations, site, position) VALUES ($1, $2, $3, $4, $5)",
            [(uai, r.name, r.workstations, r.site, i) for i, r in enumerate(rooms)],
        )
        await self.conn.execute("DELETE FROM staff WHERE uai = $1", uai)
        await self.conn.executemany(
            "INSERT INTO staff (uai, name, availability, position) VALUES ($1, $2, $3, $4)",
            [(uai, s.name, s.availability, i) for i, s in enumerate(staff)],
        )
        return bool(created)

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

    async def next_session_number(self) -> int:
        return int(await self.conn.fetchval("SELECT nextval('session_number_seq')"))

    async def live_access_codes(self) -> set[str]:
        """Access codes of every live session, read under a lock held until the transaction ends.

        Codes are unique across the académie while schools are locked one by one: without this lock two
        schools creating sessions at once could draw the same code and the second insert would fail.
        """
        await self.conn.execute(
            "SELECT pg_advisory_xact_lock(hashtext('certibus.scheduler.access_codes.' || current_schema()))"
        )
        rows = await self.conn.fetch("SELECT access_code FROM sessions WHERE status = 'scheduled'")
        return {r["access_code"] for r in rows}

    async def live_sessions(self, uai: str) -> list[SessionRow]:
        rows = await self.conn.fetch(
            "SELECT * FROM sessions WHERE uai = $1 AND status = 'scheduled' ORDER BY day, time, session_number",
            uai,
        )
        return [_session(r) for r in rows]

    async def school_sessions(
        self, uai: str, *, include_cancelled: bool = False, day: date | None = None
    ) -> list[SessionRow]:
        rows = await self.conn.fetch(
            "SELECT * FROM sessions WHERE uai = $1 AND ($2 OR status = 'scheduled')"
            " AND ($3::date IS NULL OR day = $3) ORDER BY day, time, session_number",
            uai,
            include_cancelled,
            day,
        )
        return [_session(r) for r in rows]

    async def get_session(self, session_id: uuid.UUID, *, for_update: bool = False) -> SessionRow | None:
        row = await self.conn.fetchrow(
            "SELECT * FROM sessions WHERE session_id = $1" + (" FOR UPDATE" if for_update else ""), session_id
        )
        return _session(row) if row else None

    async def insert_session(
        self,
        *,
        session_id: uuid.UUID,
        uai: str,
        session: Session,
        password_hash: str,
        plan_id: uuid.UUID | None,
        now: datetime,
    ) -> None:
        await self.conn.execute(
            "INSERT INTO sessions (session_id, session_number, uai, site, room, invigilators, day, time,"
            " observations, access_code, invigilator_password, invigilator_password_hash, plan_id,"
            " created_at, updated_at)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14)",
            session_id,
            session.number,
            uai,
            session.site,
            session.room,
            list(session.invigilators),
            session.day,
            session.time,
            session.observations,
            session.access_code,
            session.invigilator_password,
            password_hash,
            plan_id,
            now,
        )

    async def update_session(self, session_id: uuid.UUID, session: Session, now: datetime) -> None:
        await self.conn.execute(
            "UPDATE sessions SET site = $2, room = $3, invigilators = $4, day = $5, time = $6,"
            " observations = $7, updated_at = $8 WHERE session_id = $1",
            session_id,
            session.site,
            session.room,
            list(session.invigilators),
            session.day,
            session.time,
            session.observations,
            now,
        )

    async def record_pix_links(
        self, links: Mapping[uuid.UUID, tuple[PixCertifLink, str]], now: datetime
    ) -> None:
        """Session id → (Pix's values, the verifier of Pix's password), in one statement."""
        if not links:
            return
        await self.conn.execute(
            "UPDATE sessions s SET pix_session_number = l.number, pix_access_code = l.access_code,"
            " pix_invigilator_password = l.password, invigilator_password_hash = l.verifier,"
            " pix_recorded_at = $6, updated_at = $6"
            " FROM unnest($1::uuid[], $2::integer[], $3::text[], $4::text[], $5::text[])"
            " AS l(session_id, number, access_code, password, verifier)"
            " WHERE s.session_id = l.session_id",
            list(links),
            [link.number for link, _ in links.values()],
            [link.access_code for link, _ in links.values()],
            [link.invigilator_password for link, _ in links.values()],
            [verifier for _, verifier in links.values()],
            now,
        )

    async def live_pix_numbers(self, numbers: Iterable[int]) -> dict[int, int]:
        """Pix session number → certibus number of the live session holding it (of ``numbers``)."""
        rows = await self.conn.fetch(
            "SELECT pix_session_number, session_number FROM sessions"
            " WHERE status = 'scheduled' AND pix_session_number = ANY($1::integer[])",
            list(numbers),
        )
        return {r["pix_session_number"]: r["session_number"] for r in rows}

    async def plan_sessions(self, plan_id: uuid.UUID) -> list[SessionRow]:
        """The live sessions a confirmed plan created, in date order."""
        rows = await self.conn.fetch(
            "SELECT * FROM sessions WHERE plan_id = $1 AND status = 'scheduled'"
            " ORDER BY day, time, session_number",
            plan_id,
        )
        return [_session(r) for r in rows]

    async def session_classes(self, session_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, tuple[str, ...]]:
        """Session id → the classes of its candidates, sorted (sessions without any are absent)."""
        rows = await self.conn.fetch(
            "SELECT session_id, array_agg(DISTINCT division ORDER BY division) AS divisions"
            " FROM candidates WHERE session_id = ANY($1::uuid[]) GROUP BY session_id",
            list(session_ids),
        )
        return {r["session_id"]: tuple(r["divisions"]) for r in rows}

    async def cancel_session(self, session_id: uuid.UUID, now: datetime) -> None:
        await self.conn.execute(
            "UPDATE sessions SET status = 'cancelled', cancelled_at = $2, updated_at = $2 WHERE session_id = $1",
            session_id,
            now,
        )

    async def mark_started(self, session_id: uuid.UUID, started_at: datetime) -> bool:
        """Record that a test started; keeps the earliest start whatever the order of arrival.

        False when the session is unknown.
        """
        result = await self.conn.execute(
            "UPDATE sessions SET first_test_started_at = least(coalesce(first_test_started_at, $2), $2)"
            " WHERE session_id = $1",
            session_id,
            started_at,
        )
        return result != "UPDATE 0"

    async def mark_finalised(
        self, session_id: uuid.UUID, *, started_at: datetime, finalised_at: datetime
    ) -> bool:
        """Lock a session finalisation closed; keeps the earliest start. False when the session is unknown."""
        result = await self.conn.execute(
            "UPDATE sessions SET first_test_started_at = least(coalesce(first_test_started_at, $2), $2),"
            " finalised_at = greatest(coalesce(finalised_at, $3), $3) WHERE session_id = $1",
            session_id,
            started_at,
            finalised_at,
        )
        return result != "UPDATE 0"

    async def candidates(self, session_id: uuid.UUID) -> list[CandidateRow]:
        rows = await self.conn.fetch(
            "SELECT k.*, s.session_number FROM candidates k JOIN sessions s USING (session_id)"
            " WHERE k.session_id = $1 ORDER BY k.last_name, k.first_name, k.birthdate",
            session_id,
        )
        return [_candidate(r) for r in rows]

    async def candidate_counts(self, session_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
        """session id → number of its candidates (sessions without any are absent)."""
        rows = await self.conn.fetch(
            "SELECT session_id, count(*) FROM candidates WHERE session_id = ANY($1::uuid[])"
            " GROUP BY session_id",
            list(session_ids),
        )
        return {r[0]: r[1] for r in rows}

    async def insert_candidates(
        self,
        session_id: uuid.UUID,
        enrolled: Sequence[tuple[uuid.UUID, str | None, Candidate]],
        now: datetime,
    ) -> None:
        await self.conn.executemany(
            "INSERT INTO candidates (candidate_id, session_id, learner_id, ine, first_name, last_name,"
            " birthdate, division, extra_time_percentage, override_reason, enrolled_at, adapted_conditions)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            [
                (
                    candidate_id,
                    session_id,
                    c.learner_id,
                    ine,
                    c.first_name,
                    c.last_name,
                    c.birthdate,
                    c.division,
                    c.extra_time_percentage,
                    c.certifiability_override,
                    now,
                    c.adapted_conditions,
                )
                for candidate_id, ine, c in enrolled
            ],
        )

    async def delete_candidate(self, session_id: uuid.UUID, candidate_id: uuid.UUID) -> str | None:
        """Remove a candidate; returns its learner id, None when not a candidate of that session."""
        return await self.conn.fetchval(
            "DELETE FROM candidates WHERE session_id = $1 AND candidate_id = $2 RETURNING learner_id",
            session_id,
            candidate_id,
        )

    async def insert_plan(
        self,
        *,
        plan_id: uuid.UUID,
        uai: str,
        school_year: str,
        status: str,
        proposal: PlanProposal,
        now: datetime,
    ) -> None:
        await self.conn.execute(
            "INSERT INTO plans (plan_id, uai, school_year, status, proposal, created_at)"
            " VALUES ($1, $2, $3, $4, $5, $6)",
            plan_id,
            uai,
            school_year,
            status,
            proposal.to_json(),
            now,
        )

    async def school_of(self, resource_id: uuid.UUID) -> str | None:
        """The UAI of the session or plan ``resource_id`` (ids are UUIDs: never both); None if unknown."""
        return await self.conn.fetchval(
            "SELECT uai FROM sessions WHERE session_id = $1"
            " UNION ALL SELECT uai FROM plans WHERE plan_id = $1 LIMIT 1",
            resource_id,
        )

    async def get_plan(self, plan_id: uuid.UUID, *, for_update: bool = False) -> PlanRow | None:
        row = await self.conn.fetchrow(
            "SELECT * FROM plans WHERE plan_id = $1" + (" FOR UPDATE" if for_update else ""), plan_id
        )
        return _plan(row) if row else None

    async def confirm_plan(self, plan_id: uuid.UUID, now: datetime) -> None:
        await self.conn.execute(
            "UPDATE plans SET status = 'confirmed', confirmed_at = $2 WHERE plan_id = $1", plan_id, now
        )

    async def insert_document(
        self,
        *,
        session_id: uuid.UUID | None,
        uai: str,
        kind: str,
        file_name: str,
        sha256: str,
        size_bytes: int,
        candidate_ids: Sequence[uuid.UUID],
        now: datetime,
    ) -> uuid.UUID:
        document_id = uuid.uuid4()
        await self.conn.execute(
            "INSERT INTO documents (document_id, session_id, uai, kind, file_name, sha256, size_bytes,"
            " candidate_ids, issued_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            document_id,
            session_id,
            uai,
            kind,
            file_name,
            sha256,
            size_bytes,
            list(candidate_ids),
            now,
        )
        return document_id

    async def rendered(self, key: str, inputs_sha256: str) -> bytes | None:
        """The document ``key`` as rendered from these inputs, None when it never was (or they changed)."""
        content = await self.conn.fetchval(
            "SELECT content FROM rendered_documents WHERE key = $1 AND inputs_sha256 = $2", key, inputs_sha256
        )
        return None if content is None else bytes(content)

    async def keep_rendered(self, key: str, inputs_sha256: str, content: bytes) -> None:
        await self.conn.execute(
            "INSERT INTO rendered_documents (key, inputs_sha256, content) VALUES ($1, $2, $3)"
            " ON CONFLICT (key) DO UPDATE SET inputs_sha256 = $2, content = $3, rendered_at = now()",
            key,
            inputs_sha256,
            content,
        )

    async def session_documents(self, session_id: uuid.UUID) -> list[IssuedDocument]:
        rows = await self.conn.fetch(
            "SELECT kind, file_name, sha256, size_bytes, candidate_ids, issued_at FROM documents"
            " WHERE session_id = $1 ORDER BY issued_at",
            session_id,
        )
        return [
            IssuedDocument(
                r["kind"],
                r["file_name"],
                r["sha256"],
                r["size_bytes"],
                tuple(r["candidate_ids"]),
                r["issued_at"],
            )
            for r in rows
        ]


#: one transaction of the service: its store and its outbox (shared/usecases.py)
StoreUnitOfWork = shared_usecases.StoreWork[SchedulerStore]


def transactions(
    begin_outbox: Callable[[], AbstractAsyncContextManager[UnitOfWork]],
) -> Callable[[], AbstractAsyncContextManager[StoreUnitOfWork]]:
    """The ``begin`` factory of the use cases, from the runtime's ``unit_of_work``."""
    return shared_usecases.transactions(begin_outbox, SchedulerStore)
