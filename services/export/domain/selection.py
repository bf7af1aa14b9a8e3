"""Which learners and which certification each export shows.

The rules come from Pix (reference pix-domain.md §7): the class CSV and attestations show, for each
*active* learner of the class, the **latest published** certification; the livret shows, for each
active learner of the school, the **latest non-cancelled** certification, published or not.
"Latest" means the most recent ``taken_at``, ties broken by the higher certification id, so the
choice never depends on input order.

The class CSV's "Lieu de naissance" is the birthplace on the certification (Pix copies the
candidate's birth city at enrolment); results without one (the livret JSON carries none) show the
learner's birth city from the roster instead (:func:`with_roster_birthplace`).

:class:`ExportIndex` groups a roster snapshot once (by school, class and learner) so that rendering
every class and school of an académie stays linear in the number of records.
"""

from __future__ import annotations

import dataclasses
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache

from services.export.domain.records import Candidate, CertificationResult, Learner, ResultStatus
from services.export.domain.uai import normalise_uai


def division_key(division: str) -> str:
    """Divisions are matched case-insensitively, as in Pix Orga's class filter."""
    return division.strip().casefold()


@lru_cache(maxsize=131_072)
def _folded(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def name_sort_key(text: str | None) -> tuple[str, str]:
    """Human order for names: accents and case ignored first ("Émile" next to "Emile"), then the
    exact spelling, so the order is total and deterministic."""
    text = text or ""
    return _folded(text), text


def _recency(result: CertificationResult) -> tuple[object, int]:
    return result.taken_at, result.certification_id


def latest_result(
    results: Iterable[CertificationResult],
    keep: Callable[[CertificationResult], bool] = lambda _: True,
) -> CertificationResult | None:
    """The most recent result accepted by ``keep``, or None."""
    best: CertificationResult | None = None
    for result in results:
        if keep(result) and (best is None or _recency(result) > _recency(best)):
            best = result
    return best


def is_published(result: CertificationResult) -> bool:
    return result.published


def is_not_cancelled(result: CertificationResult) -> bool:
    return result.status is not ResultStatus.CANCELLED


class ExportIndex:
    """Learners, enrolments and results of an académie, grouped for the exports.

    Candidates whose learner is unknown and results whose candidate is unknown are ignored:
    they cannot be attached to a school or a class.
    """

    def __init__(
        self,
        learners: Iterable[Learner],
        candidates: Iterable[Candidate],
        results: Iterable[CertificationResult],
    ) -> None:
        self._learners: dict[str, Learner] = {}
        self._by_school: dict[str, list[Learner]] = defaultdict(list)
        self._by_class: dict[tuple[str, str], list[Learner]] = defaultdict(list)
        for learner in learners:
            self._learners[learner.id] = learner
            uai = normalise_uai(learner.uai)
            self._by_school[uai].append(learner)
            self._by_class[uai, division_key(learner.division)].append(learner)

        learner_of_candidate: dict[str, str] = {}
        self._enrolled: set[str] = set()
        for candidate in candidates:
            if candidate.learner_id in self._learners:
                learner_of_candidate[candidate.id] = candidate.learner_id
                self._enrolled.add(candidate.learner_id)

        self._results: dict[str, list[CertificationResult]] = defaultdict(list)
        for result in results:
            learner_id = learner_of_candidate.get(result.candidate_id)
            if learner_id is not None:
                self._results[learner_id].append(result)

    def uais(self) -> list[str]:
        """Every school with at least one learner, sorted."""
        return sorted(self._by_school)

    def learner(self, learner_id: str) -> Learner | None:
        return self._learners.get(learner_id)

    def school_learners(self, uai: str) -> Sequence[Learner]:
        """All learners of a school, active or not, in input order."""
        return self._by_school.get(normalise_uai(uai), ())

    def class_learners(self, uai: str, division: str) -> Sequence[Learner]:
        """All learners of a class (case-insensitive division), active or not, in input order."""
        return self._by_class.get((normalise_uai(uai), division_key(division)), ())

    def divisions(self, uai: str) -> list[str]:
        """The classes of a school that have at least one active learner, one spelling per class
        (the smallest, so the choice is stable), sorted."""
        spellings: dict[str, str] = {}
        for learner in self.school_learners(uai):
            if learner.active:
                key = division_key(learner.division)
                current = spellings.get(key)
                if current is None or learner.division < current:
                    spellings[key] = learner.division
        return sorted(spellings.values(), key=name_sort_key)

    def results_of(self, learner_id: str) -> Sequence[CertificationResult]:
        """Every certification of a learner, through any of their enrolments."""
        return self._results.get(learner_id, ())

    def is_enrolled(self, learner_id: str) -> bool:
        """Whether the learner was ever enrolled as a candidate."""
        return learner_id in self._enrolled


def _present(text: str | None) -> str | None:
    return text if text is not None and text.strip() else None


def with_roster_birthplace(result: CertificationResult, learner: Learner) -> CertificationResult:
    """The result with a birthplace: its own when Pix gave one (it wins), else the learner's
    birth city from the roster; unchanged when neither is known (a blank counts as none)."""
    if _present(result.birthplace) is not None:
        return result
    birth_city = _present(learner.birth_city)
    if birth_city is None:
        return result
    return dataclasses.replace(result, birthplace=birth_city)


def select_class_results(index: ExportIndex, uai: str, division: str) -> list[CertificationResult]:
    """The rows of a class export: each active learner's latest published certification (its
    birthplace completed from the roster when it has none), sorted by last name, first name (as
    recorded on the certification) and certification id."""
    rows = []
    for learner in index.class_learners(uai, division):
        if learner.active:
            latest = latest_result(index.results_of(learner.id), is_published)
            if latest is not None:
                rows.append(with_roster_birthplace(latest, learner))
    rows.sort(key=lambda r: (name_sort_key(r.last_name), name_sort_key(r.first_name), r.certification_id))
    return rows


def select_livret_entries(index: ExportIndex, uai: str) -> list[tuple[Learner, CertificationResult]]:
    """The entries of a school's livret: each active learner with their latest non-cancelled
    certification, sorted by the roster's last name, first name, then certification id."""
    entries = []
    for learner in index.school_learners(uai):
        if learner.active:
            latest = latest_result(index.results_of(learner.id), is_not_cancelled)
            if latest is not None:
                entries.append((learner, latest))
    entries.sort(
        key=lambda e: (name_sort_key(e[0].last_name), name_sort_key(e[0].first_name), e[1].certification_id)
    )
    return entries
