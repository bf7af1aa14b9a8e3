"""A school imports its roster: a Pix Orga learner CSV or a SIECLE XML export (detected from content).

Parse and validate the whole file (outside the transaction, in a thread: it is CPU work) → refuse
it whole with every issue (``roster.rejected``), or → in one transaction, diff it against the
school's stored learners (register, update, move, deactivate, reactivate), write the state and emit
the events. Nothing of a rejected file is stored.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from services.eligibility.domain.roster import RosterImport, RosterLearner
from services.eligibility.domain.roster_csv import parse_learner_csv
from services.eligibility.domain.roster_diff import RosterDiff, diff_roster
from services.eligibility.domain.siecle_xml import parse_siecle_xml
from services.eligibility.usecases import BeginWork, Work
from services.eligibility.usecases.files import refuse_if_too_large, rejection
from shared.contracts.events import (
    LearnerDeactivated,
    LearnerRegistered,
    LearnersImported,
    LearnerUpdated,
)

FileFormat = Literal["pix_orga_csv", "siecle_xml"]
REJECTED = "roster.rejected"

#: Domain field names → the LearnerSnapshot (event) names, for `changed_fields`.
SNAPSHOT_FIELD = {
    "birth_date": "birthdate",
    "second_name": "middle_name",
    "usage_name": "preferred_last_name",
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
    begin: BeginWork, *, uai: str, file_name: str, data: bytes, now: datetime, max_bytes: int
) -> RosterReport:
    """Accept the roster whole (register, update, move, deactivate, reactivate) or refuse it whole
    (DomainError ``roster.rejected``, every issue in its details)."""
    refuse_if_too_large(REJECTED, file_name, data, max_bytes)
    file_format = detect_format(data, file_name)
    parsed = await asyncio.to_thread(
        parse_roster, data, file_name=file_name, uai=uai, today=now.date(), max_bytes=max_bytes
    )
    if not parsed.accepted:
        raise rejection(REJECTED, file_name, parsed.issues)
    async with begin() as work:
        return await _store_roster(work, parsed, file_format, data, now)


async def _store_roster(
    work: Work, parsed: RosterImport, file_format: FileFormat, data: bytes, now: datetime
) -> RosterReport:
    school, file_name = parsed.uai, parsed.file_name
    import_id = str(uuid.uuid4())
    store = work.store
    await store.lock_school(school)
    diff = diff_roster(await store.school_learners(school), parsed.learners)

    registered = [(str(uuid.uuid4()), learner) for learner in diff.registered]
    await store.insert_learners(school, registered, import_id, now)
    rewritten = [(c.learner_id, c.after) for c in (*diff.updated, *diff.reactivated)]
    await store.update_learners(rewritten, import_id, now)
    await store.deactivate_learners([x.learner_id for x in diff.deactivated], import_id, now)
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
    await work.emit_many(_roster_events(school, registered, diff, now))
    await work.emit(
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
