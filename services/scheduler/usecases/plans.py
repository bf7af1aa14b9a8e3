"""Plans: propose sessions for a school's certifiable learners, then confirm the proposal.

A proposal (or the reason none exists) is stored; confirming creates every proposed session and
enrols its classes in one transaction, refused when the proposal no longer holds (``plan.stale``,
``plan.conflict``): nothing is created then.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from dataclasses import replace
from datetime import timedelta

from services.scheduler.domain.calendar import CertificationCalendar, SchoolLevel, school_year_of
from services.scheduler.domain.enrolment import enrol_learners
from services.scheduler.domain.errors import DomainError
from services.scheduler.domain.lifecycle import catch_up_track
from services.scheduler.domain.mef import choose_divisions, division_levels
from services.scheduler.domain.planner import PlanningRequest, classes_to_plan
from services.scheduler.domain.plans import check_not_stale, propose, taken_half_days
from services.scheduler.domain.schools import normalise_uai, school_hours, staff_members
from services.scheduler.domain.sessions import create_session, room_capacity
from services.scheduler.schemas import PlanIn
from services.scheduler.store import PlanRow
from services.scheduler.usecases.common import Begin, PasswordHasher, SchoolClock, UnitOfWork, school_of
from services.scheduler.usecases.sessions import NewSession, insert_new_sessions


def request_fingerprint(body: PlanIn) -> str:
    """What a resend under the same Idempotency-Key must ask again: the body, canonically."""
    canonical = json.dumps(body.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _same_request(uai: str, key: str, stored: tuple[PlanRow, str | None], fingerprint: str) -> PlanRow:
    """The proposal stored under the key, if it was asked for with the same body."""
    plan, stored_fingerprint = stored
    if stored_fingerprint != fingerprint:
        raise DomainError(
            "plan.idempotency_key_reused",
            f"la clé Idempotency-Key {key!r} a déjà servi à une autre demande de proposition",
            uai=uai,
            plan_id=str(plan.plan_id),
        )
    return plan


async def propose_plan(
    begin: Begin,
    *,
    uai: str,
    body: PlanIn,
    clock: SchoolClock,
    calendar: CertificationCalendar,
    idempotency_key: str | None = None,
) -> PlanRow:
    """Plan the certifiable learners not yet enrolled, of the certifying classes by their MEF (or of
    the given classes); the proposal (or why none exists) is stored. An unknown class is refused
    before anything is stored. With ``idempotency_key``, the school's proposal already stored under
    it is returned (a client resending after a lost answer), refused if asked for with another body."""
    uai = normalise_uai(uai)
    today = clock.local_now().date()
    fingerprint = request_fingerprint(body)
    async with begin() as uow:
        if idempotency_key and (stored := await uow.store.plan_for_key(uai, idempotency_key)):
            return _same_request(uai, idempotency_key, stored, fingerprint)
        school = await school_of(uow, uai)
        plannable = await uow.store.plannable_learners(uai)
        levels = division_levels(await uow.store.division_mef_counts(uai))
        existing = await uow.store.live_sessions(uai)
    # by default the certifying classes by MEF; another class only when named (with a warning)
    choice = choose_divisions(levels, body.divisions)
    school_divisions = [level.division for level in levels]
    classes = classes_to_plan(plannable, divisions=choice.divisions, school_divisions=school_divisions)
    school_year = body.school_year or school_year_of(today)
    track = calendar.for_level(school_year, SchoolLevel(school.level))
    if body.catch_up:  # the catch-up week, for whoever is left (the absentees of finalised sessions)
        track = catch_up_track(track)
    hours = school_hours(school.hours)
    request = PlanningRequest(
        classes=classes,
        rooms=school.rooms,
        staff=staff_members((s.name, s.availability) for s in school.staff),
        window=track.window,
        hours=hours,
        # never before Pix Certif opens: no session of the year can be created before that day
        not_before=max(
            today + timedelta(days=1), body.not_before or today, track.pix_certif_opening or today
        ),
        taken_half_days=taken_half_days((row.session for row in existing), hours),
    )
    proposal = await asyncio.to_thread(
        propose,
        request,
        track=track,
        divisions=body.divisions,
        school_site=school.site,
        today=today,
        choice=choice,
    )
    if body.catch_up:
        note = f"semaine de rattrapage {track.window.describe()}"
        proposal = replace(proposal, catch_up=True, notes=(note, *proposal.notes))
    plan_id = uuid.uuid4()
    async with begin() as uow:
        stored = await uow.store.insert_plan(
            plan_id=plan_id,
            uai=uai,
            school_year=school_year,
            status="impossible" if proposal.error else "proposed",
            proposal=proposal,
            now=clock.now(),
            idempotency_key=idempotency_key,
            request_fingerprint=fingerprint if idempotency_key else None,
        )
        if not stored and idempotency_key:  # the same key's first request stored it meanwhile
            found = await uow.store.plan_for_key(uai, idempotency_key)
            assert found is not None
            return _same_request(uai, idempotency_key, found, fingerprint)
        return await _plan(uow, plan_id)


async def get_plan(begin: Begin, *, plan_id: uuid.UUID) -> PlanRow:
    async with begin() as uow:
        return await _plan(uow, plan_id)


async def _plan(uow: UnitOfWork, plan_id: uuid.UUID, *, lock: bool = False) -> PlanRow:
    row = await uow.store.get_plan(plan_id, for_update=lock)
    if row is None:
        raise DomainError("plan.unknown", f"proposition inconnue : {plan_id}", plan_id=str(plan_id))
    return row


async def confirm_plan(
    begin: Begin,
    *,
    plan_id: uuid.UUID,
    clock: SchoolClock,
    calendar: CertificationCalendar,
    hash_password: PasswordHasher,
) -> tuple[PlanRow, list[uuid.UUID]]:
    """Create every proposed session and enrol its classes, all or nothing."""
    now, local = clock.now(), clock.local_now()
    async with begin() as uow:
        plan = await _plan(uow, plan_id, lock=True)
        proposal = plan.proposal
        if plan.status == "confirmed":
            raise DomainError("plan.already_confirmed", "cette proposition a déjà été confirmée")
        if plan.status == "impossible":
            reason = proposal.error.message if proposal.error else ""
            raise DomainError("plan.impossible", "cette proposition n'a pas de solution : " + reason)
        school = await school_of(uow, plan.uai, lock=True)
        wanted = proposal.learner_ids
        learners = await uow.store.learners_by_id(wanted)
        elsewhere = await uow.store.learners_in_other_live_sessions(wanted, uuid.uuid4())
        active = {lid: row.learner for lid, row in learners.items() if row.active}
        check_not_stale(proposal, school_id=school.uai, active=active, elsewhere=elsewhere)
        existing = [row.session for row in await uow.store.live_sessions(school.uai)]
        taken_codes = await uow.store.live_access_codes()
        for track in {calendar.for_date(p.day, SchoolLevel(school.level)) for p in proposal.sessions}:
            track.check_pix_certif_open(local.date())  # named refusal, not a plan.conflict
        created: list[NewSession] = []
        for planned in proposal.sessions:
            track = calendar.for_date(planned.day, SchoolLevel(school.level))
            try:
                session = create_session(
                    number=await uow.store.next_session_number(),
                    site=planned.site,
                    room=planned.room,
                    invigilators=planned.invigilators,
                    day=planned.day,
                    time=planned.time,
                    calendar=track,
                    rooms=school.rooms,
                    existing=existing,
                    now=local,
                    taken_codes=taken_codes,
                )
                result = enrol_learners(
                    session_number=session.number,
                    school_id=school.uai,
                    room_capacity=room_capacity(school.rooms, session.room) or 0,
                    learners=[learners[lid].learner for lid in planned.learner_ids],
                    existing=[],
                    invigilators=len(session.invigilators),
                )
            except DomainError as error:
                raise DomainError(
                    "plan.conflict",
                    f"la proposition ne tient plus ({planned.describe()}) : {error.message}",
                    cause=error.code,
                    **error.details,
                ) from None
            existing.append(session)
            taken_codes.add(session.access_code)
            enrolled = [(uuid.uuid4(), learners[c.learner_id].ine, c) for c in result.enrolled]
            created.append(NewSession(uuid.uuid4(), session, enrolled))
        await insert_new_sessions(uow, school, created, plan_id=plan_id, now=now, hash_password=hash_password)
        await uow.store.confirm_plan(plan_id, now)
        return await _plan(uow, plan_id), [n.session_id for n in created]
