"""Fixtures of the finalisation domain tests."""

from datetime import date

import pytest

from services.finalisation.domain.invigilation import SessionRoom
from tests.unit.finalisation.finalisation_builders import PASSWORD, T0, candidate, fake_verify


@pytest.fixture
def room() -> SessionRoom:
    return SessionRoom.open(
        "sess-1", 4242, date(2025, 3, 12), f"fake${PASSWORD}", [candidate(1), candidate(2), candidate(3)]
    )


@pytest.fixture
def logged_in_room(room: SessionRoom) -> SessionRoom:
    room.log_in(4242, f"C-{PASSWORD}", T0, fake_verify)
    return room
