"""Is a class ready to be exported to LSU/LSL?

A class is ready when every active learner has a published certification result and an INE (the
livret identifies students by INE). The result considered is the one the livret would show: the
latest non-cancelled certification. Otherwise the checklist names each blocker, so a school
knows whom to chase:

* ``no_result`` — the learner has no certification (never sat, or only cancelled ones);
* ``result_pending`` — their latest certification is not published yet (or is published but
  neither validated nor rejected, which the livret shows as ``pending``), or they have none yet
  but sat a session whose results have not arrived (``awaiting_results``);
* ``missing_ine`` — the roster has no INE for them (independent of the result);
* ``left_school`` — the learner was enrolled or certified but is no longer active in the roster:
  their result will not be exported.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum

from services.export.domain.livret import PENDING, livret_status
from services.export.domain.records import Learner
from services.export.domain.selection import ExportIndex, is_not_cancelled, latest_result, name_sort_key


class BlockerKind(StrEnum):
    NO_RESULT = "no_result"
    RESULT_PENDING = "result_pending"
    MISSING_INE = "missing_ine"
    LEFT_SCHOOL = "left_school"


@dataclass(frozen=True, slots=True)
class Blocker:
    learner_id: str
    last_name: str
    first_name: str
    kind: BlockerKind


@dataclass(frozen=True, slots=True)
class ClassReadiness:
    uai: str
    division: str
    active_learners: int
    blockers: tuple[Blocker, ...]

    @property
    def ready(self) -> bool:
        return not self.blockers


def _blocker(learner: Learner, kind: BlockerKind) -> Blocker:
    return Blocker(learner.id, learner.last_name, learner.first_name, kind)


def learner_blockers(
    index: ExportIndex, learner: Learner, awaiting_results: Collection[str] = frozenset()
) -> list[Blocker]:
    """What keeps one learner of the class from being exported (empty when nothing).

    ``awaiting_results``: ids of learners enrolled in a session whose results have not arrived.
    """
    results = index.results_of(learner.id)
    if not learner.active:
        enrolled = bool(results) or index.is_enrolled(learner.id)
        return [_blocker(learner, BlockerKind.LEFT_SCHOOL)] if enrolled else []
    blockers = []
    latest = latest_result(results, is_not_cancelled)
    if latest is None:
        pending = learner.id in awaiting_results
        blockers.append(_blocker(learner, BlockerKind.RESULT_PENDING if pending else BlockerKind.NO_RESULT))
    elif livret_status(latest) == PENDING:
        blockers.append(_blocker(learner, BlockerKind.RESULT_PENDING))
    if not (learner.ine and learner.ine.strip()):
        blockers.append(_blocker(learner, BlockerKind.MISSING_INE))
    return blockers


def class_readiness(
    index: ExportIndex, uai: str, division: str, awaiting_results: Collection[str] = frozenset()
) -> ClassReadiness:
    """The readiness checklist of one class; blockers sorted by learner name, then kind."""
    learners = index.class_learners(uai, division)
    kinds = list(BlockerKind)
    blockers = [b for learner in learners for b in learner_blockers(index, learner, awaiting_results)]
    blockers.sort(
        key=lambda b: (
            name_sort_key(b.last_name),
            name_sort_key(b.first_name),
            b.learner_id,
            kinds.index(b.kind),
        )
    )
    return ClassReadiness(
        uai=uai.strip().upper(),
        division=division,
        active_learners=sum(1 for learner in learners if learner.active),
        blockers=tuple(blockers),
    )
