"""One normalised certification result, whatever Pix format it came from, and its fingerprint.

Both the class results CSV and the livret scolaire JSON end up as `CertificationResult` so matching,
storage and the ResultsProcessed event deal with one shape only.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from shared.contracts.events import ResultStatus
from shared.contracts.referential import v3_global_level


class ResultSource(StrEnum):
    CLASS_RESULTS_CSV = "class_results_csv"
    LIVRET_SCOLAIRE_JSON = "livret_json"


@dataclass(frozen=True, slots=True)
class CertificationResult:
    """A certification result as Pix gives it, normalised; absent information is None."""

    certification_id: int
    first_name: str
    last_name: str
    birthdate: date
    status: ResultStatus
    source: ResultSource
    pix_score: int | None = None
    #: level per competence id ("1.1" → 4); competences not tested are absent; -1 = rejected competence.
    competence_levels: Mapping[str, int] = field(default_factory=dict)
    ine: str | None = None
    middle_name: str | None = None
    third_name: str | None = None
    verification_code: str | None = None
    taken_on: date | None = None
    delivered_at: datetime | None = None
    session_number: int | None = None
    jury_comment: str | None = None
    birthplace: str | None = None
    external_id: str | None = None
    certification_center: str | None = None

    @property
    def global_level(self) -> str | None:
        """V3 global level key from the score, only for a validated result with a score."""
        if self.status is not ResultStatus.VALIDATED or self.pix_score is None:
            return None
        return v3_global_level(self.pix_score)

    def to_payload(self) -> dict[str, Any]:
        """JSON-ready, stable key order, competences sorted by id."""
        return {
            "certification_id": self.certification_id,
            "first_name": self.first_name,
            "middle_name": self.middle_name,
            "third_name": self.third_name,
            "last_name": self.last_name,
            "birthdate": self.birthdate.isoformat(),
            "ine": self.ine,
            "status": self.status.value,
            "pix_score": self.pix_score,
            "global_level": self.global_level,
            "competence_levels": {key: self.competence_levels[key] for key in sorted(self.competence_levels)},
            "verification_code": self.verification_code,
            "taken_on": self.taken_on.isoformat() if self.taken_on else None,
            "delivered_at": self.delivered_at.isoformat() if self.delivered_at else None,
            "session_number": self.session_number,
            "jury_comment": self.jury_comment,
            "birthplace": self.birthplace,
            "external_id": self.external_id,
            "certification_center": self.certification_center,
            "source": self.source.value,
        }


@dataclass(frozen=True, slots=True)
class ResultsImport:
    """An import that changed a session's results: which file, what it matched, the new fingerprint."""

    session_id: str
    source: ResultSource
    file_name: str
    file_sha256: str
    fingerprint: str
    matched: int
    unmatched: int
    imported_at: datetime


def results_fingerprint(results: Iterable[CertificationResult]) -> str:
    """sha256 (hex) of a session's normalised results, independent of row order.

    Equal fingerprints mean a re-import brings nothing new ("no change"); the source format is part
    of the data, so the same results read from the CSV and from the JSON differ (they carry
    different fields anyway).
    """
    return payloads_fingerprint(r.to_payload() for r in results)


def payloads_fingerprint(payloads: Iterable[Mapping[str, Any]]) -> str:
    """The same fingerprint from stored `to_payload()` dicts (a session's results as kept in storage)."""
    rows = sorted(payloads, key=lambda row: row["certification_id"])
    canonical = json.dumps(rows, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
