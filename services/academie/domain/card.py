"""The Phase 3 card of a school: which of its steps are reached, since when, with which counts.

The card is derived, never stored: the read model keeps what the events said about each session
(created, convoked, first start, finalisation, results, overdue) and the school's learners and
livret files, and ``progress`` reads the steps from them, so a replay or an event read late can
only move a school to the state its events describe. The rules, over the school's *live* sessions
(created by the scheduler and not cancelled):

* ``planned`` — at least one live session; reached at the first creation;
* ``convoked`` — every live session has its convocations; reached at the last issue;
* ``held`` — every live session has started; reached at the last first start;
* ``finalised`` — at least one session held and every held session finalised; reached at the last
  finalisation;
* ``results`` — at least one session finalised and every finalised session has results; reached
  when the last one's results were processed;
* ``livret`` — results reached and a livret file produced after the last results; reached then.

A school's ``step`` is the first step not reached (``done`` when all are), the answer to "who is
behind on what". A school known only from its roster has reached nothing: ``step`` = ``planned``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

#: the steps of the card, in the order a school goes through them
STEPS = ("planned", "convoked", "held", "finalised", "results", "livret")
#: the step of a school that reached every step
DONE = "done"
STEP_LABELS = {
    "planned": "planifié",
    "convoked": "convoqué",
    "held": "sessions tenues",
    "finalised": "finalisé",
    "results": "résultats reçus",
    "livret": "livret prêt",
    DONE: "terminé",
}


@dataclass(frozen=True, slots=True)
class SessionFacts:
    """What the events said about one session (None: that event has not been seen)."""

    session_id: str
    uai: str
    session_number: int | None = None
    created_at: datetime | None = None
    cancelled: bool = False
    convoked_at: datetime | None = None
    started_at: datetime | None = None
    finalised_at: datetime | None = None
    results_at: datetime | None = None
    results: int = 0
    candidates: int = 0

    @property
    def live(self) -> bool:
        """Created by the scheduler and not cancelled: a session the school runs."""
        return self.created_at is not None and not self.cancelled


@dataclass(frozen=True, slots=True)
class StepState:
    step: str
    reached: bool
    #: sessions that reached it (planned: live sessions; livret: livret files)
    count: int
    reached_at: datetime | None


@dataclass(frozen=True, slots=True)
class SchoolFacts:
    """Everything the read model knows of one school."""

    uai: str
    name: str | None = None
    school_level: str | None = None
    sessions: Sequence[SessionFacts] = ()
    #: active learners of the roster, those certifiable, those assessed not certifiable
    learners: int = 0
    certifiable: int = 0
    not_certifiable: int = 0
    #: active learners by the first two digits of their MEF code ('' when none)
    mef_prefixes: dict[str, int] = field(default_factory=dict)
    livret_at: datetime | None = None
    livrets: int = 0
    classes_exported: int = 0
    overdue: int = 0


def _last(times: Sequence[datetime | None]) -> datetime | None:
    known = [t for t in times if t is not None]
    return max(known) if known else None


def steps(sessions: Sequence[SessionFacts], livret_at: datetime | None, livrets: int) -> list[StepState]:
    """The six steps of the card, in order, from a school's sessions and its last livret file."""
    live = [s for s in sessions if s.live]
    convoked = [s for s in live if s.convoked_at]
    held = [s for s in live if s.started_at]
    finalised = [s for s in held if s.finalised_at]
    with_results = [s for s in finalised if s.results_at]
    planned = bool(live)
    created = [s.created_at for s in live]
    results_reached = bool(finalised) and len(with_results) == len(finalised)
    results_at = _last([s.results_at for s in with_results]) if results_reached else None
    livret_reached = results_at is not None and livret_at is not None and livret_at >= results_at

    def every(done: list[SessionFacts], among: list[SessionFacts], attr: str) -> tuple[bool, datetime | None]:
        reached = bool(among) and len(done) == len(among)
        return reached, _last([getattr(s, attr) for s in done]) if reached else None

    convoked_ok, convoked_at = every(convoked, live, "convoked_at")
    held_ok, held_at = every(held, live, "started_at")
    finalised_ok, finalised_at = every(finalised, held, "finalised_at")
    return [
        StepState("planned", planned, len(live), min(c for c in created if c) if planned else None),
        StepState("convoked", convoked_ok, len(convoked), convoked_at),
        StepState("held", held_ok, len(held), held_at),
        StepState("finalised", finalised_ok, len(finalised), finalised_at),
        StepState("results", results_reached, len(with_results), results_at),
        StepState("livret", livret_reached, livrets, livret_at if livret_reached else None),
    ]


def current_step(card: Sequence[StepState]) -> str:
    """The first step not reached, ``done`` when every one is."""
    return next((s.step for s in card if not s.reached), DONE)


def step_rank(step: str) -> int:
    """Position of a step (``done`` last): sorting by it lists the schools furthest behind first."""
    return STEPS.index(step) if step in STEPS else len(STEPS)
