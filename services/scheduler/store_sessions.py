"""SQL of the sessions: numbers and access codes, creation and changes, Pix Certif links, cancellation, start and finalisation."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

import asyncpg

from services.scheduler.domain.lifecycle import LifecycleDates
from services.scheduler.domain.sessions import PixCertifLink, Session

LIVE = "scheduled"


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


class SessionQueries:
    """Sessions, mixed into ``SchedulerStore`` (store.py); ``self.conn`` is the transaction's."""

    conn: asyncpg.Connection

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
