"""SQL of the room: its seats (one click loads and writes one), its first start, the invigilator's access and the incidents."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from services.finalisation.domain.invigilation import (
    CandidateSeat,
    EnrolledCandidate,
    RecordedIncident,
    SessionRoom,
    TestState,
)
from services.finalisation.domain.issue_reports import IssueCategory, IssueReport, IssueSubcategory
from services.finalisation.domain.sessions import ScheduledSession


def _room(session: ScheduledSession, state: asyncpg.Record) -> SessionRoom:
    """A room without seats, from a row with its first start, invigilator access and finalisation."""
    return SessionRoom(
        session_id=session.session_id,
        session_number=session.session_number,
        session_date=session.session_date,
        password_hash=session.invigilator_password_hash,
        first_test_started_at=state["first_test_started_at"],
        finalised_at=state["finalised_at"],
        has_invigilator_access=state["invigilator_access_at"] is not None,
    )


def _incident_report(row: asyncpg.Record) -> IssueReport:
    subcategory = row["subcategory"]
    return IssueReport(
        IssueCategory(row["category"]),
        IssueSubcategory(subcategory) if subcategory else None,
        row["description"],
        row["question_number"],
    )


#: a candidate with their seat (absent: nothing happened yet)
_SEATS = """
    SELECT c.*, s.presence_confirmed, s.authorised_to_start, s.test_state, s.started_at, s.ended_at
    FROM candidates c LEFT JOIN seats s USING (session_id, candidate_id)"""


#: who is in the room: the enrolled, and the unenrolled whose test started (it happened)
_IN_THE_ROOM = "(c.unenrolled_at IS NULL OR coalesce(s.test_state, 'not_started') <> 'not_started')"


_SAVE_SEAT = """
    INSERT INTO seats (session_id, candidate_id, presence_confirmed, authorised_to_start,
        test_state, started_at, ended_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7)
    ON CONFLICT (session_id, candidate_id) DO UPDATE SET
        presence_confirmed = EXCLUDED.presence_confirmed,
        authorised_to_start = EXCLUDED.authorised_to_start, test_state = EXCLUDED.test_state,
        started_at = EXCLUDED.started_at, ended_at = EXCLUDED.ended_at
    """


_ADD_INCIDENT = """
    INSERT INTO incidents (session_id, candidate_id, category, subcategory, description,
        question_number, recorded_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7)
    """


def _seat(row: asyncpg.Record) -> CandidateSeat:
    candidate = EnrolledCandidate(
        candidate_id=row["candidate_id"],
        first_name=row["first_name"],
        last_name=row["last_name"],
        birthdate=row["birthdate"],
        learner_id=row["learner_id"],
        division=row["division"],
        ine=row["ine"],
        extra_time_percentage=row["extra_time_percentage"],
    )
    seat = CandidateSeat(candidate)
    if row["test_state"] is not None:
        seat.presence_confirmed = row["presence_confirmed"]
        seat.authorised_to_start = row["authorised_to_start"]
        seat.test_state = TestState(row["test_state"])
        seat.started_at = row["started_at"]
        seat.ended_at = row["ended_at"]
    return seat


def _seat_values(session_id: str, seat: CandidateSeat) -> tuple[Any, ...]:
    return (
        session_id,
        seat.candidate_id,
        seat.presence_confirmed,
        seat.authorised_to_start,
        seat.test_state.value,
        seat.started_at,
        seat.ended_at,
    )


def _incident_values(session_id: str, incident: RecordedIncident) -> tuple[Any, ...]:
    report = incident.report
    return (
        session_id,
        incident.candidate_id,
        report.category.value,
        report.subcategory.value if report.subcategory else None,
        report.description,
        report.question_number,
        incident.recorded_at,
    )


class RoomQueries:
    """The room, mixed into ``FinalisationStore`` (store.py); ``self.conn`` is the transaction's."""

    conn: asyncpg.Connection

    async def load_room(self, session: ScheduledSession) -> SessionRoom:
        """The room of a session: enrolled candidates (and any whose test started), seats, incidents."""
        room = await self._room_state(session)
        rows = await self.conn.fetch(
            f"{_SEATS} WHERE c.session_id = $1 AND {_IN_THE_ROOM}"
            " ORDER BY c.last_name, c.first_name, c.candidate_id",
            session.session_id,
        )
        room.seats = {row["candidate_id"]: _seat(row) for row in rows}
        for row in await self.conn.fetch(
            "SELECT * FROM incidents WHERE session_id = $1 ORDER BY id", session.session_id
        ):
            room.incidents.append(
                RecordedIncident(row["candidate_id"], _incident_report(row), row["recorded_at"])
            )
        return room

    async def load_seat(self, session: ScheduledSession, candidate_id: str | None) -> SessionRoom:
        """The room's session-level state and, if given, that candidate's seat alone, row-locked.

        What one invigilator click needs: the rules of a click read the session's state (finalised,
        expired, first start) and change one seat, so only that candidate's row is locked and
        written (``save_seat``), whatever the size of the room. Without incidents.
        """
        if candidate_id is None:
            return await self._room_state(session)
        row = await self.conn.fetchrow(  # the room's state and the locked seat in one round trip
            f"""
            SELECT r.first_test_started_at, r.invigilator_access_at, f.finalised_at, seat.*
            FROM (SELECT $1::text AS session_id) k
            LEFT JOIN room_sessions r USING (session_id) LEFT JOIN finalisations f USING (session_id)
            LEFT JOIN LATERAL ({_SEATS}
                WHERE c.session_id = k.session_id AND c.candidate_id = $2 AND {_IN_THE_ROOM}
                FOR UPDATE OF c) seat ON true
            """,
            session.session_id,
            candidate_id,
        )
        room = _room(session, row)
        if row["candidate_id"] is not None:
            room.seats[candidate_id] = _seat(row)
        return room

    async def _room_state(self, session: ScheduledSession) -> SessionRoom:
        """A room without seats: first start, invigilator access, finalisation (one query)."""
        state = await self.conn.fetchrow(
            """
            SELECT r.first_test_started_at, r.invigilator_access_at, f.finalised_at
            FROM (SELECT $1::text AS session_id) k
            LEFT JOIN room_sessions r USING (session_id) LEFT JOIN finalisations f USING (session_id)
            """,
            session.session_id,
        )
        return _room(session, state)

    async def save_seat(self, room: SessionRoom, candidate_id: str) -> None:
        """Write one candidate's seat back (one row)."""
        await self.conn.execute(_SAVE_SEAT, *_seat_values(room.session_id, room.seat(candidate_id)))

    async def claim_first_start(self, session_id: str, started_at: datetime) -> bool:
        """Record the session's first start; False when another click already recorded one.

        The conditional upsert is what makes SessionStarted fire once per session although clicks
        on different seats run side by side: the second one finds the first start set.
        """
        claimed = await self.conn.fetchval(
            """
            INSERT INTO room_sessions (session_id, first_test_started_at) VALUES ($1, $2)
            ON CONFLICT (session_id) DO UPDATE SET first_test_started_at = EXCLUDED.first_test_started_at
            WHERE room_sessions.first_test_started_at IS NULL
            RETURNING true
            """,
            session_id,
            started_at,
        )
        return bool(claimed)

    async def record_invigilator_access(self, session_id: str, at: datetime) -> None:
        """The invigilator logged in (the first login's time is kept)."""
        await self.conn.execute(
            """
            INSERT INTO room_sessions (session_id, invigilator_access_at) VALUES ($1, $2)
            ON CONFLICT (session_id) DO UPDATE SET invigilator_access_at =
                coalesce(room_sessions.invigilator_access_at, EXCLUDED.invigilator_access_at)
            """,
            session_id,
            at,
        )

    async def add_incident(self, session_id: str, incident: RecordedIncident) -> None:
        await self.conn.execute(_ADD_INCIDENT, *_incident_values(session_id, incident))

    async def save_room(self, room: SessionRoom, incidents_before: int, now: datetime) -> None:
        """Write the room back: session-level state, every seat, incidents recorded since loading."""
        await self.conn.execute(
            """
            INSERT INTO room_sessions (session_id, first_test_started_at, invigilator_access_at)
            VALUES ($1, $2, CASE WHEN $3 THEN $4::timestamptz END)
            ON CONFLICT (session_id) DO UPDATE SET
                first_test_started_at = EXCLUDED.first_test_started_at,
                invigilator_access_at = coalesce(room_sessions.invigilator_access_at, EXCLUDED.invigilator_access_at)
            """,
            room.session_id,
            room.first_test_started_at,
            room.has_invigilator_access,
            now,
        )
        await self.conn.executemany(
            _SAVE_SEAT, [_seat_values(room.session_id, seat) for seat in room.seats.values()]
        )
        await self.conn.executemany(
            _ADD_INCIDENT,
            [_incident_values(room.session_id, incident) for incident in room.incidents[incidents_before:]],
        )
