"""Which learner each campaign row belongs to, and the learners' resulting certifiability.

The export has no birth date, so after the external id (INE) the only key is the name plus the
class. Nothing is guessed: several candidates → ambiguous, none → unmatched, both reported.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from services.eligibility.domain.campaign import CampaignRow
from services.eligibility.domain.certifiability import CertifiabilityAssessment, assess_levels, unknown
from services.eligibility.domain.roster import RosterLearner
from services.eligibility.domain.text import normalise_name
from shared.contracts.identifiers import name_key, normalise_identifier


@dataclass(frozen=True, slots=True)
class LearnerIdentity:
    """What matching needs to know about a stored learner."""

    learner_id: str
    ine: str
    last_name: str
    first_name: str
    division: str
    usage_name: str = ""

    @classmethod
    def of(cls, learner_id: str, learner: RosterLearner) -> "LearnerIdentity":
        return cls(
            learner_id,
            learner.ine,
            learner.last_name,
            learner.first_name,
            learner.division,
            learner.usage_name,
        )


_MIN_DATE = date.min


class MatchMethod(StrEnum):
    EXTERNAL_ID = "external_id"
    NAMES_AND_CLASS = "names_and_class"
    NAMES_ONLY = "names_only"  # the export has no Classe column
    NAMES_OTHER_CLASS = "names_other_class"  # unique name in the school, but in another class now


@dataclass(frozen=True, slots=True)
class RowMatch:
    row: CampaignRow
    learner_id: str
    method: MatchMethod


@dataclass(frozen=True, slots=True)
class AmbiguousRow:
    row: CampaignRow
    candidate_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CampaignMatching:
    matched: tuple[RowMatch, ...]  # one per learner: the most recent shared participation
    unmatched: tuple[CampaignRow, ...]
    ambiguous: tuple[AmbiguousRow, ...]
    superseded: tuple[RowMatch, ...]  # other rows of an already matched learner (older, or not shared)


def match_campaign_rows(rows: Iterable[CampaignRow], learners: Sequence[LearnerIdentity]) -> CampaignMatching:
    """Match rows by external id (INE), else normalised names + class (last name or usage name)."""
    by_ine = {normalise_identifier(learner.ine): learner.learner_id for learner in learners}
    by_names: dict[tuple[str, str], list[LearnerIdentity]] = {}
    for learner in learners:
        first = normalise_name(learner.first_name)
        for last in {normalise_name(learner.last_name), normalise_name(learner.usage_name)} - {""}:
            by_names.setdefault((last, first), []).append(learner)

    best: dict[str, RowMatch] = {}
    superseded: list[RowMatch] = []
    unmatched: list[CampaignRow] = []
    ambiguous: list[AmbiguousRow] = []
    for row in rows:
        match = _match_one(row, by_ine, by_names)
        if isinstance(match, AmbiguousRow):
            ambiguous.append(match)
        elif match is None:
            unmatched.append(row)
        else:
            current = best.get(match.learner_id)
            if current is None:
                best[match.learner_id] = match
            elif _more_recent(match.row, current.row):
                superseded.append(current)
                best[match.learner_id] = match
            else:
                superseded.append(match)
    return CampaignMatching(tuple(best.values()), tuple(unmatched), tuple(ambiguous), tuple(superseded))


def _match_one(
    row: CampaignRow, by_ine: dict[str, str], by_names: dict[tuple[str, str], list[LearnerIdentity]]
) -> RowMatch | AmbiguousRow | None:
    if row.external_id and row.external_id in by_ine:
        return RowMatch(row, by_ine[row.external_id], MatchMethod.EXTERNAL_ID)
    named = by_names.get((normalise_name(row.last_name), normalise_name(row.first_name)), [])
    candidates = list({c.learner_id: c for c in named}.values())
    method = MatchMethod.NAMES_ONLY
    if row.division is not None:
        in_class = [c for c in candidates if name_key(c.division) == name_key(row.division)]
        if in_class:
            candidates, method = in_class, MatchMethod.NAMES_AND_CLASS
        else:
            method = MatchMethod.NAMES_OTHER_CLASS
    if not candidates:
        return None
    if len(candidates) > 1:
        return AmbiguousRow(row, tuple(sorted(c.learner_id for c in candidates)))
    return RowMatch(row, candidates[0].learner_id, method)


def _more_recent(row: CampaignRow, than: CampaignRow) -> bool:
    """A shared row beats an unshared one; among shared rows the later share wins (ties: later line)."""
    if row.shared != than.shared:
        return row.shared
    return (row.shared_at or _MIN_DATE, row.line) > (than.shared_at or _MIN_DATE, than.line)


def assess_from_campaign(
    learner_ids: Iterable[str], matching: CampaignMatching
) -> dict[str, CertifiabilityAssessment]:
    """Certifiability of every given learner: recomputed from a shared row, else unknown."""
    rows = {m.learner_id: m.row for m in matching.matched}
    result: dict[str, CertifiabilityAssessment] = {}
    for learner_id in learner_ids:
        row = rows.get(learner_id)
        if row is None or not row.shared or row.levels is None:
            result[learner_id] = unknown(learner_id)
        else:
            result[learner_id] = assess_levels(
                learner_id,
                row.levels,
                file_certifiable=row.file_certifiable,
                file_count=row.file_certifiable_count,
                shared_at=row.shared_at,
                source_line=row.line,
                pix_total=row.total_pix,
            )
    return result
