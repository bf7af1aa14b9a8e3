"""The livret scolaire (LSU/LSL) document of a school, in Pix's ``certificationsResults`` shape
(pix-domain.md §7.2, schools-lsu-calendar.md §1.2–1.3).

Rules, from Pix's livret repository and read model:

* one entry per *active* learner of the school who has a non-cancelled certification, with their
  **latest non-cancelled** one; names, birth date and INE come from the current roster;
* ``status`` is ``pending`` until published, then ``validated`` or ``rejected`` (a published
  certification still ``error``/``started`` cannot exist in Pix — publication refuses it — and is
  shown ``pending`` here rather than as a final result);
* ``pixScore`` and ``competenceResults`` only for published validated certifications, else ``0`` /
  ``[]``; competence levels are passed through unchanged, including −1 (LSU/LSL tell "rejected"
  from "0" apart, Pix PR #3107), and sorted by competence code;
* entries sorted by last name, first name, certification id;
* the referential (``relationships.competences`` and the included areas and competences) is always
  present, even for a school without certification.

Serialisation is deterministic: fixed key order, no whitespace, UTF-8 without escaping, so the
same records always give the same bytes and the same sha256. Datetimes are written like
JavaScript's ``toISOString`` (UTC, milliseconds, ``Z``), which is what Pix clients read.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from services.export.domain.records import CertificationResult, Learner, ResultStatus
from services.export.domain.selection import ExportIndex, select_livret_entries
from shared.contracts.referential import AREAS, COMPETENCES

LIVRET_TYPE = "certificationsResults"
PENDING = "pending"


def iso_instant(moment: datetime | None) -> str | None:
    """``2024-03-12T09:00:00.000Z`` for an aware datetime; None stays None."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment!r}: export dates must be timezone-aware")
    utc = moment.astimezone(UTC)
    return f"{utc:%Y-%m-%dT%H:%M:%S}.{utc.microsecond // 1000:03d}Z"


def _competence_order(competence_id: str) -> tuple[int, ...]:
    return tuple(int(part) for part in competence_id.split("."))


def livret_status(result: CertificationResult) -> str:
    """validated / rejected once published; pending otherwise."""
    if result.published and result.status in (ResultStatus.VALIDATED, ResultStatus.REJECTED):
        return result.status.value
    return PENDING


def livret_certification(learner: Learner, result: CertificationResult) -> dict[str, Any]:
    """One ``certifications[]`` entry."""
    status = livret_status(result)
    shows_marks = status == ResultStatus.VALIDATED.value
    competence_results = (
        [
            {"competenceId": competence_id, "level": level}
            for competence_id, level in sorted(
                result.competence_levels.items(), key=lambda kv: _competence_order(kv[0])
            )
            if level is not None
        ]
        if shows_marks
        else []
    )
    return {
        "id": result.certification_id,
        "firstName": learner.first_name,
        "middleName": learner.middle_name,
        "thirdName": learner.third_name,
        "lastName": learner.last_name,
        "birthdate": learner.birthdate.isoformat(),
        "nationalStudentId": learner.ine,
        "date": iso_instant(result.taken_at),
        "verificationCode": result.verification_code,
        "deliveredAt": iso_instant(result.published_at) if result.published else None,
        "certificationCenter": result.certification_center,
        "status": status,
        "pixScore": (result.pix_score or 0) if shows_marks else 0,
        "competenceResults": competence_results,
    }


def _referential() -> tuple[list[dict[str, str]], list[dict[str, Any]]]:
    relationships = [{"id": c.id, "type": "competences"} for c in COMPETENCES]
    included: list[dict[str, Any]] = [
        {"type": "areas", "id": area.id, "attributes": {"name": area.name}} for area in AREAS
    ]
    included += [
        {
            "type": "competences",
            "id": c.id,
            "attributes": {"name": c.name},
            "relationships": {"area": {"data": {"id": c.area_id, "type": "areas"}}},
        }
        for c in COMPETENCES
    ]
    return relationships, included


_COMPETENCE_RELATIONSHIPS, _INCLUDED = _referential()


def build_livret_document(entries: list[tuple[Learner, CertificationResult]]) -> dict[str, Any]:
    """The full document for already selected and ordered entries."""
    return {
        "data": {
            "type": LIVRET_TYPE,
            "attributes": {
                "certifications": [livret_certification(learner, result) for learner, result in entries]
            },
            "relationships": {"competences": {"data": _COMPETENCE_RELATIONSHIPS}},
        },
        "included": _INCLUDED,
    }


def serialise(document: dict[str, Any]) -> bytes:
    """Deterministic JSON bytes (compact, UTF-8, key order as built)."""
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")


def render_livret_json(index: ExportIndex, uai: str) -> bytes:
    """The livret file of a school (an unknown UAI gives an empty list plus the referential)."""
    return serialise(build_livret_document(select_livret_entries(index, uai)))
