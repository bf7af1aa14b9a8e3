"""A school imports its profile-collection campaign export: certifiability from what students shared.

Parse the whole export (in a thread: CPU work) → refuse it whole with every issue
(``campaign_export.rejected``), or → in one transaction, match its rows to the school's active
learners (INE in the external-id column, else names and class), keep for each the most recent
shared profile (as Pix Orga does), store the assessments and disagreements, emit
``CertifiabilityAssessed``, and report what matched, what did not and why.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from services.eligibility.domain.campaign import CampaignImport, CampaignRow, parse_campaign_export
from services.eligibility.domain.campaign_matching import (
    CampaignMatching,
    assess_from_campaign,
    match_campaign_rows,
)
from services.eligibility.domain.certifiability import (
    AssessmentOrigin,
    CertifiabilityAssessment,
    CurrentAssessment,
    Disagreement,
    replaces,
)
from services.eligibility.domain.issues import IssueCollector
from services.eligibility.domain.roster import check_school_uai
from services.eligibility.usecases import BeginWork, Work
from services.eligibility.usecases.files import refuse_if_too_large, rejection
from shared.contracts.events import CertifiabilityAssessed

REJECTED = "campaign_export.rejected"


@dataclass(slots=True)
class CampaignReport:
    import_id: str
    uai: str
    file_name: str
    rows: int
    matched: int
    matched_by: dict[str, int]
    unmatched: list[dict[str, Any]]
    ambiguous: list[dict[str, Any]]
    superseded: int
    disagreements: list[dict[str, Any]]
    assessed: dict[str, int] = field(default_factory=dict)
    kept_more_recent: int = 0
    external_id_column: str | None = None
    ignored_columns: list[str] = field(default_factory=list)


def _row_json(row: CampaignRow) -> dict[str, Any]:
    return {
        "line": row.line,
        "last_name": row.last_name,
        "first_name": row.first_name,
        "division": row.division,
        "external_id": row.external_id,
        "shared": row.shared,
    }


def parse_campaign(
    data: bytes, *, file_name: str, uai: str, external_id_column: str | None, max_bytes: int
) -> tuple[str, CampaignImport]:
    school_issues = IssueCollector(file_name)
    school = check_school_uai(uai, school_issues)
    parsed = parse_campaign_export(
        data, file_name=file_name, external_id_column=external_id_column, max_bytes=max_bytes
    )
    if school_issues:
        parsed = CampaignImport(file_name, (), (*school_issues.issues, *parsed.issues))
    return school, parsed


def _replaces(new: CertifiabilityAssessment, current: CurrentAssessment | None) -> bool:
    """Like Pix Orga, the most recent wins (a shared profile against the stored one, or against
    Orga's own computation); an unshared row never erases a known one."""
    return replaces(new.status, AssessmentOrigin.CAMPAIGN_EXPORT, new.shared_at, current)


async def import_campaign(
    begin: BeginWork,
    *,
    uai: str,
    file_name: str,
    data: bytes,
    external_id_column: str | None,
    now: datetime,
    max_bytes: int,
) -> CampaignReport:
    """Match the export to the school's active learners, store their certifiability, report the
    rest; a refused file is a DomainError ``campaign_export.rejected`` listing every issue."""
    refuse_if_too_large(REJECTED, file_name, data, max_bytes)
    school, parsed = await asyncio.to_thread(
        parse_campaign,
        data,
        file_name=file_name,
        uai=uai,
        external_id_column=external_id_column,
        max_bytes=max_bytes,
    )
    if not parsed.accepted:
        raise rejection(REJECTED, file_name, parsed.issues)
    async with begin() as work:
        return await _store_campaign(work, school, parsed, data, now)


async def _store_campaign(
    work: Work, school: str, parsed: CampaignImport, data: bytes, now: datetime
) -> CampaignReport:
    store, file_name = work.store, parsed.file_name
    import_id = str(uuid.uuid4())
    await store.lock_school(school)
    identities = await store.active_identities(school)
    divisions = {i.learner_id: i.division for i in identities}
    matching: CampaignMatching = match_campaign_rows(parsed.rows, identities)
    matched_ids = [m.learner_id for m in matching.matched]
    assessed = assess_from_campaign(matched_ids, matching)
    current = await store.current_assessments(matched_ids)
    replacing = [a for lid, a in assessed.items() if _replaces(a, current.get(lid))]
    disagreements: list[tuple[str, Disagreement]] = [
        (lid, d) for lid, a in assessed.items() for d in a.disagreements
    ]
    report = CampaignReport(
        import_id=import_id,
        uai=school,
        file_name=file_name,
        rows=len(parsed.rows),
        matched=len(matching.matched),
        matched_by=_count_by(m.method.value for m in matching.matched),
        unmatched=[_row_json(r) for r in matching.unmatched],
        ambiguous=[
            {**_row_json(a.row), "candidate_learner_ids": list(a.candidate_ids)} for a in matching.ambiguous
        ],
        superseded=len(matching.superseded),
        disagreements=[
            {
                "line": d.line,
                "learner_id": lid,
                "rule": d.rule.value,
                "file_value": d.file_value,
                "computed_value": d.computed_value,
            }
            for lid, d in disagreements
        ],
        assessed=_count_by(a.status.value for a in replacing),
        kept_more_recent=len(assessed) - len(replacing),
        external_id_column=parsed.external_id_column,
        ignored_columns=list(parsed.ignored_columns),
    )
    await store.insert_campaign_import(
        import_id=uuid.UUID(import_id),
        uai=school,
        file_name=file_name,
        sha256=hashlib.sha256(data).hexdigest(),
        rows=report.rows,
        matched=report.matched,
        assessed=len(replacing),
        superseded=report.superseded,
        unmatched=report.unmatched,
        ambiguous=report.ambiguous,
        imported_at=now,
    )
    await store.upsert_assessments(school, replacing, file_name, import_id, now)
    await store.insert_disagreements(import_id, disagreements)
    await work.emit_many(
        [assessed_event(a, school, divisions[a.learner_id], file_name, now) for a in replacing]
    )
    return report


def assessed_event(
    assessment: CertifiabilityAssessment, uai: str, division: str, source: str, now: datetime
) -> CertifiabilityAssessed:
    return CertifiabilityAssessed(
        learner_id=assessment.learner_id,
        uai=uai,
        division=division,
        status=assessment.status.value,
        certifiable_competences=assessment.certifiable_count,
        competences_needed=assessment.competences_needed,
        competence_levels=dict(assessment.levels or {}),
        pix_total=assessment.pix_total,
        shared_at=(
            datetime.combine(assessment.shared_at, datetime.min.time(), tzinfo=now.tzinfo)
            if assessment.shared_at
            else None
        ),
        source=source,
        assessed_at=now,
        origin=AssessmentOrigin.CAMPAIGN_EXPORT.value,
    )


def _count_by(values: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return counts
