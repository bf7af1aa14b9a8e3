"""An in-memory eligibility store and unit of work, for the use-case tests (no database, no broker).

``FakeStore`` keeps the rows the real store would keep, in dicts; ``FakeTransactions`` is the
``begin`` factory the use cases take: each unit of work commits its writes and events when the block
ends, and a failing block leaves neither (cosmicpython's FakeUnitOfWork). The SQL of the real store
is proven by the component tests on PostgreSQL.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Any

from services.eligibility.domain.campaign_matching import LearnerIdentity
from services.eligibility.domain.certifiability import (
    AssessmentOrigin,
    CertifiabilityAssessment,
    CurrentAssessment,
    Disagreement,
)
from services.eligibility.domain.roster import RosterLearner
from services.eligibility.domain.roster_diff import ExistingLearner
from services.eligibility.store import LearnerCertifiability, StoredLearner
from shared.contracts.events import Event


@dataclass
class StoredRow:
    uai: str
    learner: RosterLearner
    active: bool = True
    deactivated_at: datetime | None = None


@dataclass
class FakeStore:
    """The rows of the eligibility schema the use cases touch, in memory."""

    learners: dict[str, StoredRow] = field(default_factory=dict)
    assessments: dict[str, tuple[str, CertifiabilityAssessment]] = field(default_factory=dict)
    roster_imports: list[dict[str, Any]] = field(default_factory=list)
    campaign_imports: list[dict[str, Any]] = field(default_factory=list)
    disagreements: list[tuple[str, str, Disagreement]] = field(default_factory=list)
    locked: list[str] = field(default_factory=list)

    async def lock_school(self, uai: str) -> None:
        self.locked.append(uai)

    async def school_learners(self, uai: str) -> list[ExistingLearner]:
        return [ExistingLearner(i, r.learner, r.active) for i, r in self.learners.items() if r.uai == uai]

    async def insert_learners(
        self, uai: str, learners: Sequence[tuple[str, RosterLearner]], import_id: str, now: datetime
    ) -> None:
        for learner_id, learner in learners:
            self.learners[learner_id] = StoredRow(uai, learner)

    async def update_learners(
        self, learners: Sequence[tuple[str, RosterLearner]], import_id: str, now: datetime
    ) -> None:
        for learner_id, learner in learners:
            row = self.learners[learner_id]
            row.learner, row.active, row.deactivated_at = learner, True, None

    async def deactivate_learners(self, learner_ids: Sequence[str], import_id: str, now: datetime) -> None:
        for learner_id in learner_ids:
            row = self.learners[learner_id]
            row.active, row.deactivated_at = False, now

    async def insert_roster_import(self, **values: Any) -> None:
        self.roster_imports.append(values)

    async def active_identities(self, uai: str) -> list[LearnerIdentity]:
        return [
            LearnerIdentity(
                i,
                r.learner.ine,
                r.learner.last_name,
                r.learner.first_name,
                r.learner.division,
                r.learner.usage_name,
            )
            for i, r in self.learners.items()
            if r.uai == uai and r.active
        ]

    async def insert_campaign_import(self, **values: Any) -> None:
        self.campaign_imports.append(values)

    async def current_assessments(self, learner_ids: Sequence[str]) -> dict[str, CurrentAssessment]:
        return {
            i: CurrentAssessment(a.status, AssessmentOrigin.CAMPAIGN_EXPORT, a.shared_at)
            for i in learner_ids
            if (found := self.assessments.get(i)) and (a := found[1])
        }

    async def upsert_assessments(
        self,
        uai: str,
        assessments: Sequence[CertifiabilityAssessment],
        source: str,
        import_id: str,
        now: datetime,
    ) -> None:
        for a in assessments:
            self.assessments[a.learner_id] = (source, replace(a, disagreements=()))

    async def insert_disagreements(
        self, import_id: str, disagreements: Sequence[tuple[str, Disagreement]]
    ) -> None:
        self.disagreements += [(import_id, learner_id, d) for learner_id, d in disagreements]

    async def assessments_of(self, learner_ids: Iterable[str]) -> dict[str, CertifiabilityAssessment]:
        return {i: self.assessments[i][1] for i in learner_ids if i in self.assessments}

    async def school_certifiability(
        self, uai: str, division: str | None = None
    ) -> list[LearnerCertifiability]:
        rows = [
            (i, r.learner)
            for i, r in self.learners.items()
            if r.uai == uai and r.active and division in (None, r.learner.division)
        ]
        rows.sort(key=lambda x: (x[1].division, x[1].last_name, x[1].first_name, x[0]))
        return [
            LearnerCertifiability(
                i,
                learner.ine,
                learner.first_name,
                learner.last_name,
                learner.division,
                self.assessments[i][0] if i in self.assessments else None,
                self.assessments[i][1] if i in self.assessments else None,
            )
            for i, learner in rows
        ]

    async def list_learners(
        self, uai: str, division: str | None, include_inactive: bool
    ) -> list[StoredLearner]:
        rows = [
            (i, r)
            for i, r in self.learners.items()
            if r.uai == uai and division in (None, r.learner.division) and (r.active or include_inactive)
        ]
        rows.sort(
            key=lambda x: (x[1].learner.division, x[1].learner.last_name, x[1].learner.first_name, x[0])
        )
        return [
            StoredLearner(
                learner_id=i, active=r.active, deactivated_at=r.deactivated_at,
                **{**asdict(r.learner), "sex": r.learner.sex.value},
            )
            for i, r in rows
        ]  # fmt: skip


@dataclass
class FakeWork:
    store: FakeStore
    events: list[Event] = field(default_factory=list)

    async def emit(self, event: Event) -> None:
        self.events.append(event)

    async def emit_many(self, events: Sequence[Event]) -> None:
        self.events.extend(events)


@dataclass
class FakeTransactions:
    """``begin`` for the use cases: commits a unit of work's writes and events, or neither."""

    store: FakeStore = field(default_factory=FakeStore)
    committed: list[Event] = field(default_factory=list)
    commits: int = 0

    @asynccontextmanager
    async def __call__(self) -> AsyncIterator[FakeWork]:
        work = FakeWork(copy.deepcopy(self.store))
        yield work  # an exception propagates from here: the copy and its events are dropped
        self.store = work.store
        self.committed += work.events
        self.commits += 1
