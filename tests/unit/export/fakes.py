"""An in-memory export read model and unit of work, for the use-case tests (no database, no broker).

``FakeStore`` keeps what the real store keeps (learners, sessions, candidates, results, the exports
log, the stale marks) as domain records; ``FakeTransactions`` is the ``begin`` factory the use
cases take: a unit of work commits its rows and events when its block ends, and a failing block
leaves neither (files on disk are written as in production). The SQL of the real store is proven
by the component tests on PostgreSQL (tests/component/export).
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from services.export.domain.records import Candidate, CertificationResult, Learner, ResultStatus
from services.export.domain.selection import division_key
from services.export.domain.uai import normalise_uai
from services.export.store import ExportRecord, SchoolSnapshot
from shared.contracts.events import Event, LearnerSnapshot, ResultsProcessed, SessionDetails


@dataclass
class FakeStore:
    learners: dict[str, Learner] = field(default_factory=dict)
    levels: dict[str, str] = field(default_factory=dict)  # uai → school level of its last session
    candidates: dict[str, Candidate] = field(default_factory=dict)
    results: dict[int, CertificationResult] = field(default_factory=dict)
    result_learners: dict[int, str] = field(default_factory=dict)
    exports: dict[tuple[str, str, str], ExportRecord] = field(default_factory=dict)
    stale: dict[str, int] = field(default_factory=dict)
    loads: list[str] = field(default_factory=list)  # schools loaded, in order

    # -- read model
    async def upsert_learner(self, learner: LearnerSnapshot, active: bool) -> str | None:
        previous = self.learners.get(learner.learner_id)
        self.learners[learner.learner_id] = Learner(
            id=learner.learner_id,
            uai=normalise_uai(learner.uai),
            ine=learner.ine,
            first_name=learner.first_name,
            middle_name=learner.middle_name,
            third_name=learner.third_name,
            last_name=learner.last_name,
            birthdate=learner.birthdate,
            division=learner.division,
            active=active,
            birth_city=learner.birth_city,
        )
        return previous.uai if previous else None

    async def upsert_session(self, session: SessionDetails) -> None:
        self.levels[normalise_uai(session.uai)] = session.school_level

    async def upsert_results(self, event: ResultsProcessed) -> None:
        for r in event.results:
            self.results[r.certification_id] = CertificationResult(
                certification_id=r.certification_id,
                candidate_id=r.candidate_id,
                session_id=event.session_id,
                session_number=event.session_number,
                status=ResultStatus(r.status),
                published=True,
                pix_score=r.pix_score,
                taken_at=r.taken_at,
                first_name=r.first_name,
                last_name=r.last_name,
                birthdate=r.birthdate,
                certification_center=event.certification_center,
                verification_code=r.verification_code,
                published_at=r.published_at or event.processed_at,
                birthplace=r.birthplace,
                external_id=r.external_id,
                jury_comment_for_organization=r.jury_comment,
                competence_levels={k: v for k, v in r.competence_levels.items() if v is not None},
            )
            self.result_learners[r.certification_id] = r.learner_id
            self.candidates[r.candidate_id] = Candidate(r.candidate_id, r.learner_id, event.session_id)

    async def classes_of_learners(self, learner_ids: Sequence[str]) -> dict[str, set[str]]:
        classes: dict[str, set[str]] = {}
        for learner_id in learner_ids:
            if (learner := self.learners.get(learner_id)) is not None:
                classes.setdefault(learner.uai, set()).add(learner.division)
        return classes

    async def lock_school(self, uai: str) -> None:
        pass

    async def load_school(self, uai: str) -> SchoolSnapshot:
        uai = normalise_uai(uai)
        self.loads.append(uai)
        learners = [x for x in self.learners.values() if x.uai == uai]
        ids = {x.id for x in learners}
        return SchoolSnapshot(
            uai,
            learners,
            [c for c in self.candidates.values() if c.learner_id in ids],
            [r for cid, r in self.results.items() if self.result_learners[cid] in ids],
        )

    async def school_level(self, uai: str) -> str | None:
        return self.levels.get(normalise_uai(uai))

    async def learners_awaiting_results(self, uai: str) -> set[str]:
        return set()

    # -- exports log
    async def exports_of(self, uai: str) -> list[ExportRecord]:
        uai = normalise_uai(uai)
        return sorted(
            (r for (u, _, _), r in self.exports.items() if u == uai), key=lambda r: (r.kind, r.division_key)
        )

    async def export_of(self, uai: str, kind: str, division: str = "") -> ExportRecord | None:
        return self.exports.get((normalise_uai(uai), kind, division_key(division)))

    async def record_export(self, record: ExportRecord) -> None:
        self.exports[record.uai, record.kind, record.division_key] = record

    async def forget_export(self, uai: str, kind: str, key: str) -> None:
        self.exports.pop((uai, kind, key), None)

    # -- stale marks
    async def mark_stale(self, uais: Iterable[str | None]) -> None:
        for uai in {normalise_uai(u) for u in uais if u}:
            self.stale[uai] = self.stale.get(uai, 0) + 1

    async def stale_schools(self, limit: int) -> list[tuple[str, int]]:
        return list(self.stale.items())[:limit]

    async def stale_generation(self, uai: str) -> int | None:
        return self.stale.get(normalise_uai(uai))

    async def clear_stale(self, uai: str, generation: int) -> None:
        if self.stale.get(uai) == generation:
            del self.stale[uai]


@dataclass
class FakeWork:
    store: FakeStore
    events: list[Event] = field(default_factory=list)

    async def emit_many(self, events: Sequence[Event]) -> None:
        self.events.extend(events)


@dataclass
class FakeTransactions:
    """``begin`` for the use cases: commits a unit of work's rows and events, or neither."""

    store: FakeStore = field(default_factory=FakeStore)
    committed: list[Event] = field(default_factory=list)

    @asynccontextmanager
    async def __call__(self) -> AsyncIterator[FakeWork]:
        work = FakeWork(copy.deepcopy(self.store))
        yield work  # an exception propagates from here: the copy and its events are dropped
        self.store = work.store
        self.committed += work.events
