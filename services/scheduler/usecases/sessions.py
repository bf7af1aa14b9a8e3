"""Sessions: create one, list a school's, edit or cancel one (refused once a test has started).

A new session draws its number from a sequence, a fresh access code and invigilator password; the
password leaves the scheduler only as a verifier keyed with INVIGILATOR_PASSWORD_KEY, which only
finalisation also holds (SessionCreated/SessionUpdated v2 carry it; docs/adr/0007).
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from services.scheduler.domain.calendar import CertificationCalendar, SchoolLevel
from services.scheduler.domain.enrolment import Candidate, check_invigilators
from services.scheduler.domain.schools import normalise_uai, room_name, site_for
from services.scheduler.domain.sessions import (
    Session,
    check_room_capacity,
    create_session,
    ensure_deletable,
    parse_session_time,
    update_session,
)
from services.scheduler.schemas import SessionIn, SessionPatch
from services.scheduler.store import SchoolRow, SessionRow
from services.scheduler.usecases.common import (
    Begin,
    PasswordHasher,
    SchoolClock,
    UnitOfWork,
    ensure_not_started,
    live_session_locked,
    school_of,
)
from shared.contracts.events import (
    CandidatesEnrolled,
    EnrolledCandidate,
    SessionCancelled,
    SessionCreated,
    SessionUpdated,
)

#: Session attribute → its name in SessionUpdated.changed_fields (the v1 contract's names)
CHANGED_FIELDS = {
    "site": "address",
    "room": "room",
    "invigilators": "examiners",
    "day": "date",
    "time": "time",
    "observations": "description",
}


@dataclass
class NewSession:
    """A session about to be stored, with the candidates (id, INE, candidate) enrolled at creation."""

    session_id: uuid.UUID
    session: Session
    candidates: list[tuple[uuid.UUID, str | None, Candidate]]


async def create_one_session(
    begin: Begin,
    *,
    uai: str,
    body: SessionIn,
    clock: SchoolClock,
    calendar: CertificationCalendar,
    hash_password: PasswordHasher,
) -> uuid.UUID:
    uai = normalise_uai(uai)
    now, local = clock.now(), clock.local_now()
    async with begin() as uow:
        school = await school_of(uow, uai, lock=True)
        existing = [row.session for row in await uow.store.live_sessions(uai)]
        taken = await uow.store.live_access_codes()
        parse_session_time(body.time)  # an invalid time is reported before the window
        track = calendar.for_date(body.date, SchoolLevel(school.level))
        session = create_session(
            number=await uow.store.next_session_number(),
            site=site_for(school.rooms, body.room, body.site, school.site),
            room=room_name(school.rooms, body.room),
            invigilators=body.invigilators,
            day=body.date,
            time=body.time,
            calendar=track,
            rooms=school.rooms,
            existing=existing,
            now=local,
            observations=body.observations,
            taken_codes=taken,
        )
        new = NewSession(uuid.uuid4(), session, [])
        await insert_new_sessions(uow, school, [new], plan_id=None, now=now, hash_password=hash_password)
    return new.session_id


async def insert_new_sessions(
    uow: UnitOfWork,
    school: SchoolRow,
    created: list[NewSession],
    *,
    plan_id: uuid.UUID | None,
    now: datetime,
    hash_password: PasswordHasher,
) -> None:
    """Store the sessions (passwords hashed, in threads) and their candidates; emit their events."""
    hashes = await asyncio.gather(
        *(asyncio.to_thread(hash_password, n.session.invigilator_password) for n in created)
    )
    for new, password_hash in zip(created, hashes, strict=True):
        await uow.store.insert_session(
            session_id=new.session_id,
            uai=school.uai,
            session=new.session,
            password_hash=password_hash,
            plan_id=plan_id,
            now=now,
        )
        await uow.emit(
            SessionCreated(
                **session_details(school, new.session_id, new.session, password_hash), created_at=now
            )
        )
        if new.candidates:
            await uow.store.insert_candidates(new.session_id, new.candidates, now)
            await uow.emit(
                CandidatesEnrolled(
                    session_id=str(new.session_id),
                    uai=school.uai,
                    candidates=[enrolled_candidate(cid, ine, c) for cid, ine, c in new.candidates],
                    enrolled_at=now,
                )
            )


def session_details(
    school: SchoolRow, session_id: uuid.UUID, session: Session, password_hash: str
) -> dict[str, Any]:
    """The SessionDetails fields of the v2 contract; the password travels only as its keyed verifier
    (of Pix's password once recorded, with Pix's number and access code)."""
    return {
        "session_id": str(session_id),
        "session_number": session.number,
        "uai": school.uai,
        "certification_center": school.name,
        "school_level": SchoolLevel(school.level).track.value,
        "address": session.site,
        "room": session.room,
        "examiners": list(session.invigilators),
        "date": session.day,
        "time": session.time,
        "description": session.observations or None,
        "access_code": session.access_code,
        "invigilator_password_verifier": password_hash,
        "pix_session_number": session.pix.number if session.pix else None,
        "pix_access_code": session.pix.access_code if session.pix else None,
    }


def enrolled_candidate(candidate_id: uuid.UUID, ine: str | None, c: Candidate) -> EnrolledCandidate:
    return EnrolledCandidate(
        candidate_id=str(candidate_id),
        learner_id=c.learner_id,
        ine=ine,
        first_name=c.first_name,
        last_name=c.last_name,
        birthdate=c.birthdate,
        division=c.division,
        extra_time_percentage=c.extra_time_percentage,
        override_reason=c.certifiability_override,
        adapted_conditions=c.adapted_conditions,
    )


@dataclass(frozen=True)
class SchoolSessions:
    school: SchoolRow
    sessions: list[SessionRow]
    #: session id → number of candidates (absent: none)
    candidates: dict[uuid.UUID, int]


async def list_sessions(
    begin: Begin, *, uai: str, include_cancelled: bool = False, day: date | None = None
) -> SchoolSessions:
    uai = normalise_uai(uai)
    async with begin() as uow:
        school = await school_of(uow, uai)
        rows = await uow.store.school_sessions(uai, include_cancelled=include_cancelled, day=day)
        counts = await uow.store.candidate_counts([r.session_id for r in rows])
    return SchoolSessions(school, rows, counts)


async def patch_session(
    begin: Begin,
    *,
    session_id: uuid.UUID,
    body: SessionPatch,
    clock: SchoolClock,
    calendar: CertificationCalendar,
    hash_password: PasswordHasher,
) -> None:
    """Edit site, room, invigilators, date, time or observations (SessionUpdated names the fields).

    The verifier is made afresh from the stored password: a session stored before v2 kept an
    unkeyed scrypt hash, which must not travel again."""
    now, local = clock.now(), clock.local_now()
    async with begin() as uow:
        row, school = await live_session_locked(uow, session_id)
        ensure_not_started(row, "modification")
        existing = [r.session for r in await uow.store.live_sessions(row.uai)]
        if body.time is not None:
            parse_session_time(body.time)
        day = body.date or row.session.day
        changed = update_session(
            row.session,
            calendar=calendar.for_date(day, SchoolLevel(school.level)),
            rooms=school.rooms,
            existing=existing,
            now=local,
            site=body.site,
            room=None if body.room is None else room_name(school.rooms, body.room),
            invigilators=body.invigilators,
            day=body.date,
            time=body.time,
            observations=body.observations,
        )
        fields = [
            name
            for attr, name in CHANGED_FIELDS.items()
            if getattr(changed, attr) != getattr(row.session, attr)
        ]
        if not fields:
            return
        enrolled = len(await uow.store.candidates(session_id))
        if "examiners" in fields:
            check_invigilators(enrolled, len(changed.invigilators))
        if "room" in fields:
            check_room_capacity(changed, school.rooms, enrolled)
        await uow.store.update_session(session_id, changed, now)
        await uow.emit(
            SessionUpdated(
                **session_details(school, session_id, changed, hash_password(changed.password_in_use)),
                changed_fields=fields,
                updated_at=now,
            )
        )


async def delete_session(
    begin: Begin, *, session_id: uuid.UUID, reason: str | None, clock: SchoolClock
) -> None:
    """Cancel a session (SessionCancelled); refused once a test has started."""
    now = clock.now()
    async with begin() as uow:
        row, _ = await live_session_locked(uow, session_id)
        ensure_deletable(row.session)
        await uow.store.cancel_session(session_id, now)
        await uow.emit(
            SessionCancelled(session_id=str(session_id), uai=row.uai, reason=reason or None, cancelled_at=now)
        )
