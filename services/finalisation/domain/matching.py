"""Which enrolled candidate does a Pix result belong to?

The session number of Pix's file narrows the candidates to one session (Pix Certif's number, once
the school recorded it); within it the INE identifies a student for sure; without it (the class CSV
has none) normalised names plus birth date do, as Pix itself refuses two such candidates in a session. Anything uncertain is reported,
never guessed: a result given to the wrong student is worse than one left for a human to match.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from services.finalisation.domain.results import CertificationResult, results_fingerprint


@dataclass(frozen=True, slots=True)
class KnownCandidate:
    """An enrolled candidate as known to finalisation (from SessionFinalised / enrolment events)."""

    session_id: str
    session_number: int
    candidate_id: str
    first_name: str
    last_name: str
    birthdate: date
    ine: str | None = None
    learner_id: str | None = None
    #: the session's number in Pix Certif, once the school recorded it
    pix_session_number: int | None = None

    @property
    def answers_to(self) -> int:
        """The number Pix's files give this candidate's session: Pix's once known, else certibus's."""
        return self.pix_session_number or self.session_number


class MatchMethod(StrEnum):
    INE = "ine"
    IDENTITY = "names_and_birthdate"


@dataclass(frozen=True, slots=True)
class MatchedResult:
    result: CertificationResult
    candidate: KnownCandidate
    method: MatchMethod


@dataclass(frozen=True, slots=True)
class AmbiguousResult:
    """Several candidates fit, or several results claim the same candidate."""

    result: CertificationResult
    candidates: tuple[KnownCandidate, ...]
    reason: str


@dataclass(slots=True)
class MatchReport:
    matched: list[MatchedResult] = field(default_factory=list)
    unmatched: list[CertificationResult] = field(default_factory=list)
    ambiguous: list[AmbiguousResult] = field(default_factory=list)
    candidates_without_result: list[KnownCandidate] = field(default_factory=list)

    def results_by_session(self) -> dict[str, list[CertificationResult]]:
        grouped: dict[str, list[CertificationResult]] = defaultdict(list)
        for match in self.matched:
            grouped[match.candidate.session_id].append(match.result)
        return dict(grouped)

    def fingerprints_by_session(self) -> dict[str, str]:
        """Per session, the fingerprint of its matched results (to detect a "no change" re-import)."""
        return {
            session: results_fingerprint(results) for session, results in self.results_by_session().items()
        }


def normalise_name(name: str) -> str:
    """Case, accents, hyphens, apostrophes and repeated spaces do not tell two students apart."""
    decomposed = unicodedata.normalize("NFKD", name)
    without_accents = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return re.sub(r"[\s\-'’‘`.]+", " ", without_accents).strip().casefold()


def normalise_ine(ine: str | None) -> str | None:
    return ine.strip().upper() or None if ine else None


def _given_name_variants(result: CertificationResult) -> set[str]:
    names = [result.first_name]
    if result.middle_name:
        names.append(f"{result.first_name} {result.middle_name}")
        if result.third_name:
            names.append(f"{result.first_name} {result.middle_name} {result.third_name}")
    return {normalise_name(name) for name in names}


def match_results(
    results: Iterable[CertificationResult], candidates: Sequence[KnownCandidate]
) -> MatchReport:
    """Match every result to at most one candidate: within its session, then INE, then names +
    birth date.

    A result carrying a session number (the class CSV's "Session" column: Pix Certif's number) is
    matched only within the session that answers to it: Pix's number once the school recorded it,
    certibus's own otherwise. A number no session answers to is a session whose Pix number was never
    recorded: the row may then belong to any session without one, by INE or names + birth date.
    A candidate whose INE differs from the result's INE is never matched by name (a namesake is not
    the student).
    """
    by_ine: dict[str, list[KnownCandidate]] = defaultdict(list)
    by_identity: dict[tuple[str, date], list[KnownCandidate]] = defaultdict(list)
    for candidate in candidates:
        ine = normalise_ine(candidate.ine)
        if ine:
            by_ine[ine].append(candidate)
        by_identity[(normalise_name(candidate.last_name), candidate.birthdate)].append(candidate)

    numbers = {candidate.answers_to for candidate in candidates}
    report = MatchReport()
    tentative: list[MatchedResult] = []
    for result in results:

        def in_session(candidate: KnownCandidate, result: CertificationResult = result) -> bool:
            if result.session_number is None:
                return True
            if result.session_number in numbers:
                return candidate.answers_to == result.session_number
            return candidate.pix_session_number is None  # a session whose Pix number is not known

        result_ine = normalise_ine(result.ine)
        fits = [c for c in by_ine.get(result_ine, []) if in_session(c)] if result_ine else []
        method = MatchMethod.INE
        if not fits:
            given = _given_name_variants(result)
            fits = [
                c
                for c in by_identity.get((normalise_name(result.last_name), result.birthdate), [])
                if in_session(c)
                and normalise_name(c.first_name) in given
                and (result_ine is None or normalise_ine(c.ine) in (None, result_ine))
            ]
            method = MatchMethod.IDENTITY
        if not fits:
            report.unmatched.append(result)
        elif len(fits) > 1:
            report.ambiguous.append(AmbiguousResult(result, tuple(fits), "several candidates fit"))
        else:
            tentative.append(MatchedResult(result, fits[0], method))

    claims: dict[tuple[str, str], list[MatchedResult]] = defaultdict(list)
    for match in tentative:
        claims[(match.candidate.session_id, match.candidate.candidate_id)].append(match)
    for matches in claims.values():
        if len(matches) == 1:
            report.matched.append(matches[0])
        else:
            for match in matches:
                report.ambiguous.append(
                    AmbiguousResult(
                        match.result, (match.candidate,), "several results for the same candidate"
                    )
                )
    taken = {(m.candidate.session_id, m.candidate.candidate_id) for m in report.matched}
    taken |= {(c.session_id, c.candidate_id) for a in report.ambiguous for c in a.candidates}
    report.candidates_without_result = [c for c in candidates if (c.session_id, c.candidate_id) not in taken]
    return report
