"""A school imports the certificability Pix Orga computed for its learners (issue 16 item 7).

Parse the whole file (domain/orga_certificability.py documents it: Orga has no export, so this is
certibus's own CSV of INE + Orga's label + its date) → refuse it whole with every issue, under the
campaign export's refusal code (``campaign_export.rejected``: the same kind of certifiability
import, answered the same way), or → in one transaction, match each INE to the school's active
learners, keep for each the more recent of Orga's status and the stored one (as Orga's
"Certificabilité" column does), store them, emit ``CertifiabilityAssessed`` with
``origin="orga_certificability"``, and report what matched, what did not, what was older.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections import Counter
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from services.eligibility.domain.certifiability import AssessmentOrigin, CertifiabilityStatus, replaces
from services.eligibility.domain.issues import IssueCollector
from services.eligibility.domain.orga_certificability import OrgaImport, parse_orga_certificability
from services.eligibility.domain.roster import check_school_uai
from services.eligibility.store_certificability import CertificabilityWork, OrgaAssessment
from services.eligibility.usecases.campaigns import REJECTED
from services.eligibility.usecases.files import refuse_if_too_large, rejection
from shared.contracts.events import CertifiabilityAssessed
from shared.contracts.identifiers import normalise_identifier

#: opens a unit of work on the certificability store
BeginCertificability = Callable[[], AbstractAsyncContextManager[CertificabilityWork]]


@dataclass(slots=True)
class CertificabilityReport:
    import_id: str
    uai: str
    file_name: str
    rows: int
    matched: int
    unmatched: list[dict[str, Any]]
    not_available: int
    assessed: dict[str, int] = field(default_factory=dict)
    kept_more_recent: int = 0


def parse(data: bytes, *, file_name: str, uai: str, today: date, max_bytes: int) -> tuple[str, OrgaImport]:
    """The school's normalised UAI and the parsed file, the UAI's issues first."""
    school_issues = IssueCollector(file_name)
    school = check_school_uai(uai, school_issues)
    parsed = parse_orga_certificability(data, file_name=file_name, today=today, max_bytes=max_bytes)
    if school_issues:
        parsed = OrgaImport(file_name, (), (*school_issues.issues, *parsed.issues))
    return school, parsed


async def import_orga_certificability(
    begin: BeginCertificability,
    *,
    uai: str,
    file_name: str,
    data: bytes,
    now: datetime,
    today: date,
    max_bytes: int,
) -> CertificabilityReport:
    """Store the more recent status of each matched learner; a refused file stores nothing.

    ``today`` is the school's day (a date after it is refused: Orga does not compute the future)."""
    refuse_if_too_large(REJECTED, file_name, data, max_bytes)
    school, parsed = await asyncio.to_thread(
        parse, data, file_name=file_name, uai=uai, today=today, max_bytes=max_bytes
    )
    if not parsed.accepted:
        raise rejection(REJECTED, file_name, parsed.issues)
    async with begin() as work:
        store = work.store
        import_id = str(uuid.uuid4())
        await store.lock_school(school)
        identities = await store.active_identities(school)
        by_ine = {normalise_identifier(i.ine): i for i in identities}
        known = [r for r in parsed.rows if r.certifiable is not None]
        matched = [(r, by_ine[r.ine]) for r in known if r.ine in by_ine]
        current = await store.current_assessments([i.learner_id for _, i in matched])
        new: list[tuple[OrgaAssessment, str]] = []
        for row, identity in matched:
            if row.certifiable_at is None:  # never: the parser refuses a status without its date
                continue
            status = (
                CertifiabilityStatus.CERTIFIABLE if row.certifiable else CertifiabilityStatus.NOT_CERTIFIABLE
            )
            origin = AssessmentOrigin.ORGA_CERTIFICABILITY
            if replaces(status, origin, row.certifiable_at, current.get(identity.learner_id)):
                new.append(
                    (
                        OrgaAssessment(identity.learner_id, status, row.certifiable_at, row.line),
                        identity.division,
                    )
                )
        report = CertificabilityReport(
            import_id=import_id,
            uai=school,
            file_name=file_name,
            rows=len(parsed.rows),
            matched=len(matched),
            unmatched=[{"line": r.line, "ine": r.ine} for r in known if r.ine not in by_ine],
            not_available=len(parsed.rows) - len(known),
            assessed=dict(Counter(a.status.value for a, _ in new)),
            kept_more_recent=len(matched) - len(new),
        )
        await store.insert_certificability_import(
            import_id=uuid.UUID(import_id),
            uai=school,
            file_name=file_name,
            sha256=hashlib.sha256(data).hexdigest(),
            rows=report.rows,
            matched=report.matched,
            assessed=len(new),
            not_available=report.not_available,
            unmatched=report.unmatched,
            imported_at=now,
        )
        await store.upsert_orga_assessments(school, [a for a, _ in new], file_name, import_id, now)
        await work.emit_many([assessed_event(a, school, division, file_name, now) for a, division in new])
    return report


def assessed_event(
    assessment: OrgaAssessment, uai: str, division: str, source: str, now: datetime
) -> CertifiabilityAssessed:
    """Orga gives a status and its date, no levels: counts stay None, as for an unknown profile."""
    return CertifiabilityAssessed(
        learner_id=assessment.learner_id,
        uai=uai,
        division=division,
        status=assessment.status.value,
        certifiable_competences=None,
        competences_needed=None,
        source=source,
        assessed_at=now,
        origin=AssessmentOrigin.ORGA_CERTIFICABILITY.value,
        certifiable_at=assessment.certifiable_at,
    )
