"""SQL of the finalisation schema: read models from the scheduler, the room, finalisations, results.

All of finalisation's SQL is here, and nothing here returns a database row: ``FinalisationStore``
answers in the domain's values (``ScheduledSession``, ``SessionRoom``, ``RecordedFinalisation``) on
the connection of the caller's transaction. ``begin`` opens the unit of work the use cases run in
(the store plus the outbox of the same transaction), ``read_only`` a consistent snapshot for reads.
A click loads and writes one seat (``load_seat`` / ``save_seat``) under a shared lock on the
session, so clicks on different seats run side by side; finalisation takes the session exclusively
and the whole room (``load_room`` / ``save_room``). The scheduler's events are applied one at a time
(``upsert_session``, ``upsert_candidates``, …: the reference) or a run at a time with one set-based
statement each (``upsert_sessions``, ``enrol_candidates``, …: what the consumer runs), both through
the same conflict rules (``_SESSION_UPSERT``, ``_CANDIDATE_UPSERT``).

Longer than ~400 lines on purpose: the rule is "all SQL of the service in store.py", and the five
table groups above are each short; splitting them would scatter one schema over several files
(and tests/unit/platform/test_shape.py accepts SQL in files named store.py only).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import asyncpg

from services.finalisation.domain.invigilation import (
    CandidateSeat,
    EnrolledCandidate,
    RecordedIncident,
    SessionRoom,
    TestState,
)
from services.finalisation.domain.issue_reports import IssueCategory, IssueReport, IssueSubcategory
from services.finalisation.domain.results import ResultsImport
from services.finalisation.domain.sessions import RecordedFinalisation, ScheduledSession
from shared import usecases as shared_usecases
from shared.contracts.events import AnySessionDetails
from shared.contracts.events import EnrolledCandidate as EnrolledCandidateEvent
from shared.outbox import unit_of_work

if TYPE_CHECKING:
    from services.finalisation.usecases.ports import Lock


#: one transaction: the store on its connection, and its outbox (shared/usecases.py)
SqlUnitOfWork = shared_usecases.StoreWork["FinalisationStore"]


@asynccontextmanager
async def begin(pool: asyncpg.Pool, service: str) -> AsyncIterator[SqlUnitOfWork]:
    """A unit of work: commits when the block ends without error, rolls back otherwise."""
    async with unit_of_work(pool, service) as outbox:
        yield shared_usecases.StoreWork(outbox, FinalisationStore(outbox.conn))


@asynccontextmanager
async def read_only(pool: asyncpg.Pool) -> AsyncIterator[FinalisationStore]:
    """A consistent read-only snapshot (repeatable read), taking no row lock."""
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        yield FinalisationStore(conn)


def _session(row: asyncpg.Record) -> ScheduledSession:
    return ScheduledSession(
        session_id=row["session_id"],
        session_number=row["session_number"],
        uai=row["uai"],
        certification_center=row["certification_center"],
        session_date=row["session_date"],
        session_time=row["session_time"],
        invigilator_password_hash=row["invigilator_password_hash"],
        address=row["address"],
        room=row["room"],
        examiners=row["examiners"],
        cancelled_at=row["cancelled_at"],
        pix_session_number=row["pix_session_number"],
    )


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


def _finalisation(row: asyncpg.Record) -> RecordedFinalisation:
    return RecordedFinalisation(row["session_id"], row["finalised_at"], row["payload"])


class FinalisationStore:
    """Finalisation's tables on one connection (usually a unit of work's)."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    # ---- read models (scheduler events) -----------------------------------------------------------

    async def upsert_session(self, details: AnySessionDetails, changed_at: datetime) -> None:
        """Latest snapshot wins; an older snapshot arriving late changes nothing."""
        await self.conn.execute(
            f"INSERT INTO sessions ({_SESSION_COLUMNS})"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
            f" {_SESSION_UPSERT}",
            details.session_id,
            details.session_number,
            details.uai,
            details.certification_center,
            details.school_level,
            details.address,
            details.room,
            list(details.examiners),
            details.date,
            details.time,
            details.test_minutes,
            details.invigilator_password_verifier,
            changed_at,
            getattr(details, "pix_session_number", None),  # v1 never carried it
        )

    async def upsert_sessions(self, snapshots: Sequence[tuple[AnySessionDetails, datetime]]) -> None:
        """Many snapshots in one statement, leaving what ``upsert_session`` one after the other would.

        Applied in turn, a session ends as the snapshot with the latest ``changed_at`` (the last
        given of equal ones) unless its row is newer still; that snapshot is picked per session in
        SQL (``DISTINCT ON``, comparing as PostgreSQL does) and upserted with the same condition.
        """
        if not snapshots:
            return
        columns = list(zip(*(_session_values(d, at) for d, at in snapshots), strict=True))
        await self.conn.execute(
            f"""
            INSERT INTO sessions ({_SESSION_COLUMNS})
            SELECT DISTINCT ON (s.session_id) s.session_id, s.session_number, s.uai,
                s.certification_center, s.school_level, s.address, s.room, s.examiners::jsonb,
                s.session_date, s.session_time, s.test_minutes, s.invigilator_password_hash, s.updated_at,
                s.pix_session_number
            FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::text[], $6::text[],
                $7::text[], $8::text[], $9::date[], $10::text[], $11::int[], $12::text[],
                $13::timestamptz[], $14::int[]) WITH ORDINALITY AS s({_SESSION_COLUMNS}, n)
            ORDER BY s.session_id, s.updated_at DESC, s.n DESC
            {_SESSION_UPSERT}
            """,
            *(list(column) for column in columns),
        )

    async def cancel_session(self, session_id: str, reason: str | None, cancelled_at: datetime) -> None:
        await self.conn.execute(
            "UPDATE sessions SET cancelled_at = $2, cancel_reason = $3 WHERE session_id = $1",
            session_id,
            cancelled_at,
            reason,
        )

    async def cancel_sessions(self, cancellations: Sequence[tuple[str, str | None, datetime]]) -> None:
        """Many ``(session_id, reason, cancelled_at)`` in one statement; per session the last given wins
        (as ``cancel_session`` one after the other), and an unknown session is left alone."""
        if not cancellations:
            return
        session_ids, reasons, times = (list(column) for column in zip(*cancellations, strict=True))
        await self.conn.execute(
            """
            UPDATE sessions SET cancelled_at = c.cancelled_at, cancel_reason = c.reason
            FROM (SELECT DISTINCT ON (session_id) session_id, reason, cancelled_at
                  FROM unnest($1::text[], $2::text[], $3::timestamptz[])
                      WITH ORDINALITY AS c(session_id, reason, cancelled_at, n)
                  ORDER BY session_id, n DESC) c
            WHERE sessions.session_id = c.session_id
            """,
            session_ids,
            reasons,
            times,
        )

    async def upsert_candidates(self, session_id: str, candidates: Sequence[EnrolledCandidateEvent]) -> None:
        await self.conn.executemany(
            f"INSERT INTO candidates ({_CANDIDATE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
            f" {_CANDIDATE_UPSERT}",
            [_candidate_values(session_id, c) for c in candidates],
        )

    async def enrol_candidates(
        self, enrolments: Sequence[tuple[str, Sequence[EnrolledCandidateEvent]]]
    ) -> None:
        """Many ``(session_id, candidates)`` enrolments in one statement, as ``upsert_candidates`` one
        after the other: per candidate of a session the last given wins, and is enrolled again."""
        rows = [_candidate_values(sid, c) for sid, candidates in enrolments for c in candidates]
        if not rows:
            return
        await self.conn.execute(
            f"""
            INSERT INTO candidates ({_CANDIDATE_COLUMNS})
            SELECT DISTINCT ON (c.session_id, c.candidate_id) {_CANDIDATE_COLUMNS}
            FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                $7::date[], $8::text[], $9::int[]) WITH ORDINALITY AS c({_CANDIDATE_COLUMNS}, n)
            ORDER BY c.session_id, c.candidate_id, c.n DESC
            {_CANDIDATE_UPSERT}
            """,
            *(list(column) for column in zip(*rows, strict=True)),
        )

    async def unenrol_candidate(self, session_id: str, candidate_id: str, unenrolled_at: datetime) -> None:
        await self.conn.execute(
            "UPDATE candidates SET unenrolled_at = $3 WHERE session_id = $1 AND candidate_id = $2",
            session_id,
            candidate_id,
            unenrolled_at,
        )

    async def unenrol_candidates(self, unenrolments: Sequence[tuple[str, str, datetime]]) -> None:
        """Many ``(session_id, candidate_id, unenrolled_at)`` in one statement; per candidate the last
        given wins (as ``unenrol_candidate`` one after the other), an unknown one is left alone."""
        if not unenrolments:
            return
        session_ids, candidate_ids, times = (list(column) for column in zip(*unenrolments, strict=True))
        await self.conn.execute(
            """
            UPDATE candidates SET unenrolled_at = u.unenrolled_at
            FROM (SELECT DISTINCT ON (session_id, candidate_id) session_id, candidate_id, unenrolled_at
                  FROM unnest($1::text[], $2::text[], $3::timestamptz[])
                      WITH ORDINALITY AS u(session_id, candidate_id, unenrolled_at, n)
                  ORDER BY session_id, candidate_id, n DESC) u
            WHERE candidates.session_id = u.session_id AND candidates.candidate_id = u.candidate_id
            """,
            session_ids,
            candidate_ids,
            times,
        )

    async def sessions_by_number(self, session_number: int) -> list[ScheduledSession]:
        """The sessions an invigilator may mean by this number: Pix Certif's, or certibus's own."""
        rows = await self.conn.fetch(
            "SELECT * FROM sessions WHERE pix_session_number = $1 OR session_number = $1"
            " ORDER BY updated_at DESC",
            session_number,
        )
        return [_session(row) for row in rows]

    async def school_of_session(self, session_id: str) -> str | None:
        """The UAI of the session (cancelled or not); None if this service does not know it."""
        return await self.conn.fetchval("SELECT uai FROM sessions WHERE session_id = $1", session_id)

    async def session(self, session_id: str, *, lock: Lock = None) -> ScheduledSession | None:
        """The session, under a row lock until the transaction ends if asked (``ports.Lock``)."""
        suffix = {None: "", "shared": " FOR KEY SHARE", "exclusive": " FOR UPDATE"}[lock]
        row = await self.conn.fetchrow(f"SELECT * FROM sessions WHERE session_id = $1{suffix}", session_id)
        return None if row is None else _session(row)

    # ---- the room ---------------------------------------------------------------------------------

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

    async def charge_login_attempts(self, buckets: Sequence[str], window: datetime, limit: int) -> list[str]:
        """Count one attempt in each bucket's window; the buckets whose ``limit`` was already spent.

        One upsert per bucket row: a bucket of an older window starts again at 1, a spent one is
        left as it is (the row lock orders concurrent attempts of every replica).
        """
        charged = await self.conn.fetch(
            """
            INSERT INTO login_attempts (bucket, window_start, attempts)
            SELECT bucket, $2, 1 FROM unnest($1::text[]) AS bucket
            ON CONFLICT (bucket) DO UPDATE SET
                attempts = CASE WHEN login_attempts.window_start = EXCLUDED.window_start
                                THEN login_attempts.attempts + 1 ELSE 1 END,
                window_start = EXCLUDED.window_start
            WHERE login_attempts.window_start <> EXCLUDED.window_start OR login_attempts.attempts < $3
            RETURNING bucket
            """,
            list(buckets),
            window,
            limit,
        )
        done = {row["bucket"] for row in charged}
        return [b for b in buckets if b not in done]

    async def refund_login_attempts(self, buckets: Sequence[str], window: datetime) -> None:
        """A successful login does not count against its buckets."""
        await self.conn.execute(
            """
            UPDATE login_attempts SET attempts = attempts - 1
            WHERE bucket = ANY($1::text[]) AND window_start = $2 AND attempts > 0
            """,
            list(buckets),
            window,
        )

    async def prune_login_attempts(self, before: datetime) -> int:
        """Forget the windows that ended before ``before``; how many rows went."""
        status = await self.conn.execute("DELETE FROM login_attempts WHERE window_start < $1", before)
        return int(status.split()[-1])

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

    # ---- finalisation -----------------------------------------------------------------------------

    async def insert_finalisation(
        self, session_id: str, finalised_at: datetime, payload: dict[str, Any]
    ) -> None:
        await self.conn.execute(
            "INSERT INTO finalisations (session_id, finalised_at, payload) VALUES ($1, $2, $3)",
            session_id,
            finalised_at,
            payload,
        )

    async def finalisation(self, session_id: str, *, lock: bool = False) -> RecordedFinalisation | None:
        suffix = " FOR UPDATE" if lock else ""
        row = await self.conn.fetchrow(
            f"SELECT * FROM finalisations WHERE session_id = $1{suffix}", session_id
        )
        return None if row is None else _finalisation(row)

    async def pix_session_numbers(self, session_ids: Sequence[str]) -> dict[str, int]:
        """Session id → its Pix Certif number, for the sessions that have one recorded."""
        rows = await self.conn.fetch(
            "SELECT session_id, pix_session_number FROM sessions"
            " WHERE session_id = ANY($1::text[]) AND pix_session_number IS NOT NULL",
            list(session_ids),
        )
        return {r["session_id"]: r["pix_session_number"] for r in rows}

    async def finalisations(self, uai: str | None = None) -> list[RecordedFinalisation]:
        """Finalised sessions (optionally of one school), for matching a multi-session results file."""
        rows = await self.conn.fetch(
            "SELECT f.* FROM finalisations f"
            " WHERE $1::text IS NULL OR f.payload->>'uai' = $1 ORDER BY f.session_id",
            uai,
        )
        return [_finalisation(row) for row in rows]

    # ---- results ----------------------------------------------------------------------------------

    async def lock_finalisations(self, session_ids: Sequence[str]) -> None:
        """Lock these finalised sessions, in one statement and in id order (concurrent imports of
        overlapping files take their locks in the same order, so they cannot deadlock)."""
        await self.conn.execute(
            "SELECT 1 FROM finalisations WHERE session_id = ANY($1::text[]) ORDER BY session_id FOR UPDATE",
            list(session_ids),
        )

    async def session_results(self, session_ids: Sequence[str]) -> dict[str, dict[str, dict[str, Any]]]:
        """Each session's current results by candidate id (the stored ``to_payload()`` dicts)."""
        rows = await self.conn.fetch(
            "SELECT session_id, candidate_id, result FROM session_results WHERE session_id = ANY($1::text[])",
            list(session_ids),
        )
        results: dict[str, dict[str, dict[str, Any]]] = {}
        for row in rows:
            results.setdefault(row["session_id"], {})[row["candidate_id"]] = row["result"]
        return results

    async def replace_results(self, changes: Mapping[str, Mapping[str, dict[str, Any]]]) -> None:
        """Write the changed results of every session in one statement (``{session: {candidate: …}}``)."""
        rows = [(sid, cid, p) for sid, by_candidate in changes.items() for cid, p in by_candidate.items()]
        if not rows:
            return
        await self.conn.execute(
            """
            INSERT INTO session_results (session_id, candidate_id, certification_id, result)
            SELECT r.session_id, r.candidate_id, r.certification_id, r.result::jsonb
            FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[])
                AS r(session_id, candidate_id, certification_id, result)
            ON CONFLICT (session_id, candidate_id) DO UPDATE SET
                certification_id = EXCLUDED.certification_id, result = EXCLUDED.result
            """,
            [sid for sid, _, _ in rows],
            [cid for _, cid, _ in rows],
            [p["certification_id"] for _, _, p in rows],
            [json.dumps(p) for _, _, p in rows],
        )

    async def record_imports(self, imports: Sequence[ResultsImport]) -> None:
        """One ``results_imports`` row per session an import changed, in one statement."""
        if not imports:
            return
        await self.conn.execute(
            """
            INSERT INTO results_imports (session_id, source, file_name, file_sha256, fingerprint,
                matched, unmatched, imported_at)
            SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                $6::int[], $7::int[], $8::timestamptz[])
            """,
            [i.session_id for i in imports],
            [i.source.value for i in imports],
            [i.file_name for i in imports],
            [i.file_sha256 for i in imports],
            [i.fingerprint for i in imports],
            [i.matched for i in imports],
            [i.unmatched for i in imports],
            [i.imported_at for i in imports],
        )

    # ---- overdue ----------------------------------------------------------------------------------

    async def unfinalised_sessions_up_to(self, last_date: date) -> list[ScheduledSession]:
        """Sessions held on or before `last_date`, not cancelled, not finalised, not yet reported overdue."""
        rows = await self.conn.fetch(
            """
            SELECT s.* FROM sessions s
            WHERE s.session_date <= $1 AND s.cancelled_at IS NULL
              AND NOT EXISTS (SELECT 1 FROM finalisations f WHERE f.session_id = s.session_id)
              AND NOT EXISTS (SELECT 1 FROM overdue_notices o WHERE o.session_id = s.session_id)
            ORDER BY s.session_date, s.session_id
            """,
            last_date,
        )
        return [_session(row) for row in rows]

    async def insert_overdue_notice(self, session_id: str, due_at: datetime, detected_at: datetime) -> bool:
        """True when this call recorded the notice (False: another replica or tick already did)."""
        return bool(
            await self.conn.fetchval(
                "INSERT INTO overdue_notices (session_id, due_at, detected_at) VALUES ($1, $2, $3)"
                " ON CONFLICT DO NOTHING RETURNING true",
                session_id,
                due_at,
                detected_at,
            )
        )


_SESSION_COLUMNS = (
    "session_id, session_number, uai, certification_center, school_level, address, room, examiners,"
    " session_date, session_time, test_minutes, invigilator_password_hash, updated_at, pix_session_number"
)
#: the latest snapshot wins: the one conflict rule of the single and the set-based upsert
_SESSION_UPSERT = """
    ON CONFLICT (session_id) DO UPDATE SET
        session_number = EXCLUDED.session_number, uai = EXCLUDED.uai,
        certification_center = EXCLUDED.certification_center,
        school_level = EXCLUDED.school_level, address = EXCLUDED.address, room = EXCLUDED.room,
        examiners = EXCLUDED.examiners, session_date = EXCLUDED.session_date,
        session_time = EXCLUDED.session_time, test_minutes = EXCLUDED.test_minutes,
        invigilator_password_hash = EXCLUDED.invigilator_password_hash,
        updated_at = EXCLUDED.updated_at, pix_session_number = EXCLUDED.pix_session_number
    WHERE sessions.updated_at <= EXCLUDED.updated_at"""

_CANDIDATE_COLUMNS = (
    "session_id, candidate_id, learner_id, ine, first_name, last_name, birthdate, division,"
    " extra_time_percentage"
)
#: an enrolment replaces the candidate's details and enrols them again (unenrolled_at back to NULL)
_CANDIDATE_UPSERT = """
    ON CONFLICT (session_id, candidate_id) DO UPDATE SET
        learner_id = EXCLUDED.learner_id, ine = EXCLUDED.ine, first_name = EXCLUDED.first_name,
        last_name = EXCLUDED.last_name, birthdate = EXCLUDED.birthdate,
        division = EXCLUDED.division, extra_time_percentage = EXCLUDED.extra_time_percentage,
        unenrolled_at = NULL"""


def _session_values(details: AnySessionDetails, changed_at: datetime) -> tuple[Any, ...]:
    """A snapshot's values in ``_SESSION_COLUMNS`` order (examiners as JSON text)."""
    return (
        details.session_id,
        details.session_number,
        details.uai,
        details.certification_center,
        details.school_level,
        details.address,
        details.room,
        json.dumps(list(details.examiners)),
        details.date,
        details.time,
        details.test_minutes,
        details.invigilator_password_verifier,
        changed_at,
        getattr(details, "pix_session_number", None),
    )


def _candidate_values(session_id: str, c: EnrolledCandidateEvent) -> tuple[Any, ...]:
    """An enrolled candidate's values in ``_CANDIDATE_COLUMNS`` order."""
    return (
        session_id,
        c.candidate_id,
        c.learner_id,
        c.ine,
        c.first_name,
        c.last_name,
        c.birthdate,
        c.division,
        c.extra_time_percentage,
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
