"""What a re-import changes: a pure comparison of the school's learners with the new roster.

Learners are never deleted (their certification history must survive a class change or a late
SIECLE correction); one who disappears is deactivated and comes back reactivated, keeping its id.
"""

from collections.abc import Iterable
from dataclasses import dataclass, fields

from services.eligibility.domain.roster import RosterLearner

_COMPARED_FIELDS = tuple(f.name for f in fields(RosterLearner) if f.name != "ine")


@dataclass(frozen=True, slots=True)
class ExistingLearner:
    """A learner already stored for the school (id assigned by the store)."""

    learner_id: str
    record: RosterLearner
    active: bool = True


@dataclass(frozen=True, slots=True)
class FieldChange:
    field: str
    old: object
    new: object


@dataclass(frozen=True, slots=True)
class LearnerChange:
    """An existing learner whose record changed (or who came back: see RosterDiff.reactivated)."""

    learner_id: str
    before: RosterLearner
    after: RosterLearner
    changes: tuple[FieldChange, ...]

    @property
    def class_move(self) -> tuple[str, str] | None:
        """(old division, new division) when the learner changed class."""
        if self.before.division != self.after.division:
            return (self.before.division, self.after.division)
        return None


@dataclass(frozen=True, slots=True)
class RosterDiff:
    registered: tuple[RosterLearner, ...]  # new INEs: the store assigns ids
    updated: tuple[LearnerChange, ...]  # active before and after, some field changed
    deactivated: tuple[ExistingLearner, ...]  # active before, absent now
    reactivated: tuple[LearnerChange, ...]  # inactive before, present again (changes may be empty)
    unchanged: tuple[str, ...]  # learner ids present and identical

    @property
    def is_empty(self) -> bool:
        return not (self.registered or self.updated or self.deactivated or self.reactivated)


def _changes(before: RosterLearner, after: RosterLearner) -> tuple[FieldChange, ...]:
    return tuple(
        FieldChange(name, getattr(before, name), getattr(after, name))
        for name in _COMPARED_FIELDS
        if getattr(before, name) != getattr(after, name)
    )


def diff_roster(existing: Iterable[ExistingLearner], incoming: Iterable[RosterLearner]) -> RosterDiff:
    """Compare by INE (unique per school). Output order follows the incoming roster, then existing."""
    by_ine = {learner.record.ine: learner for learner in existing}
    registered: list[RosterLearner] = []
    updated: list[LearnerChange] = []
    reactivated: list[LearnerChange] = []
    unchanged: list[str] = []
    seen: set[str] = set()
    for record in incoming:
        seen.add(record.ine)
        current = by_ine.get(record.ine)
        if current is None:
            registered.append(record)
            continue
        changes = _changes(current.record, record)
        change = LearnerChange(current.learner_id, current.record, record, changes)
        if not current.active:
            reactivated.append(change)
        elif changes:
            updated.append(change)
        else:
            unchanged.append(current.learner_id)
    deactivated = tuple(learner for ine, learner in by_ine.items() if learner.active and ine not in seen)
    return RosterDiff(tuple(registered), tuple(updated), deactivated, tuple(reactivated), tuple(unchanged))
