"""Erase one learner's personal data on request (README, *Erasing a learner*).

Eligibility owns the learners: it erases its own copy (services/eligibility/store_erasure.py and
the outbox payloads still holding it), records the erasure, and raises LearnerErasureRequested in
the same transaction, for every other service to erase theirs. Asking again for an erased learner
(by its id: its INE is gone) changes nothing and raises nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime

from services.eligibility.store import EligibilityStore
from services.eligibility.store_erasure import ErasureStore
from services.eligibility.usecases.queries import school_of
from shared import erasure
from shared.contracts.events import LearnerErasureRequested
from shared.errors import DomainError
from shared.outbox import UnitOfWork

#: refusal codes of this use case (besides the UAI's)
NOT_FOUND = "learner.not_found"
NO_LEARNER = "erasure.learner_missing"


@dataclass(frozen=True, slots=True)
class ErasureReceipt:
    """What the operator is told: which learner, and whether this request erased it or an earlier one."""

    learner_id: str
    uai: str
    already_erased: bool
    requested_at: datetime


async def erase_learner(
    begin: Callable[[], AbstractAsyncContextManager[UnitOfWork]],
    *,
    uai: str,
    learner_id: str | None,
    ine: str | None,
    requested_by: str,
    now: datetime,
) -> ErasureReceipt:
    """Erase the learner ``learner_id`` (or with INE ``ine``) of school ``uai``, once."""
    school = school_of(uai)
    if not (learner_id or ine):
        raise DomainError(NO_LEARNER, "name the learner: learner_id or ine")
    async with begin() as uow:
        # as an import does: an import of the school running meanwhile would write the names back
        await EligibilityStore(uow.conn).lock_school(school)
        store = ErasureStore(uow.conn)
        found = await store.find(school, learner_id=learner_id, ine=ine)
        if found is None:
            raise DomainError(NOT_FOUND, "no such learner in this school", uai=school)
        if found.erased:
            return ErasureReceipt(found.learner_id, school, True, now)
        await erasure.erase_learner(
            uow.conn,
            store.erase_tables,
            learner_id=found.learner_id,
            uai=school,
            requested_at=now,
            now=now,
            service="eligibility",
        )
        await uow.emit(
            LearnerErasureRequested(
                learner_id=found.learner_id, uai=school, requested_by=requested_by, requested_at=now
            )
        )
    return ErasureReceipt(found.learner_id, school, False, now)
