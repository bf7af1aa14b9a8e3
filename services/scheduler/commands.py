"""The scheduler's use cases: each one is a transaction that checks, changes state and emits events.

A refusal raises ``ApiError`` before anything is written (or inside the transaction, which then rolls
back), so bad input never leaves a trace. Routes in api.py only translate HTTP to these calls.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from services.scheduler import store
from services.scheduler.domain import documents
from services.scheduler.domain.calendar import CertificationCalendar, SchoolLevel, Window, school_year_of
from services.scheduler.domain.enrolment import Candidate, check_invigilators, enrol_learners
from services.scheduler.domain.errors import DomainError, PlanningError
from services.scheduler.domain.planner import (
    HalfDay,
    PlanningRequest,
    Room,
    SchoolHours,
    StaffMember,
    TimeRange,
    classes_to_plan,
    plan_sessions,
)
from services.scheduler.domain.sessions import (
    Session,
    create_session,
    ensure_deletable,
    parse_session_time,
    update_session,
)
from services.scheduler.schemas import WEEKDAYS, EnrolmentIn, PlanIn, SchoolIn, SessionIn, SessionPatch
from shared.contracts.events import (
    CandidatesEnrolled,
    CandidateUnenrolled,
    ConvocationsIssued,
    EnrolledCandidate,
    SessionCancelled,
    SessionCreated,
    SessionUpdated,
)
from shared.http import ApiError
from shared.outbox import UnitOfWork
from shared.password_hash import hash_password
from shared.service import Runtime

#: HTTP status of each domain refusal; anything not listed is 422 (the request itself is wrong).
CONFLICTS = {
    "session.overlap",
    "invigilator.busy",
    "session.started",
    "session.cancelled",
    "room.capacity_exceeded",
    "session.invigilators_short",
    "room.in_use",
    "plan.already_confirmed",
    "plan.impossible",
    "plan.stale",
    "plan.conflict",
    "convocations.no_candidate",
}
NOT_FOUND = {"school.unknown", "session.unknown", "plan.unknown", "candidate.unknown", "day.no_session"}

DOCUMENT_KINDS = ("convocations", "attendance-sheet", "invigilator-kit", "incident-report", "fraud-report")
UAI_LENGTH = 8


def api_error(error: DomainError) -> ApiError:
    status = 409 if error.code in CONFLICTS else 404 if error.code in NOT_FOUND else 422
    return ApiError(status, error.code, error.message, **_jsonable(error.details))


def _jsonable(details: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, date) else v) for k, v in details.items()}


# ------------------------------------------------------------------------------------------ context


def calendar_of(runtime: Runtime) -> CertificationCalendar:
    return runtime.state["calendar"]


def local_now(runtime: Runtime) -> datetime:
    """The school's wall-clock time (sessions are in local time, like Pix's "heure locale")."""
    zone = ZoneInfo(runtime.settings.school_timezone)
    return runtime.clock.now().astimezone(zone).replace(tzinfo=None)


def normalise_uai(uai: str) -> str:
    uai = uai.strip().upper()
    if len(uai) != UAI_LENGTH or not uai[:7].isdigit() or not uai[7].isalpha():
        raise ApiError(
            422, "school.invalid_uai", f"UAI invalide : {uai!r} (7 chiffres et une lettre)", uai=uai
        )
    return uai


async def _school(uow: UnitOfWork, uai: str, *, lock: bool = False) -> store.SchoolRow:
    if lock and not await store.lock_school(uow.conn, uai):
        raise ApiError(404, "school.unknown", f"établissement inconnu : {uai}", uai=uai)
    school = await store.get_school(uow.conn, uai)
    if school is None:
        raise ApiError(404, "school.unknown", f"établissement inconnu : {uai}", uai=uai)
    return school


async def _session(uow: UnitOfWork, session_id: uuid.UUID, *, lock: bool = False) -> store.SessionRow:
    row = await store.get_session(uow.conn, session_id, for_update=lock)
    if row is None:
        raise ApiError(404, "session.unknown", f"session inconnue : {session_id}", session_id=str(session_id))
    return row


async def _live_session_locked(
    uow: UnitOfWork, session_id: uuid.UUID
) -> tuple[store.SessionRow, store.SchoolRow]:
    """The live session and its school, both locked (school first, like every school command)."""
    row = await _session(uow, session_id)
    school = await _school(uow, row.uai, lock=True)
    row = await _session(uow, session_id, lock=True)
    _live(row)
    return row, school


def _live(row: store.SessionRow) -> None:
    if not row.is_live:
        raise ApiError(
            409,
            "session.cancelled",
            f"la session {row.session.number} a été supprimée",
            session_id=str(row.session_id),
        )


def _not_started(row: store.SessionRow, action: str) -> None:
    if row.session.has_started:
        raise ApiError(
            409,
            "session.started",
            f"la session {row.session.number} ne peut plus être modifiée ({action}) : un test a commencé",
            session_id=str(row.session_id),
        )


def school_hours(hours: dict[str, Any]) -> SchoolHours:
    """The stored JSON (schemas.HoursIn) as the planner's SchoolHours."""
    open_half_days = {
        WEEKDAYS.index(day): frozenset(HalfDay(h) for h in halves)
        for day, halves in hours["open_half_days"].items()
    }
    return SchoolHours(
        morning=TimeRange(
            parse_session_time(hours["morning"]["start"]), parse_session_time(hours["morning"]["end"])
        ),
        afternoon=TimeRange(
            parse_session_time(hours["afternoon"]["start"]), parse_session_time(hours["afternoon"]["end"])
        ),
        open_half_days=open_half_days,
        closures=tuple(
            Window(date.fromisoformat(c["start"]), date.fromisoformat(c["end"])) for c in hours["closures"]
        ),
    )


def _track_calendar(runtime: Runtime, school: store.SchoolRow, day: date):
    try:
        return calendar_of(runtime).for_date(day, SchoolLevel(school.level))
    except DomainError as error:
        raise api_error(error) from None


def _school_doc(school: store.SchoolRow) -> documents.School:
    return documents.School(school.name, school.uai, school.city)


# ------------------------------------------------------------------------------------------ schools


async def put_school(runtime: Runtime, uai: str, body: SchoolIn) -> tuple[store.SchoolRow, bool]:
    """Create or replace a school's description; refuses to drop a room future sessions use."""
    uai = normalise_uai(uai)
    hours = body.hours.model_dump(mode="json")
    try:
        school_hours(hours)
    except (DomainError, ValueError) as error:
        message = error.message if isinstance(error, DomainError) else str(error)
        raise ApiError(422, "school.invalid_hours", f"horaires invalides : {message}") from None
    for closure in body.hours.closures:
        if closure.end < closure.start:
            raise ApiError(422, "school.invalid_hours", f"fermeture qui finit avant de commencer : {closure}")
    for label, code, names in (
        ("salle", "school.duplicate_room", [r.name for r in body.rooms]),
        ("surveillant", "school.duplicate_staff", [s.name for s in body.staff]),
    ):
        keys = [" ".join(n.split()).casefold() for n in names]
        twice = sorted({n for n, k in zip(names, keys, strict=True) if keys.count(k) > 1})
        if twice:
            raise ApiError(422, code, f"{label} en double : {', '.join(twice)}", names=twice)
    rooms = [Room(r.name, r.workstations, r.site or body.site) for r in body.rooms]
    staff = [
        store.StaffRow(
            s.name, None if s.availability is None else [a.model_dump(mode="json") for a in s.availability]
        )
        for s in body.staff
    ]
    now = runtime.clock.now()
    today = local_now(runtime).date()
    async with runtime.unit_of_work() as uow:
        if await store.lock_school(uow.conn, uai):
            kept = {" ".join(r.name.split()).casefold() for r in rooms}
            in_use = sorted(
                {
                    row.session.room
                    for row in await store.live_sessions(uow.conn, uai)
                    if row.session.day >= today and " ".join(row.session.room.split()).casefold() not in kept
                }
            )
            if in_use:
                raise ApiError(
                    409,
                    "room.in_use",
                    f"salle(s) utilisée(s) par des sessions à venir : {', '.join(in_use)}",
                    rooms=in_use,
                )
        created = await store.upsert_school(
            uow.conn,
            uai=uai,
            name=body.name,
            level=body.level.value,
            city=body.city,
            site=body.site,
            hours=hours,
            rooms=rooms,
            staff=staff,
            now=now,
        )
        school = await _school(uow, uai)
    return school, created


async def class_counts(runtime: Runtime, uai: str) -> list[dict[str, Any]]:
    rows = await runtime.pool.fetch(
        "SELECT l.division, count(*) AS learners,"
        " count(*) FILTER (WHERE c.status = 'certifiable') AS certifiable"
        " FROM learners l LEFT JOIN learner_certifiability c USING (learner_id)"
        " WHERE l.uai = $1 AND l.active GROUP BY l.division ORDER BY l.division",
        uai,
    )
    return [dict(r) for r in rows]


async def get_school(runtime: Runtime, uai: str) -> store.SchoolRow:
    uai = normalise_uai(uai)
    async with runtime.unit_of_work() as uow:
        return await _school(uow, uai)


# -------------------------------------------------------------------------------------------- plans


def _half_days_of(session: Session, hours: SchoolHours) -> set[tuple[date, HalfDay]]:
    """The half-days a session's 2-hour slot touches (they are not proposed again)."""
    start, end = session.starts_at.time(), session.ends_at.time()
    taken: set[tuple[date, HalfDay]] = set()
    if start < hours.morning.end:
        taken.add((session.day, HalfDay.MORNING))
    if end > hours.afternoon.start or start >= hours.morning.end:
        taken.add((session.day, HalfDay.AFTERNOON))
    return taken


def _staff_members(school: store.SchoolRow) -> tuple[StaffMember, ...]:
    return tuple(
        StaffMember(
            s.name,
            None
            if s.availability is None
            else frozenset((date.fromisoformat(a["date"]), HalfDay(a["half_day"])) for a in s.availability),
        )
        for s in school.staff
    )


async def propose_plan(runtime: Runtime, uai: str, body: PlanIn) -> store.PlanRow:
    """Plan the certifiable learners not yet enrolled (of the given classes, if any); the proposal
    (or why none exists) is stored. An unknown class is refused before anything is stored."""
    uai = normalise_uai(uai)
    today = local_now(runtime).date()
    async with runtime.unit_of_work() as uow:
        school = await _school(uow, uai)
        plannable = await store.plannable_learners(uow.conn, uai)
        school_divisions = await store.divisions(uow.conn, uai) if body.divisions is not None else []
        existing = await store.live_sessions(uow.conn, uai)
    try:
        classes = classes_to_plan(plannable, divisions=body.divisions, school_divisions=school_divisions)
    except DomainError as error:
        raise api_error(error) from None
    school_year = body.school_year or school_year_of(today)
    try:
        track = calendar_of(runtime).for_level(school_year, SchoolLevel(school.level))
    except DomainError as error:
        raise api_error(error) from None
    hours = school_hours(school.hours)
    not_before = max(today + timedelta(days=1), body.not_before or today)
    taken = frozenset(hd for row in existing for hd in _half_days_of(row.session, hours))
    request = PlanningRequest(
        classes=classes,
        rooms=school.rooms,
        staff=_staff_members(school),
        window=track.window,
        hours=hours,
        not_before=not_before,
        taken_half_days=taken,
    )
    students = sum(len(group.student_ids) for group in classes)
    proposal: dict[str, Any] = {
        "window": {"start": track.window.start.isoformat(), "end": track.window.end.isoformat()},
        "students": students,
        "divisions": None if body.divisions is None else list(dict.fromkeys(body.divisions)),
        "sessions": [],
        "half_days": [],
        "notes": [],
        "error": None,
    }
    if track.window.end < not_before:
        error: PlanningError | None = PlanningError(
            "planner.window_over",
            f"la {track.describe()} est passée (premier jour planifiable : {not_before:%d/%m/%Y})",
            reasons=(f"fenêtre terminée le {track.window.end:%d/%m/%Y}",),
        )
    else:
        error = None
    if error is None:
        try:
            plan = await asyncio.to_thread(plan_sessions, request)
        except PlanningError as refused:
            error = refused
        else:
            proposal["sessions"] = [
                {
                    "date": s.day.isoformat(),
                    "half_day": s.half_day.value,
                    "time": s.time_text,
                    "room": s.room,
                    "site": s.site or school.site,
                    "invigilators": list(s.invigilators),
                    "classes": [{"division": c, "students": n} for c, n in s.classes],
                    "learner_ids": list(s.student_ids),
                }
                for s in plan.sessions
            ]
            proposal["half_days"] = [{"date": d.isoformat(), "half_day": h.value} for d, h in plan.half_days]
            proposal["notes"] = list(plan.notes)
            if students == 0:
                proposal["notes"].append("aucun élève certifiable à planifier")
    if error is not None:
        proposal["error"] = {
            "code": error.code,
            "message": error.message,
            "reasons": list(error.reasons) or [error.message],
        }
    plan_id = uuid.uuid4()
    async with runtime.unit_of_work() as uow:
        await store.insert_plan(
            uow.conn,
            plan_id=plan_id,
            uai=uai,
            school_year=school_year,
            status="impossible" if error else "proposed",
            proposal=proposal,
            now=runtime.clock.now(),
        )
        row = await store.get_plan(uow.conn, plan_id)
    assert row is not None
    return row


async def get_plan(runtime: Runtime, plan_id: uuid.UUID) -> store.PlanRow:
    async with runtime.unit_of_work() as uow:
        row = await store.get_plan(uow.conn, plan_id)
    if row is None:
        raise ApiError(404, "plan.unknown", f"proposition inconnue : {plan_id}", plan_id=str(plan_id))
    return row


@dataclass
class _NewSession:
    session_id: uuid.UUID
    session: Session
    candidates: list[tuple[uuid.UUID, str | None, Candidate]]
    password_hash: str = ""


async def confirm_plan(runtime: Runtime, plan_id: uuid.UUID) -> tuple[store.PlanRow, list[uuid.UUID]]:
    """Create every proposed session and enrol its classes, all or nothing."""
    now, local = runtime.clock.now(), local_now(runtime)
    async with runtime.unit_of_work() as uow:
        plan = await store.get_plan(uow.conn, plan_id, for_update=True)
        if plan is None:
            raise ApiError(404, "plan.unknown", f"proposition inconnue : {plan_id}", plan_id=str(plan_id))
        if plan.status == "confirmed":
            raise ApiError(409, "plan.already_confirmed", "cette proposition a déjà été confirmée")
        if plan.status == "impossible":
            raise ApiError(
                409,
                "plan.impossible",
                "cette proposition n'a pas de solution : " + plan.proposal["error"]["message"],
            )
        school = await _school(uow, plan.uai, lock=True)
        planned = plan.proposal["sessions"]
        wanted = [lid for s in planned for lid in s["learner_ids"]]
        learners = await store.learners_by_id(uow.conn, wanted)
        elsewhere = await store.learners_in_other_live_sessions(uow.conn, wanted, uuid.uuid4())
        stale = sorted(
            lid
            for lid in wanted
            if lid not in learners
            or not learners[lid].active
            or not learners[lid].learner.certifiable
            or learners[lid].learner.school_id != school.uai
            or lid in elsewhere
        )
        if stale:
            raise ApiError(
                409,
                "plan.stale",
                f"{len(stale)} élève(s) de la proposition ne sont plus à planifier (classe, certifiabilité"
                " ou inscription changées) : recalculez la proposition",
                learner_ids=stale,
            )
        existing = [row.session for row in await store.live_sessions(uow.conn, school.uai)]
        taken_codes = await store.live_access_codes(uow.conn)
        capacity = {r.name: r.workstations for r in school.rooms}
        created: list[_NewSession] = []
        for entry in planned:
            day = date.fromisoformat(entry["date"])
            track = _track_calendar(runtime, school, day)
            try:
                session = create_session(
                    number=await store.next_session_number(uow.conn),
                    site=entry["site"],
                    room=entry["room"],
                    invigilators=entry["invigilators"],
                    day=day,
                    time=entry["time"],
                    calendar=track,
                    rooms=school.rooms,
                    existing=existing,
                    now=local,
                    taken_codes=taken_codes,
                )
                result = enrol_learners(
                    session_number=session.number,
                    school_id=school.uai,
                    room_capacity=capacity.get(session.room, 0),
                    learners=[learners[lid].learner for lid in entry["learner_ids"]],
                    existing=[],
                    invigilators=len(session.invigilators),
                )
            except DomainError as error:
                raise ApiError(
                    409,
                    "plan.conflict",
                    f"la proposition ne tient plus ({entry['date']} {entry['time']}, {entry['room']}) :"
                    f" {error.message}",
                    cause=error.code,
                    **_jsonable(error.details),
                ) from None
            existing.append(session)
            taken_codes.add(session.access_code)
            created.append(
                _NewSession(
                    uuid.uuid4(),
                    session,
                    [(uuid.uuid4(), learners[c.learner_id].ine, c) for c in result.enrolled],
                )
            )
        hashes = await asyncio.gather(
            *(asyncio.to_thread(hash_password, n.session.invigilator_password) for n in created)
        )
        for new, password_hash in zip(created, hashes, strict=True):
            new.password_hash = password_hash
            await _insert_new_session(uow, school, new, plan_id=plan_id, now=now)
        await store.confirm_plan(uow.conn, plan_id, now)
        row = await store.get_plan(uow.conn, plan_id)
    assert row is not None
    return row, [n.session_id for n in created]


async def _insert_new_session(
    uow: UnitOfWork, school: store.SchoolRow, new: _NewSession, *, plan_id: uuid.UUID | None, now: datetime
) -> None:
    await store.insert_session(
        uow.conn,
        session_id=new.session_id,
        uai=school.uai,
        session=new.session,
        password_hash=new.password_hash,
        plan_id=plan_id,
        now=now,
    )
    await uow.emit(
        SessionCreated(
            **_session_details(school, new.session_id, new.session, new.password_hash), created_at=now
        )
    )
    if new.candidates:
        await store.insert_candidates(uow.conn, new.session_id, new.candidates, now)
        await uow.emit(
            CandidatesEnrolled(
                session_id=str(new.session_id),
                uai=school.uai,
                candidates=[_enrolled(cid, ine, c) for cid, ine, c in new.candidates],
                enrolled_at=now,
            )
        )


def _session_details(
    school: store.SchoolRow, session_id: uuid.UUID, session: Session, password_hash: str
) -> dict[str, Any]:
    """The SessionDetails fields of the v1 contract; the password travels only as its hash."""
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
        "invigilator_password_hash": password_hash,
    }


def _enrolled(candidate_id: uuid.UUID, ine: str | None, c: Candidate) -> EnrolledCandidate:
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
    )


# ----------------------------------------------------------------------------------------- sessions


def _site_for(school: store.SchoolRow, room: str, site: str | None) -> str:
    if site:
        return site
    key = " ".join(room.split()).casefold()
    for r in school.rooms:
        if " ".join(r.name.split()).casefold() == key and r.site:
            return r.site
    return school.site


async def create_one_session(runtime: Runtime, uai: str, body: SessionIn) -> uuid.UUID:
    uai = normalise_uai(uai)
    now, local = runtime.clock.now(), local_now(runtime)
    async with runtime.unit_of_work() as uow:
        school = await _school(uow, uai, lock=True)
        existing = [row.session for row in await store.live_sessions(uow.conn, uai)]
        taken = await store.live_access_codes(uow.conn)
        try:
            parse_session_time(body.time)  # an invalid time is reported before the window
            track = calendar_of(runtime).for_date(body.date, SchoolLevel(school.level))
            session = create_session(
                number=await store.next_session_number(uow.conn),
                site=_site_for(school, body.room, body.site),
                room=_room_name(school, body.room),
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
        except DomainError as error:
            raise api_error(error) from None
        new = _NewSession(uuid.uuid4(), session, [])
        new.password_hash = await asyncio.to_thread(hash_password, session.invigilator_password)
        await _insert_new_session(uow, school, new, plan_id=None, now=now)
    return new.session_id


def _room_name(school: store.SchoolRow, room: str) -> str:
    """The room's name as the school wrote it (matching ignores case and spacing)."""
    key = " ".join(room.split()).casefold()
    return next((r.name for r in school.rooms if " ".join(r.name.split()).casefold() == key), room)


_FIELD_NAMES = {
    "site": "address",
    "room": "room",
    "invigilators": "examiners",
    "day": "date",
    "time": "time",
    "observations": "description",
}


async def patch_session(runtime: Runtime, session_id: uuid.UUID, body: SessionPatch) -> None:
    now, local = runtime.clock.now(), local_now(runtime)
    async with runtime.unit_of_work() as uow:
        row, school = await _live_session_locked(uow, session_id)
        _not_started(row, "modification")
        existing = [r.session for r in await store.live_sessions(uow.conn, row.uai)]
        try:
            if body.time is not None:
                parse_session_time(body.time)
            day = body.date or row.session.day
            changed = update_session(
                row.session,
                calendar=calendar_of(runtime).for_date(day, SchoolLevel(school.level)),
                rooms=school.rooms,
                existing=existing,
                now=local,
                site=body.site,
                room=None if body.room is None else _room_name(school, body.room),
                invigilators=body.invigilators,
                day=body.date,
                time=body.time,
                observations=body.observations,
            )
        except DomainError as error:
            raise api_error(error) from None
        fields = [
            name
            for attr, name in _FIELD_NAMES.items()
            if getattr(changed, attr) != getattr(row.session, attr)
        ]
        if not fields:
            return
        enrolled = len(await store.candidates(uow.conn, session_id))
        if "examiners" in fields:
            try:
                check_invigilators(enrolled, len(changed.invigilators))
            except DomainError as error:
                raise api_error(error) from None
        if "room" in fields:
            capacity = next(r.workstations for r in school.rooms if r.name == changed.room)
            if enrolled > capacity:
                raise ApiError(
                    409,
                    "room.capacity_exceeded",
                    f"la salle {changed.room} compte {capacity} postes pour {enrolled} candidat(s) inscrit(s)",
                    capacity=capacity,
                    enrolled=enrolled,
                )
        await store.update_session(uow.conn, session_id, changed, now)
        await uow.emit(
            SessionUpdated(
                **_session_details(school, session_id, changed, row.password_hash),
                changed_fields=fields,
                updated_at=now,
            )
        )


async def delete_session(runtime: Runtime, session_id: uuid.UUID, reason: str | None) -> None:
    now = runtime.clock.now()
    async with runtime.unit_of_work() as uow:
        row, _ = await _live_session_locked(uow, session_id)
        try:
            ensure_deletable(row.session)
        except DomainError as error:
            raise api_error(error) from None
        await store.cancel_session(uow.conn, session_id, now)
        await uow.emit(
            SessionCancelled(session_id=str(session_id), uai=row.uai, reason=reason or None, cancelled_at=now)
        )


# --------------------------------------------------------------------------------------- enrolment


@dataclass
class EnrolmentOutcome:
    enrolled: list[store.CandidateRow]
    already_enrolled: list[str]
    refused: list[dict[str, str]]


async def enrol(runtime: Runtime, session_id: uuid.UUID, body: EnrolmentIn) -> EnrolmentOutcome:
    """Enrol a class (or chosen learners) of the session's school; see domain.enrolment for the rules."""
    if not body.division and not body.learner_ids:
        raise ApiError(422, "enrolment.nothing_selected", "indiquez une classe (division) ou des élèves")
    now = runtime.clock.now()
    async with runtime.unit_of_work() as uow:
        row, school = await _live_session_locked(uow, session_id)
        _not_started(row, "inscription")
        selected = await _selected_learners(uow, school, body)
        chosen = {lr.learner.id for lr in selected}
        named = sorted((set(body.overrides) | set(body.extra_time)) - chosen)
        if named:
            others = await store.learners_by_id(uow.conn, named)
            foreign = [lid for lid in named if lid in others and others[lid].learner.school_id != school.uai]
            if foreign:
                raise ApiError(
                    422,
                    "enrolment.foreign_learner",
                    f"{len(foreign)} élève(s) n'appartiennent pas à l'établissement {school.uai}",
                    learner_ids=foreign,
                )
            raise ApiError(
                422,
                "enrolment.learner_not_selected",
                f"motif ou temps majoré donné pour des élèves hors de la sélection : {', '.join(named)}",
                learner_ids=named,
            )
        elsewhere = await store.learners_in_other_live_sessions(uow.conn, chosen, session_id)
        refused = [
            {
                "learner_id": lid,
                "code": "candidate.enrolled_elsewhere",
                "message": f"déjà inscrit(e) à la session {number}",
            }
            for lid, number in sorted(elsewhere.items())
        ]
        current = await store.candidates(uow.conn, session_id)
        capacity = next((r.workstations for r in school.rooms if r.name == row.session.room), None)
        if capacity is None:
            raise ApiError(
                409, "room.unknown", f"la salle {row.session.room} n'existe plus", room=row.session.room
            )
        try:
            result = enrol_learners(
                session_number=row.session.number,
                school_id=school.uai,
                room_capacity=capacity,
                learners=[lr.learner for lr in selected if lr.learner.id not in elsewhere],
                existing=[c.candidate for c in current],
                overrides=body.overrides,
                extra_time=body.extra_time,
                invigilators=len(row.session.invigilators),
            )
        except DomainError as error:
            raise api_error(error) from None
        refused += [
            {"learner_id": r.learner_id, "code": r.code, "message": r.message} for r in result.refused
        ]
        ine = {lr.learner.id: lr.ine for lr in selected}
        new = [(uuid.uuid4(), ine[c.learner_id], c) for c in result.enrolled]
        if new:
            await store.insert_candidates(uow.conn, session_id, new, now)
            await uow.emit(
                CandidatesEnrolled(
                    session_id=str(session_id),
                    uai=school.uai,
                    candidates=[_enrolled(cid, i, c) for cid, i, c in new],
                    enrolled_at=now,
                )
            )
    return EnrolmentOutcome(
        [store.CandidateRow(cid, i, now, c) for cid, i, c in new], list(result.already_enrolled), refused
    )


async def _selected_learners(
    uow: UnitOfWork, school: store.SchoolRow, body: EnrolmentIn
) -> list[store.LearnerRow]:
    selected: dict[str, store.LearnerRow] = {}
    if body.division:
        in_class = await store.learners_of_class(uow.conn, school.uai, body.division)
        if not in_class:
            known = await store.divisions(uow.conn, school.uai)
            raise ApiError(
                422,
                "class.unknown",
                f"classe inconnue dans l'établissement {school.uai} : {body.division!r}",
                division=body.division,
                known=known,
            )
        selected.update((lr.learner.id, lr) for lr in in_class)
    if body.learner_ids:
        found = await store.learners_by_id(uow.conn, body.learner_ids)
        unknown = sorted(set(body.learner_ids) - set(found))
        if unknown:
            raise ApiError(
                422, "learner.unknown", f"élève(s) inconnu(s) : {', '.join(unknown)}", learner_ids=unknown
            )
        foreign = [lid for lid in body.learner_ids if found[lid].learner.school_id != school.uai]
        if foreign:
            raise ApiError(
                422,
                "enrolment.foreign_learner",
                f"{len(foreign)} élève(s) n'appartiennent pas à l'établissement {school.uai}",
                learner_ids=foreign,
            )
        inactive = [lid for lid in body.learner_ids if not found[lid].active]
        if inactive:
            raise ApiError(
                422,
                "learner.inactive",
                f"élève(s) absent(s) du dernier import SIECLE : {', '.join(inactive)}",
                learner_ids=inactive,
            )
        selected.update((lid, found[lid]) for lid in body.learner_ids)
    return list(selected.values())


async def unenrol(runtime: Runtime, session_id: uuid.UUID, candidate_id: uuid.UUID) -> None:
    now = runtime.clock.now()
    async with runtime.unit_of_work() as uow:
        row, _ = await _live_session_locked(uow, session_id)
        _not_started(row, "désinscription")
        learner_id = await store.delete_candidate(uow.conn, session_id, candidate_id)
        if learner_id is None:
            raise ApiError(
                404,
                "candidate.unknown",
                f"candidat inconnu dans cette session : {candidate_id}",
                candidate_id=str(candidate_id),
            )
        await uow.emit(
            CandidateUnenrolled(
                session_id=str(session_id),
                uai=row.uai,
                candidate_id=str(candidate_id),
                learner_id=learner_id,
                unenrolled_at=now,
            )
        )


# ---------------------------------------------------------------------------------------- documents


@dataclass
class SessionView:
    row: store.SessionRow
    school: store.SchoolRow
    candidates: list[store.CandidateRow]
    documents: list[Any]


async def session_view(runtime: Runtime, session_id: uuid.UUID) -> SessionView:
    async with runtime.unit_of_work() as uow:
        row = await _session(uow, session_id)
        school = await _school(uow, row.uai)
        return SessionView(
            row,
            school,
            await store.candidates(uow.conn, session_id),
            await store.session_documents(uow.conn, session_id),
        )


async def render_document(runtime: Runtime, session_id: uuid.UUID, kind: str) -> tuple[str, bytes]:
    if kind not in DOCUMENT_KINDS:
        raise ApiError(
            404, "document.unknown", f"document inconnu : {kind!r}", kind=kind, known=list(DOCUMENT_KINDS)
        )
    view = await session_view(runtime, session_id)
    _live(view.row)
    school, session = _school_doc(view.school), view.row.session
    cands = [c.candidate for c in view.candidates]
    renderers = {
        "convocations": (
            f"convocations-session-{session.number}.pdf",
            documents.render_convocations,
            (school, session, cands),
        ),
        "attendance-sheet": (
            f"feuille-emargement-session-{session.number}.pdf",
            documents.render_attendance_sheet,
            (school, session, cands),
        ),
        "invigilator-kit": (
            f"kit-surveillant-session-{session.number}.pdf",
            documents.render_invigilator_kit,
            (school, session, cands),
        ),
        "incident-report": (
            f"pv-incident-session-{session.number}.pdf",
            documents.render_incident_report,
            (school, session),
        ),
        "fraud-report": (
            f"pv-fraude-session-{session.number}.pdf",
            documents.render_fraud_report,
            (school, session),
        ),
    }
    name, render, args = renderers[kind]
    return name, await asyncio.to_thread(render, *args)


async def candidate_convocation(
    runtime: Runtime, session_id: uuid.UUID, candidate_id: uuid.UUID
) -> tuple[str, bytes]:
    """One student's convocation, for a school that hands them out one by one."""
    view = await session_view(runtime, session_id)
    _live(view.row)
    found = next((c for c in view.candidates if c.candidate_id == candidate_id), None)
    if found is None:
        raise ApiError(
            404,
            "candidate.unknown",
            f"candidat inconnu dans cette session : {candidate_id}",
            candidate_id=str(candidate_id),
        )
    content = await asyncio.to_thread(
        documents.render_convocation, _school_doc(view.school), view.row.session, found.candidate
    )
    return f"convocation-session-{view.row.session.number}-{candidate_id}.pdf", content


async def session_bundle(runtime: Runtime, session_id: uuid.UUID) -> tuple[str, bytes, SessionView]:
    view = await session_view(runtime, session_id)
    _live(view.row)
    content = await asyncio.to_thread(
        documents.build_session_bundle,
        _school_doc(view.school),
        view.row.session,
        [c.candidate for c in view.candidates],
    )
    return documents.session_bundle_name(view.row.session), content, view


async def day_bundle(runtime: Runtime, uai: str, day: date) -> tuple[str, bytes]:
    uai = normalise_uai(uai)
    async with runtime.unit_of_work() as uow:
        school = await _school(uow, uai)
        rows = await store.school_sessions(uow.conn, uai, day=day)
        pairs = [
            (r.session, [c.candidate for c in await store.candidates(uow.conn, r.session_id)]) for r in rows
        ]
    if not pairs:
        raise ApiError(
            404,
            "day.no_session",
            f"aucune session le {day:%d/%m/%Y} pour {uai}",
            uai=uai,
            date=day.isoformat(),
        )
    content = await asyncio.to_thread(documents.build_day_bundle, _school_doc(school), day, pairs)
    return documents.day_bundle_name(day), content


async def issue_convocations(runtime: Runtime, session_id: uuid.UUID) -> dict[str, Any]:
    """Render the session's bundle, record its fingerprint and tell the others (ConvocationsIssued)."""
    now = runtime.clock.now()
    async with runtime.unit_of_work() as uow:
        row, school = await _live_session_locked(uow, session_id)
        cands = await store.candidates(uow.conn, session_id)
        if not cands:
            raise ApiError(
                409,
                "convocations.no_candidate",
                f"la session {row.session.number} n'a aucun candidat à convoquer",
            )
        content = await asyncio.to_thread(
            documents.build_session_bundle, _school_doc(school), row.session, [c.candidate for c in cands]
        )
        file_name = documents.session_bundle_name(row.session)
        sha256 = hashlib.sha256(content).hexdigest()
        candidate_ids = [c.candidate_id for c in cands]
        await store.insert_document(
            uow.conn,
            session_id=session_id,
            uai=school.uai,
            kind="session_bundle",
            file_name=file_name,
            sha256=sha256,
            size_bytes=len(content),
            candidate_ids=candidate_ids,
            now=now,
        )
        await uow.emit(
            ConvocationsIssued(
                session_id=str(session_id),
                uai=school.uai,
                candidate_ids=[str(c) for c in candidate_ids],
                bundle_file=file_name,
                bundle_sha256=sha256,
                issued_at=now,
            )
        )
    return {
        "session_id": session_id,
        "candidate_ids": candidate_ids,
        "bundle_file": file_name,
        "bundle_sha256": sha256,
        "issued_at": now,
    }
