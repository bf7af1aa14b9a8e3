"""What the in-memory use-case tests share: the schools' clock held still, the real calendar, a fast
password hasher, and school/session request bodies (the component tests' builders, validated)."""

from __future__ import annotations

import uuid
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from services.scheduler.domain.calendar import CertificationCalendar
from services.scheduler.schemas import SchoolIn, SessionIn
from services.scheduler.usecases import schools, sessions
from services.scheduler.usecases.common import SchoolClock
from shared.errors import DomainError
from tests.component.scheduler import builders
from tests.unit.scheduler.fakes import InMemoryScheduler

NOW, IN_WINDOW = builders.NOW, builders.IN_WINDOW
UAI = "0870045P"
CALENDAR = CertificationCalendar.load()
CLOCK = SchoolClock(lambda: NOW, ZoneInfo("Europe/Paris"))


def fast_hash(password: str) -> str:
    """Stands for shared.password_hash (scrypt costs ~50 ms a call): the tests check where it goes."""
    return f"test${password}"


def school_body(**overrides: Any) -> SchoolIn:
    return SchoolIn.model_validate(builders.school_body(**overrides))


def session_body(**overrides: Any) -> SessionIn:
    return SessionIn.model_validate(builders.session_body(**overrides))


async def school(scheduler: InMemoryScheduler, uai: str = UAI, **overrides: Any) -> str:
    await schools.put_school(scheduler.begin, uai=uai, body=school_body(**overrides), clock=CLOCK)
    return uai


async def new_session(scheduler: InMemoryScheduler, uai: str = UAI, **overrides: Any) -> uuid.UUID:
    """A session created through the use case (body: ``session_body(**overrides)``)."""
    return await sessions.create_one_session(
        scheduler.begin,
        uai=uai,
        body=session_body(**overrides),
        clock=CLOCK,
        calendar=CALENDAR,
        hash_password=fast_hash,
    )


async def refused(code: str, call) -> DomainError:
    """``await call`` raises the DomainError ``code``; returns it (for its details)."""
    with pytest.raises(DomainError) as caught:
        await call
    assert caught.value.code == code, caught.value
    return caught.value
