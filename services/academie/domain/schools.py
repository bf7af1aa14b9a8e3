"""A school's line of the académie view: its card, counts, type and certifiability rate, and the
filters, order and totals the operator's page asks for.

* **Type** (``college`` / ``lycee`` / ``lp``): the events carry no type, but learners carry their
  MEF code, whose first digits name the track (1…: collège; 24…: bac pro; 5…: CAP; other 2…/3…:
  lycée général et technologique, BTS, CPGE). The most frequent track among the school's active
  learners decides; without MEF codes, the scheduler's track of its sessions (``college`` /
  ``lycee``); otherwise unknown (None).
* **Certifiability rate**: certifiable learners / active learners of the roster (a learner never
  assessed counts as not certifiable yet: that is what the school has to act on); None without a
  roster.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from services.academie.domain.card import STEPS, SchoolFacts, StepState, current_step, step_rank, steps
from shared.errors import DomainError

SCHOOL_TYPES = ("college", "lycee", "lp")
TYPE_LABELS = {"college": "collège", "lycee": "lycée", "lp": "LP", None: ""}


def mef_track(prefix: str) -> str | None:
    """The type of school a MEF code's first two digits belong to (None: no code, or unknown)."""
    if not prefix or not prefix[0].isdigit():
        return None
    if prefix[0] == "1":
        return "college"
    if prefix.startswith("24") or prefix[0] == "5":
        return "lp"
    if prefix[0] in "23":
        return "lycee"
    return None


def school_type(mef_prefixes: dict[str, int], school_level: str | None) -> str | None:
    """The school's type from its learners' MEF codes, else from its sessions' track."""
    tracks: Counter[str] = Counter()
    for prefix, count in mef_prefixes.items():
        track = mef_track(prefix)
        if track:
            tracks[track] += count
    if tracks:
        # the most frequent; ties broken by the order of SCHOOL_TYPES, so the answer is stable
        return max(SCHOOL_TYPES, key=lambda t: (tracks[t], -SCHOOL_TYPES.index(t)))
    return school_level if school_level in SCHOOL_TYPES else None


def rate(part: int, whole: int) -> float | None:
    """``part / whole`` rounded to 4 decimals, None when ``whole`` is 0."""
    return round(part / whole, 4) if whole else None


@dataclass(frozen=True, slots=True)
class SchoolProgress:
    uai: str
    name: str | None
    type: str | None
    card: list[StepState]
    step: str
    sessions: int
    candidates: int
    results: int
    classes_exported: int
    overdue: int
    learners: int
    certifiable: int
    not_certifiable: int

    @property
    def certifiability_rate(self) -> float | None:
        return rate(self.certifiable, self.learners)

    def reached(self, step: str) -> StepState:
        return next(s for s in self.card if s.step == step)


def progress(facts: SchoolFacts) -> SchoolProgress:
    """The school's line, derived from what the read model knows of it."""
    card = steps(facts.sessions, facts.livret_at, facts.livrets)
    live = [s for s in facts.sessions if s.live]
    return SchoolProgress(
        uai=facts.uai,
        name=facts.name,
        type=school_type(facts.mef_prefixes, facts.school_level),
        card=card,
        step=current_step(card),
        sessions=len(live),
        candidates=sum(s.candidates for s in live),
        results=sum(s.results for s in live),
        classes_exported=facts.classes_exported,
        overdue=facts.overdue,
        learners=facts.learners,
        certifiable=facts.certifiable,
        not_certifiable=facts.not_certifiable,
    )


@dataclass(frozen=True, slots=True)
class SchoolFilter:
    """The list's filters; None means "any"."""

    type: str | None = None
    step: str | None = None
    overdue: bool | None = None
    q: str | None = None

    def __post_init__(self) -> None:
        if self.type is not None and self.type not in SCHOOL_TYPES:
            raise DomainError(
                "filter.invalid", "unknown school type", field="type", value=self.type, allowed=SCHOOL_TYPES
            )
        allowed_steps = (*STEPS, "done")
        if self.step is not None and self.step not in allowed_steps:
            raise DomainError(
                "filter.invalid", "unknown step", field="step", value=self.step, allowed=allowed_steps
            )

    def accepts(self, school: SchoolProgress) -> bool:
        if self.type is not None and school.type != self.type:
            return False
        if self.step is not None and school.step != self.step:
            return False
        if self.overdue is not None and (school.overdue > 0) != self.overdue:
            return False
        if self.q:
            needle = self.q.strip().casefold()
            if needle not in school.uai.casefold() and needle not in (school.name or "").casefold():
                return False
        return True


def select(schools: Iterable[SchoolProgress], where: SchoolFilter) -> list[SchoolProgress]:
    """The schools the filter accepts, furthest behind first, then by UAI (a stable order to page)."""
    return sorted((s for s in schools if where.accepts(s)), key=lambda s: (step_rank(s.step), s.uai))


@dataclass(frozen=True, slots=True)
class StepTotal:
    step: str
    #: schools that reached the step
    reached: int
    #: schools for which it is the first step not reached
    current: int
    #: sessions that reached it, over all schools
    sessions: int


@dataclass(frozen=True, slots=True)
class Summary:
    schools: int
    steps: list[StepTotal]
    done: int
    sessions: int
    candidates: int
    results: int
    overdue_sessions: int
    schools_overdue: int
    learners: int
    certifiable: int

    @property
    def certifiability_rate(self) -> float | None:
        return rate(self.certifiable, self.learners)


def summarise(schools: Sequence[SchoolProgress]) -> Summary:
    """Académie-wide totals: per step, schools that reached it and schools stopped at it."""
    totals = [
        StepTotal(
            step,
            reached=sum(1 for s in schools if s.reached(step).reached),
            current=sum(1 for s in schools if s.step == step),
            sessions=sum(s.reached(step).count for s in schools if step != "livret"),
        )
        for step in STEPS
    ]
    return Summary(
        schools=len(schools),
        steps=totals,
        done=sum(1 for s in schools if s.step == "done"),
        sessions=sum(s.sessions for s in schools),
        candidates=sum(s.candidates for s in schools),
        results=sum(s.results for s in schools),
        overdue_sessions=sum(s.overdue for s in schools),
        schools_overdue=sum(1 for s in schools if s.overdue),
        learners=sum(s.learners for s in schools),
        certifiable=sum(s.certifiable for s in schools),
    )
