"""The two imports a school does: its roster, then its profile-collection campaign export.

Each runs as: parse and validate the whole file (outside the transaction, in a thread: it is CPU
work) → refuse it whole with every issue, or → in one transaction, diff/match against the school's
stored learners, write the state and emit the events. Nothing of a rejected file is stored.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

from services.eligibility import store
from services.eligibility.domain.campaign import CampaignImport, CampaignRow, parse_campaign_export
from services.eligibility.domain.campaign_matching import (
    CampaignMatching,
    assess_from_campaign,
    match_campaign_rows,
)
from services.eligibility.domain.certifiability import (
    CertifiabilityAssessment,
    CertifiabilityStatus,
    Disagreement,
)
from services.eligibility.domain.issues import ImportIssue, IssueCollector
from services.eligibility.domain.roster import RosterImport, RosterLearner, check_school_uai
from services.eligibility.domain.roster_csv import parse_learner_csv
from services.eligibility.domain.roster_diff import RosterDiff, diff_roster
from services.eligibility.domain.siecle_xml import parse_siecle_xml
from shared.contracts.events import (
    CertifiabilityAssessed,
    LearnerDeactivated,
    LearnerRegistered,
    LearnersImported,
    LearnerUpdated,
)
from shared.outbox import UnitOfWork

FileFormat = Literal["pix_orga_csv", "siecle_xml"]
BeginUnitOfWork = Callable[[], AbstractAsyncContextManager[UnitOfWork]]

#: Domain field names → the LearnerSnapshot (event) names, for `changed_fields`.
SNAPSHOT_FIELD = {
    "birth_date": "birthdate",
    "second_name": "middle_name",
    "usage_name": "preferred_last_name",
}


class ImportRejected(Exception):
    """The file is refused whole; `issues` lists every broken rule."""

    def __init__(self, file_name: str, issues: tuple[ImportIssue, ...]) -> None:
        super().__init__(f"{file_name}: {len(issues)} error(s)")
        self.file_name = file_name
        self.issues = issues


def issue_json(issue: ImportIssue) -> dict[str, Any]:
    return {
        "file": issue.file_name,
        "line": issue.line,
        "column": issue.column,
        "rule": str(issue.rule),
        "message": issue.message,
    }


def detect_format(data: bytes, file_name: str) -> FileFormat:
    """SIECLE XML when the content starts like XML (or the name says .xml), the learner CSV otherwise."""
    head = data[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"<") or file_name.lower().endswith(".xml"):
        return "siecle_xml"
    return "pix_orga_csv"


def snapshot(learner_id: str, uai: str, learner: RosterLearner) -> dict[str, Any]:
    """The LearnerSnapshot fields of an imported learner."""
    return {
        "learner_id": learner_id,
        "uai": uai,
        "ine": learner.ine,
        "first_name": learner.first_name,
        "middle_name": learner.second_name or None,
        "third_name": learner.third_name or None,
        "last_name": learner.last_name,
        "preferred_last_name": learner.usage_name or None,
        "birthdate": learner.birth_date,
        "sex": learner.sex.value,
        "birth_city": learner.birth_city or None,
        "birth_city_code": learner.birth_city_code or None,
        "birth_department_code": learner.birth_department_code or None,
        "birth_country_code": learner.birth_country_code or None,
        "mef_code": learner.mef_code or None,
        "division": learner.division,
        "status": learner.status or None,
    }


# ---------------------------------------------------------------------------------------------
# roster


@dataclass(frozen=True, slots=True)
class RosterReport:
    import_id: str
    uai: str
    file_name: str
    file_format: FileFormat
    total: int
    registered: int
    updated: int
    class_changes: int
    deactivated: int
    reactivated: int
    unchanged: int
    skipped: list[dict[str, Any]]


def parse_roster(data: bytes, *, file_name: str, uai: str, today: date, max_bytes: int) -> RosterImport:
    parse = parse_siecle_xml if detect_format(data, file_name) == "siecle_xml" else parse_learner_csv
    return parse(data, file_name=file_name, uai=uai, reference_date=today, max_bytes=max_bytes)


async def import_roster(
    begin: BeginUnitOfWork, *, uai: str, file_name: str, data: bytes, now: datetime, max_bytes: int
) -> RosterReport:
    """Accept the roster whole (register, update, move, deactivate, reactivate) or raise ImportRejected."""
    file_format = detect_format(data, file_name)
    parsed = await asyncio.to_thread(
        parse_roster, data, file_name=file_name, uai=uai, today=now.date(), max_bytes=max_bytes
    )
    if not parsed.accepted:
        raise ImportRejected(file_name, parsed.issues)
    async with begin() as uow:
        return await _store_roster(uow, parsed, file_format, data, now)


async def _store_roster(
    uow: UnitOfWork, parsed: RosterImport, file_format: FileFormat, data: bytes, now: datetime
) -> RosterReport:
    school, file_name = parsed.uai, parsed.file_name
    import_id = str(uuid.uuid4())
    conn = uow.conn
    await store.lock_school(conn, school)
    diff = diff_roster(await store.school_learners(conn, school), parsed.learners)

    registered = [(str(uuid.uuid4()), learner) for learner in diff.registered]
    await store.insert_learners(conn, school, registered, import_id, now)
    rewritten = [(c.learner_id, c.after) for c in (*diff.updated, *diff.reactivated)]
    await store.update_learners(conn, rewritten, import_id, now)
    await store.deactivate_learners(conn, [x.learner_id for x in diff.deactivated], import_id, now)
    skipped = [{"line": s.line, "reason": s.reason} for s in parsed.skipped]
    report = RosterReport(
        import_id=import_id,
        uai=school,
        file_name=file_name,
        file_format=file_format,
        total=len(parsed.learners),
        registered=len(diff.registered),
        updated=len(diff.updated),
        class_changes=sum(1 for c in (*diff.updated, *diff.reactivated) if c.class_move),
        deactivated=len(diff.deactivated),
        reactivated=len(diff.reactivated),
        unchanged=len(diff.unchanged),
        skipped=skipped,
    )
    await store.insert_roster_import(
        conn,
        import_id=uuid.UUID(import_id),
        uai=school,
        file_name=file_name,
        file_format=file_format,
        encoding=parsed.encoding,
        sha256=hashlib.sha256(data).hexdigest(),
        total=report.total,
        registered=report.registered,
        updated=report.updated,
        deactivated=report.deactivated,
        reactivated=report.reactivated,
        unchanged=report.unchanged,
        skipped=skipped,
        imported_at=now,
    )
    await uow.emit_many(_roster_events(school, registered, diff, now))
    await uow.emit(
        LearnersImported(
            uai=school,
            import_id=import_id,
            file_name=file_name,
            file_format=file_format,
            total=report.total,
            registered=report.registered,
            updated=report.updated,
            deactivated=report.deactivated,
            reactivated=report.reactivated,
            imported_at=now,
        )
    )
    return report


def _roster_events(
    uai: str, registered: list[tuple[str, RosterLearner]], diff: RosterDiff, now: datetime
) -> list[Any]:
    events: list[Any] = [
        LearnerRegistered(**snapshot(learner_id, uai, learner)) for learner_id, learner in registered
    ]
    for change in diff.updated:
        events.append(
            LearnerUpdated(
                **snapshot(change.learner_id, uai, change.after),
                changed_fields=[SNAPSHOT_FIELD.get(c.field, c.field) for c in change.changes],
            )
        )
    for change in diff.reactivated:
        changed = [SNAPSHOT_FIELD.get(c.field, c.field) for c in change.changes]
        events.append(
            LearnerUpdated(
                **snapshot(change.learner_id, uai, change.after), changed_fields=[*changed, "active"]
            )
        )
    events += [
        LearnerDeactivated(
            learner_id=gone.learner_id, uai=uai, division=gone.record.division, deactivated_at=now
        )
        for gone in diff.deactivated
    ]
    return events


# ---------------------------------------------------------------------------------------------
# campaign export


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


def _replaces(new: CertifiabilityAssessment, current: store.StoredAssessment | None) -> bool:
    """Like Pix Orga, the most recent shared profile wins; an unshared row never erases a known one."""
    if current is None:
        return True
    if new.status is CertifiabilityStatus.UNKNOWN:
        return False
    if current.status is CertifiabilityStatus.UNKNOWN or current.shared_at is None:
        return True
    return new.shared_at is not None and new.shared_at >= current.shared_at


async def import_campaign(
    begin: BeginUnitOfWork,
    *,
    uai: str,
    file_name: str,
    data: bytes,
    external_id_column: str | None,
    now: datetime,
    max_bytes: int,
) -> CampaignReport:
    """Match the export to the school's active learners, store their certifiability, report the rest."""
    school, parsed = await asyncio.to_thread(
        parse_campaign,
        data,
        file_name=file_name,
        uai=uai,
        external_id_column=external_id_column,
        max_bytes=max_bytes,
    )
    if not parsed.accepted:
        raise ImportRejected(file_name, parsed.issues)
    async with begin() as uow:
        return await _store_campaign(uow, school, parsed, data, now)


async def _store_campaign(
    uow: UnitOfWork, school: str, parsed: CampaignImport, data: bytes, now: datetime
) -> CampaignReport:
    conn, file_name = uow.conn, parsed.file_name
    import_id = str(uuid.uuid4())
    await store.lock_school(conn, school)
    identities = await store.active_identities(conn, school)
    divisions = {i.learner_id: i.division for i in identities}
    matching: CampaignMatching = match_campaign_rows(parsed.rows, identities)
    matched_ids = [m.learner_id for m in matching.matched]
    assessed = assess_from_campaign(matched_ids, matching)
    current = await store.current_assessments(conn, matched_ids)
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
        conn,
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
    await store.upsert_assessments(conn, school, replacing, file_name, import_id, now)
    await store.insert_disagreements(conn, import_id, disagreements)
    await uow.emit_many(
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
    )


def _count_by(values: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return counts
