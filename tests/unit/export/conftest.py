"""Record builders for the export domain tests."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from services.export.domain.records import Candidate, CertificationResult, Learner, ResultStatus

UAI = "0751234A"


class Make:
    """Small factories with sensible defaults; every id is derived from a learner key."""

    def learner(self, key: str, **overrides: Any) -> Learner:
        values: dict[str, Any] = {
            "id": f"L-{key}",
            "uai": UAI,
            "ine": f"{abs(hash(key)) % 10**9:09d}AB",
            "first_name": f"Prénom{key}",
            "middle_name": None,
            "third_name": None,
            "last_name": f"Nom{key}",
            "birthdate": date(2010, 5, 1),
            "division": "3A",
            "active": True,
        }
        values.update(overrides)
        return Learner(**values)

    def candidate(self, learner: Learner, session_id: str = "S-1", suffix: str = "") -> Candidate:
        return Candidate(
            id=f"C-{learner.id}-{session_id}{suffix}", learner_id=learner.id, session_id=session_id
        )

    def result(self, candidate: Candidate, certification_id: int, **overrides: Any) -> CertificationResult:
        values: dict[str, Any] = {
            "certification_id": certification_id,
            "candidate_id": candidate.id,
            "session_id": candidate.session_id,
            "session_number": 777,
            "status": ResultStatus.VALIDATED,
            "published": True,
            "pix_score": 300,
            "taken_at": datetime(2024, 3, 12, 9, 0, tzinfo=UTC),
            "first_name": "Anne",
            "last_name": "Jerry",
            "birthdate": date(2010, 5, 1),
            "certification_center": "Collège Kort Colin",
            "verification_code": "P-ABCDEFGH",
            "published_at": datetime(2024, 3, 20, 10, 0, tzinfo=UTC),
            "competence_levels": {"1.1": 3, "2.1": 2},
        }
        values.update(overrides)
        return CertificationResult(**values)


@pytest.fixture
def make() -> Make:
    return Make()
