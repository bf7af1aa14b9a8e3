"""Builders shared by the finalisation domain tests."""

from datetime import UTC, date, datetime

import pytest

from services.finalisation.domain.invigilation import EnrolledCandidate, SessionRoom

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
        "birthdate": date(2010, 1, n),
        "learner_id": f"l{n}",
        "ine": f"12345678{n}AB" if n < 10 else None,
        "division": "3A",
    }
    values.update(overrides)
    return EnrolledCandidate(**values)


@pytest.fixture
def room() -> SessionRoom:
    return SessionRoom.open(
        "sess-1", 4242, date(2025, 3, 12), f"fake${PASSWORD}", [candidate(1), candidate(2), candidate(3)]
    )


@pytest.fixture
def logged_in_room(room: SessionRoom) -> SessionRoom:
    room.log_in(4242, f"C-{PASSWORD}", T0, fake_verify)
    return room
