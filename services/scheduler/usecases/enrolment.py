"""Enrolment: enrol a class (or chosen learners) of the session's school, or take a candidate out,
until the session is finalised (Pix lets SCO centres enrol after the first start: a forgotten
student is added on the day; finalisation's room learns them from CandidatesEnrolled).

Learners already enrolled elsewhere are refused one by one (``refused``), the rest as
domain.enrolment says; a selection that names learners of another school, unknown or inactive
ones, is refused whole.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, replace

from services.scheduler.domain.enrolment import enrol_learners
from services.scheduler.domain.errors import DomainError
from services.scheduler.domain.lifecycle import clean_adapted_conditions, ensure_not_finalised
from services.scheduler.domain.sessions import room_capacity
from services.scheduler.schemas import EnrolmentIn
from services.scheduler.store import CandidateRow, LearnerRow, SchoolRow
from services.scheduler.usecases.common import (
    Begin,
    SchoolClock,
    UnitOfWork,
    live_session_locked,
    unknown_candidate,
)
from services.scheduler.usecases.sessions import enrolled_candidate
from shared.contracts.events import CandidatesEnrolled, CandidateUnenrolled


@dataclass
class EnrolmentOutcome:
    enrolled: list[CandidateRow]
    already_enrolled: list[str]
    refused: list[dict[str, str]]


async def enrol(
    begin: Begin, *, session_id: uuid.UUID, body: EnrolmentIn, clock: SchoolClock
) -> EnrolmentOutcome:
    """Enrol a class (or chosen learners) of the session's school; see domain.enrolment for the rules."""
    if not body.division and not body.learner_ids:
        raise DomainError("enrolment.nothing_selected", "indiquez une classe (division) ou des élèves")
    now = clock.now()
    async with begin() as uow:
        row, school = await live_session_locked(uow, session_id)
        ensure_not_finalised(row.session.number, row.finalised_at, "inscription")
        adapted = {lid: clean_adapted_conditions(text) for lid, text in body.adapted_conditions.items()}
        selected = await _selected_learners(uow, school, body)
        chosen = {lr.learner.id for lr in selected}
        named = sorted((set(body.overrides) | set(body.extra_time) | set(adapted)) - chosen)
        if named:
            others = await uow.store.learners_by_id(named)
            _refuse_foreign(school, [lid for lid in named if lid in others], others)
            raise DomainError(
                "enrolment.learner_not_selected",
                f"motif ou temps majoré donné pour des élèves hors de la sélection : {', '.join(named)}",
                learner_ids=named,
            )
        elsewhere = await uow.store.learners_in_other_live_sessions(chosen, session_id)
        refused = [
            {
                "learner_id": lid,
                "code": "candidate.enrolled_elsewhere",
                "message": f"déjà inscrit(e) à la session {number}",
            }
            for lid, number in sorted(elsewhere.items())
        ]
        current = await uow.store.candidates(session_id)
        capacity = room_capacity(school.rooms, row.session.room)
        if capacity is None:
            raise DomainError(
                "room.unknown", f"la salle {row.session.room} n'existe plus", room=row.session.room
            )
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
        refused += [
            {"learner_id": r.learner_id, "code": r.code, "message": r.message} for r in result.refused
        ]
        ine = {lr.learner.id: lr.ine for lr in selected}
        enrolled = [replace(c, adapted_conditions=adapted.get(c.learner_id)) for c in result.enrolled]
        new = [(uuid.uuid4(), ine[c.learner_id], c) for c in enrolled]
        if new:
            await uow.store.insert_candidates(session_id, new, now)
            await uow.emit(
                CandidatesEnrolled(
                    session_id=str(session_id),
                    uai=school.uai,
                    candidates=[enrolled_candidate(cid, i, c) for cid, i, c in new],
                    enrolled_at=now,
                )
            )
    return EnrolmentOutcome(
        [CandidateRow(cid, i, now, c) for cid, i, c in new], list(result.already_enrolled), refused
    )


def _refuse_foreign(school: SchoolRow, learner_ids: Iterable[str], found: dict[str, LearnerRow]) -> None:
    """Learners of another school are never enrolled here (``enrolment.foreign_learner``)."""
    foreign = [lid for lid in learner_ids if found[lid].learner.school_id != school.uai]
    if foreign:
        raise DomainError(
            "enrolment.foreign_learner",
            f"{len(foreign)} élève(s) n'appartiennent pas à l'établissement {school.uai}",
            learner_ids=foreign,
        )


async def _selected_learners(uow: UnitOfWork, school: SchoolRow, body: EnrolmentIn) -> list[LearnerRow]:
    selected: dict[str, LearnerRow] = {}
    if body.division:
        in_class = await uow.store.learners_of_class(school.uai, body.division)
        if not in_class:
            known = await uow.store.divisions(school.uai)
            raise DomainError(
                "class.unknown",
                f"classe inconnue dans l'établissement {school.uai} : {body.division!r}",
                division=body.division,
                known=known,
            )
        selected.update((lr.learner.id, lr) for lr in in_class)
    if body.learner_ids:
        found = await uow.store.learners_by_id(body.learner_ids)
        unknown = sorted(set(body.learner_ids) - set(found))
        if unknown:
            raise DomainError(
                "learner.unknown", f"élève(s) inconnu(s) : {', '.join(unknown)}", learner_ids=unknown
            )
        _refuse_foreign(school, body.learner_ids, found)
        inactive = [lid for lid in body.learner_ids if not found[lid].active]
        if inactive:
            raise DomainError(
                "learner.inactive",
                f"élève(s) absent(s) du dernier import SIECLE : {', '.join(inactive)}",
                learner_ids=inactive,
            )
        selected.update((lid, found[lid]) for lid in body.learner_ids)
    return list(selected.values())


async def unenrol(
    begin: Begin, *, session_id: uuid.UUID, candidate_id: uuid.UUID, clock: SchoolClock
) -> None:
    """Take a candidate out of a session not finalised yet (CandidateUnenrolled); one whose test
    started stays in finalisation's room (a test that happened cannot be taken back)."""
    now = clock.now()
    async with begin() as uow:
        row, _ = await live_session_locked(uow, session_id)
        ensure_not_finalised(row.session.number, row.finalised_at, "désinscription")
        learner_id = await uow.store.delete_candidate(session_id, candidate_id)
        if learner_id is None:
            raise unknown_candidate(candidate_id)
        await uow.emit(
            CandidateUnenrolled(
                session_id=str(session_id),
                uai=row.uai,
                candidate_id=str(candidate_id),
                learner_id=learner_id,
                unenrolled_at=now,
            )
        )
