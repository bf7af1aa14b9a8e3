"""Builders shared by the finalisation domain tests (fixtures are in conftest.py)."""

from datetime import UTC, date, datetime, timedelta

from services.finalisation.domain.invigilation import EnrolledCandidate

PASSWORD = "B3X7K9"
T0 = datetime(2025, 3, 12, 8, 0, tzinfo=UTC)


def fake_verify(plain: str, encoded: str) -> bool:
    """Stands in for shared.password_hash: the "hash" is "fake$<password>"."""
    return encoded == f"fake${plain}"


def candidate(n: int, **overrides) -> EnrolledCandidate:
    values = {
        "candidate_id": f"c{n}",
        "first_name": f"Prénom{n}",
        "last_name": f"Nom{n}",
        "birthdate": date(2010, 1, 1) + timedelta(days=n - 1),
        "learner_id": f"l{n}",
        "ine": f"12345678{n}AB" if n < 10 else None,
        "division": "3A",
    }
    values.update(overrides)
    return EnrolledCandidate(**values)
