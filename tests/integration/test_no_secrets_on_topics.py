"""No value on any topic lets someone without INVIGILATOR_PASSWORD_KEY test a password guess.

Scheduler and finalisation run together on real Kafka and PostgreSQL: a school's class is planned
into a session, the session is edited (SessionUpdated), finalisation learns it and the invigilator
logs in with the printed password (so the verifier that travelled does open the room, with the key);
then the school records the session's Pix Certif values and the invigilator logs in with Pix's
number and password (their verifier travelled in a SessionUpdated too).
Every record this run put on every event topic is then searched: the password is in none, and no
string in any of them is a value ``verify_password`` can check without the key.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from services.finalisation.app import definition as finalisation_definition
from services.scheduler.app import definition as scheduler_definition
from shared.clock import ManualClock
from shared.contracts.events import SessionCreated, SessionUpdated
from shared.contracts.topics import ELIGIBILITY, EXPORT, FINALISATION, SCHEDULER
from shared.password_hash import hash_password, verify_password
from shared.settings import DEV_INVIGILATOR_PASSWORD_KEY
from tests.events import certifiable_class
from tests.support import wait_for

pytestmark = pytest.mark.integration

PLANNING_DAY = datetime(2025, 10, 8, 7, 0, tzinfo=UTC)  # Pix Certif opened to lycées on 6 October
#: the password Pix Certif gave the session (as its session list shows it)
PIX_PASSWORD = "C-b7K?2x"


def strings(value: Any) -> Iterator[str]:
    """Every string in a decoded JSON value, keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from strings(v)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def checkable_without_the_key(password: str, value: str) -> bool:
    """True when ``value`` answers a guess without the key (a scrypt or PBKDF2 hash would)."""
    try:
        verify_password(password, value)
    except ValueError:  # not a hash, or a keyed verifier that needs the key
        return False
    return True


async def test_no_topic_carries_a_value_that_checks_a_password_without_the_key(
    start_service, publish, record_events
):
    scheduler = await start_service(scheduler_definition)
    scheduler.runtime.clock = ManualClock(PLANNING_DAY)
    finalisation = await start_service(finalisation_definition)
    await scheduler.pool.execute(
        "SELECT setval('session_number_seq', $1)", random.randint(100_000, 2_000_000_000)
    )
    uai = f"{uuid.uuid4().int % 10_000_000:07d}K"
    await publish(*certifiable_class(uai, "TG4", 3, PLANNING_DAY))

    async def learners_known() -> bool:
        return await scheduler.pool.fetchval("SELECT count(*) FROM learners WHERE uai = $1", uai) == 3

    await wait_for(learners_known, what="the scheduler's learners read model")
    school = {
        "name": "Lycée Olympe de Gouges",
        "level": "lycee",
        "rooms": [{"name": "Info 2", "workstations": 20}],
        "staff": [{"name": "Mme Sand"}],
        "site": "Site principal",
    }
    assert (await scheduler.http.put(f"/schools/{uai}", json=school)).status_code == 201

    async with record_events([SCHEDULER, ELIGIBILITY, FINALISATION, EXPORT]) as recorder:
        created = await scheduler.http.post(
            f"/schools/{uai}/sessions",
            json={"room": "Info 2", "invigilators": ["Mme Sand"], "date": "2025-11-14", "time": "08:00"},
        )
        assert created.status_code == 201, created.text
        sid = created.json()["session_id"]
        enrolled = await scheduler.http.post(f"/sessions/{sid}/enrolments", json={"division": "TG4"})
        assert enrolled.status_code == 201, enrolled.text
        assert (await scheduler.http.patch(f"/sessions/{sid}", json={"time": "09:00"})).status_code == 200
        session = (await scheduler.http.get(f"/sessions/{sid}")).json()
        password = session["invigilator_password"]

        async def room_known() -> bool:
            at = await finalisation.pool.fetchval(
                "SELECT session_time FROM sessions WHERE session_id = $1", sid
            )
            return at == "09:00"

        await wait_for(room_known, what="finalisation to learn the edited session")
        login = await finalisation.http.post(
            "/invigilator/login", json={"session_number": session["session_number"], "password": password}
        )
        assert login.status_code == 200, login.text
        await recorder.wait_for(SessionCreated, session_id=sid)
        await recorder.wait_for(SessionUpdated, session_id=sid)

        # the school records Pix Certif's values: Pix's password travels as a keyed verifier too
        pix_number = random.randint(100_000, 2_000_000_000)
        pixed = await scheduler.http.put(
            f"/sessions/{sid}/pix-certif",
            json={
                "session_number": pix_number,
                "access_code": "FMKP39",
                "invigilator_password": PIX_PASSWORD,
            },
        )
        assert pixed.status_code == 200, pixed.text

        async def pix_known() -> bool:
            number = await finalisation.pool.fetchval(
                "SELECT pix_session_number FROM sessions WHERE session_id = $1", sid
            )
            return number == pix_number

        await wait_for(pix_known, what="finalisation to learn the session's Pix Certif number")
        login = await finalisation.http.post(
            "/invigilator/login", json={"session_number": pix_number, "password": PIX_PASSWORD}
        )
        assert login.status_code == 200, login.text
        await recorder.wait_for(SessionUpdated, session_id=sid, pix_session_number=pix_number)

    # this run's records only (other runs share the topics): those naming the school or the session
    mine = [value for key, value in recorder.raw if uai.encode() in value or key == sid.encode()]
    assert len(mine) >= 3  # SessionCreated, CandidatesEnrolled, SessionUpdated at least
    for typed in (password, PIX_PASSWORD):
        plain = typed.removeprefix("C-")
        assert not [v for v in mine if plain.encode() in v], "a password travelled in clear"
    values = [s for v in mine for s in strings(json.loads(v))]
    assert checkable_without_the_key(password, hash_password(password, n=2**10))  # what v1 carried
    for typed in (password, PIX_PASSWORD):
        assert not [s for s in values if checkable_without_the_key(typed, s)]
    # not vacuous: the verifiers did travel, and they check the password with the key
    keyed = [s for s in values if s.startswith("hmac_sha256$")]
    assert len(keyed) == 3  # SessionCreated, SessionUpdated (time), SessionUpdated (Pix Certif's values)
    key = DEV_INVIGILATOR_PASSWORD_KEY
    assert all(verify_password(password, s, key=key) for s in keyed[:2])
    assert verify_password(PIX_PASSWORD.removeprefix("C-"), keyed[2], key=key)
