"""Pix certifiability (pix-domain §3.1): at least 5 of the 16 competences at level ≥ 1.

Level = floor(pix / 8) when the export only gives pix. A profile that was never shared is
*unknown*, not "not certifiable": the school has to ask the student, not train them.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from shared.contracts.referential import COMPETENCE_IDS

MIN_CERTIFIABLE_COMPETENCES = 5
MIN_COMPETENCE_LEVEL = 1
PIX_PER_LEVEL = 8


class CertifiabilityStatus(StrEnum):
    CERTIFIABLE = "certifiable"
    NOT_CERTIFIABLE = "not_certifiable"
    UNKNOWN = "unknown"


class DisagreementRule(StrEnum):
    CERTIFIABLE_MISMATCH = "campaign.certifiable_mismatch"
    COUNT_MISMATCH = "campaign.count_mismatch"


def level_from_pix(pix: int) -> int:
    return pix // PIX_PER_LEVEL


def certifiable_competences(levels: Mapping[str, int]) -> tuple[str, ...]:
    """Competence ids (framework order) at level ≥ 1."""
    return tuple(cid for cid in COMPETENCE_IDS if levels.get(cid, 0) >= MIN_COMPETENCE_LEVEL)


def zero_level_competences(levels: Mapping[str, int]) -> tuple[str, ...]:
    """Competence ids (framework order) still at level 0: where remediation should aim."""
    return tuple(cid for cid in COMPETENCE_IDS if levels.get(cid, 0) < MIN_COMPETENCE_LEVEL)


def competences_needed(certifiable_count: int) -> int:
    return max(0, MIN_CERTIFIABLE_COMPETENCES - certifiable_count)


@dataclass(frozen=True, slots=True)
class Disagreement:
    """The export's own Certifiable (O/N) or count differs from what its levels imply."""

    rule: DisagreementRule
    file_value: object
    computed_value: object
    line: int | None = None


@dataclass(frozen=True, slots=True)
class CertifiabilityAssessment:
    learner_id: str
    status: CertifiabilityStatus
    certifiable_count: int | None = None  # None when unknown
    levels: Mapping[str, int] | None = None  # competence id → level, None when unknown
    shared_at: date | None = None
    source_line: int | None = None  # campaign export line the assessment comes from
    disagreements: tuple[Disagreement, ...] = ()
    pix_total: int | None = None

    @property
    def competences_needed(self) -> int | None:
        return None if self.certifiable_count is None else competences_needed(self.certifiable_count)

    @property
    def zero_level_competences(self) -> tuple[str, ...]:
        return () if self.levels is None else zero_level_competences(self.levels)


def unknown(learner_id: str) -> CertifiabilityAssessment:
    return CertifiabilityAssessment(learner_id, CertifiabilityStatus.UNKNOWN)


def assess_levels(
    learner_id: str,
    levels: Mapping[str, int],
    *,
    file_certifiable: bool | None = None,
    file_count: int | None = None,
    shared_at: date | None = None,
    source_line: int | None = None,
    pix_total: int | None = None,
) -> CertifiabilityAssessment:
    """Recompute from the levels; record where the file's own verdict or count disagrees."""
    count = len(certifiable_competences(levels))
    certifiable = count >= MIN_CERTIFIABLE_COMPETENCES
    disagreements: list[Disagreement] = []
    if file_certifiable is not None and file_certifiable != certifiable:
        disagreements.append(
            Disagreement(DisagreementRule.CERTIFIABLE_MISMATCH, file_certifiable, certifiable, source_line)
        )
    if file_count is not None and file_count != count:
        disagreements.append(Disagreement(DisagreementRule.COUNT_MISMATCH, file_count, count, source_line))
    return CertifiabilityAssessment(
        learner_id,
        CertifiabilityStatus.CERTIFIABLE if certifiable else CertifiabilityStatus.NOT_CERTIFIABLE,
        count,
        dict(levels),
        shared_at,
        source_line,
        tuple(disagreements),
        pix_total,
    )


@dataclass(frozen=True, slots=True)
class CertifiabilityCounts:
    total: int
    certifiable: int
    not_certifiable: int
    unknown: int

    @property
    def certifiable_rate(self) -> float:
        """Share of certifiable learners among all (unknown counts as not yet certifiable)."""
        return self.certifiable / self.total if self.total else 0.0


@dataclass(frozen=True, slots=True)
class ClassSummary:
    division: str
    counts: CertifiabilityCounts


@dataclass(frozen=True, slots=True)
class SchoolSummary:
    counts: CertifiabilityCounts
    classes: tuple[ClassSummary, ...]  # sorted by division


def _count(statuses: list[CertifiabilityStatus]) -> CertifiabilityCounts:
    return CertifiabilityCounts(
        total=len(statuses),
        certifiable=statuses.count(CertifiabilityStatus.CERTIFIABLE),
        not_certifiable=statuses.count(CertifiabilityStatus.NOT_CERTIFIABLE),
        unknown=statuses.count(CertifiabilityStatus.UNKNOWN),
    )


def summarise(
    learners: Iterable[tuple[str, str]], assessments: Mapping[str, CertifiabilityAssessment]
) -> SchoolSummary:
    """Per-class and per-school counts over (learner id, division) pairs; no assessment = unknown."""
    by_class: dict[str, list[CertifiabilityStatus]] = {}
    every: list[CertifiabilityStatus] = []
    for learner_id, division in learners:
        assessment = assessments.get(learner_id)
        status = assessment.status if assessment else CertifiabilityStatus.UNKNOWN
        by_class.setdefault(division, []).append(status)
        every.append(status)
    classes = tuple(ClassSummary(d, _count(s)) for d, s in sorted(by_class.items()))
    return SchoolSummary(_count(every), classes)


class AssessmentOrigin(StrEnum):
    """Where an assessment comes from (CertifiabilityAssessed.origin)."""

    CAMPAIGN_EXPORT = "campaign_export"  # a profile-collection export: levels, dated by the share
    ORGA_CERTIFICABILITY = "orga_certificability"  # Pix Orga's nightly computation, dated by it


@dataclass(frozen=True, slots=True)
class CurrentAssessment:
    """What an import compares a new assessment with: the stored status, origin and date."""

    status: CertifiabilityStatus
    origin: AssessmentOrigin
    dated: date | None  # the share date (campaign) or the computation date (Orga)


def replaces(
    status: CertifiabilityStatus,
    origin: AssessmentOrigin,
    dated: date | None,
    current: CurrentAssessment | None,
) -> bool:
    """The more recent wins, as Pix Orga's "Certificabilité" does (ScoOrganizationParticipant):
    a campaign's share beats Orga's computation only when strictly after it, Orga wins a tie;
    within one origin the newer (or the same) date wins. An unknown never erases a known status."""
    if current is None:
        return True
    if status is CertifiabilityStatus.UNKNOWN:
        return False
    if current.status is CertifiabilityStatus.UNKNOWN or current.dated is None:
        return True
    if dated is None:
        return False
    if origin is AssessmentOrigin.CAMPAIGN_EXPORT and current.origin is AssessmentOrigin.ORGA_CERTIFICABILITY:
        return dated > current.dated
    return dated >= current.dated
