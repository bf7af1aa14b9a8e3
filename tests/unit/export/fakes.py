"""An in-memory export read model and unit of work, for the use-case tests (no database, no broker).

``FakeStore`` keeps what the real store keeps (learners, sessions, candidates, results, the exports
log, the stale class marks) as domain records; ``FakeTransactions`` is the ``begin`` factory the use
cases take: a unit of work commits its rows and events when its block ends, and a failing block
leaves neither (files on disk are written as in production). The SQL of the real store is proven
by the component tests on PostgreSQL (tests/component/export).
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from services.export.domain.records import Candidate, CertificationResult, Learner, ResultStatus
from services.export.domain.selection import division_key
from services.export.domain.uai import normalise_uai
from services.export.store import ExportRecord, ResultRow, SchoolSnapshot
from shared.contracts.events import Event, LearnerSnapshot, SessionFields
from shared.contracts.referential import COMPETENCE_IDS


@dataclass
class FakeStore:
    learners: dict[str, Learner] = field(default_factory=dict)
    levels: dict[str, str] = field(default_factory=dict)  # uai → school level of its last session
    candidates: dict[str, Candidate] = field(default_factory=dict)
    results: dict[int, CertificationResult] = field(default_factory=dict)
    result_learners: dict[int, str] = field(default_factory=dict)
    exports: dict[tuple[str, str, str], ExportRecord] = field(default_factory=dict)
    session_uais: dict[str, str] = field(default_factory=dict)
    stale: dict[int, tuple[str, str]] = field(default_factory=dict)  # mark id → (uai, division key)
    next_mark: int = 0
    loads: list[str] = field(default_factory=list)  # schools loaded, in order

    # -- read model
    async def learner_classes(self, learner_ids: Sequence[str]) -> list[tuple[str, str]]:
        return [(x.uai, x.division) for i in learner_ids if (x := self.learners.get(i)) is not None]

    async def upsert_learners(self, learners: Sequence[tuple[LearnerSnapshot, bool]]) -> None:
        for learner, active in learners:
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

    async def deactivate_learners(self, learner_ids: Sequence[str]) -> list[tuple[str, str]]:
        left = []
        for learner_id in learner_ids:
            if (x := self.learners.get(learner_id)) is not None:
                self.learners[learner_id] = dataclasses.replace(x, active=False)
                left.append((x.uai, x.division))
        return left

    async def session_schools(self, session_ids: Sequence[str]) -> list[str]:
        return [self.session_uais[i] for i in session_ids if i in self.session_uais]

    async def upsert_sessions(self, sessions: Sequence[SessionFields]) -> None:
        for session in sessions:
            self.levels[normalise_uai(session.uai)] = session.school_level
            self.session_uais[session.session_id] = normalise_uai(session.uai)

    async def candidate_learners(self, candidate_ids: Sequence[str]) -> set[str]:
        return {c.learner_id for i in candidate_ids if (c := self.candidates.get(i)) is not None}

    async def upsert_results(
        self, results: Sequence[ResultRow], candidates: Sequence[tuple[str, str, str, str]]
    ) -> None:
        for row in results:
            (cid, session_id, number, candidate_id, learner_id, _uai, center, status, score, levels,
             code, first, last, birthdate, birthplace, external_id, comment, taken_at, published_at,
             _processed_at) = row.values  # fmt: skip
            before = self.results.get(cid)
            self.results[cid] = CertificationResult(
                certification_id=cid,
                candidate_id=candidate_id,
                session_id=session_id,
                session_number=number,
                status=ResultStatus(status),
                published=True,
                pix_score=score,
                taken_at=taken_at,
                first_name=first,
                last_name=last,
                birthdate=birthdate,
                certification_center=center,
                verification_code=code,
                published_at=published_at if row.published or before is None else before.published_at,
                birthplace=birthplace,
                external_id=external_id,
                jury_comment_for_organization=comment,
                competence_levels={
                    k: v for k, v in zip(COMPETENCE_IDS, levels, strict=False) if v is not None
                },
            )
            self.result_learners[cid] = learner_id
        for candidate_id, learner_id, session_id, _ in candidates:
            before = self.candidates.get(candidate_id)
            self.candidates[candidate_id] = Candidate(
                candidate_id, learner_id, before.session_id if before else session_id
            )

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
    async def mark_stale(self, marks: Iterable[tuple[str, str]]) -> None:
        for uai, key in sorted({(normalise_uai(u), k) for u, k in marks if u}):
            self.next_mark += 1
            self.stale[self.next_mark] = (uai, key)

    async def stale_schools(self, limit: int) -> list[str]:
        return list(dict.fromkeys(uai for uai, _ in self.stale.values()))[:limit]

    async def stale_marks(self, uai: str) -> list[tuple[int, str]]:
        return [(i, key) for i, (u, key) in self.stale.items() if u == normalise_uai(uai)]

    async def clear_stale(self, mark_ids: Sequence[int]) -> None:
        for mark_id in mark_ids:
            self.stale.pop(mark_id, None)


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
