"""The scheduler on real Kafka and Postgres: learners arrive as eligibility events, a plan is confirmed,
sessions and enrolments are published with Pix's formats and only a password hash; replays change
nothing; SessionStarted and SessionFinalised from finalisation lock a session."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from aiokafka import AIOKafkaProducer

from services.scheduler.app import definition
from shared.clock import ManualClock
from shared.contracts.events import (
    CandidatesEnrolled,
    SessionCreated,
    SessionFinalised,
    SessionStarted,
)
from shared.contracts.topics import SCHEDULER
from shared.password_hash import verify_password
from shared.settings import DEV_INVIGILATOR_PASSWORD_KEY
from tests.events import certifiable_class
from tests.support import wait_for

pytestmark = pytest.mark.integration

NOW = datetime(2025, 10, 8, 7, 0, tzinfo=UTC)  # Pix Certif (lycée) opened on 06/10/2025
ACCESS_CODE = re.compile(r"^[BCDFGHJKMPQRTVWXY]{4}[2346789]{2}$")
KEYED_VERIFIER = re.compile(r"^hmac_sha256\$[A-Za-z0-9_-]{8}\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$")


def new_uai() -> str:
    return f"{uuid.uuid4().int % 10_000_000:07d}P"


async def read_model(svc, uai: str) -> list[dict]:
    rows = await svc.pool.fetch(
        "SELECT l.*, c.status, c.assessed_at FROM learners l JOIN learner_certifiability c USING (learner_id)"
        " WHERE l.uai = $1 ORDER BY learner_id",
        uai,
    )
    return [dict(r) for r in rows]


async def test_learners_to_confirmed_plan_to_published_sessions(start_service, publish, record_events):
    scheduler = await start_service(definition)
    scheduler.runtime.clock = ManualClock(NOW)
    uai = new_uai()
    events = certifiable_class(uai, "TG1", 24, NOW) + certifiable_class(uai, "TG2", 22, NOW)

    await publish(*events)

    async def all_learners_known() -> bool:
        return len(await read_model(scheduler, uai)) == 46

    await wait_for(all_learners_known, what="the scheduler to build its learners read model")
    built = await read_model(scheduler, uai)
    assert {r["status"] for r in built} == {"certifiable"} and {r["division"] for r in built} == {
        "TG1",
        "TG2",
    }

    school = {
        "name": "Lycée Camille Claudel",
        "level": "lycee",
        "city": "Caen",
        "site": "Site principal",
        "rooms": [{"name": "Info 1", "workstations": 26}, {"name": "Info 2", "workstations": 24}],
        "staff": [{"name": "Mme Roux"}, {"name": "M. Petit"}, {"name": "Mme Haddad"}],
    }
    assert (await scheduler.http.put(f"/schools/{uai}", json=school)).status_code == 201

    async with record_events([SCHEDULER]) as recorder:
        plan = (await scheduler.http.post(f"/schools/{uai}/plans", json={"school_year": "2025-2026"})).json()
        assert plan["status"] == "proposed" and plan["students"] == 46
        confirmed = await scheduler.http.post(f"/plans/{plan['plan_id']}/confirm")
        assert confirmed.status_code == 200, confirmed.text
        session_ids = confirmed.json()["session_ids"]

        created = await recorder.wait_for(SessionCreated, count=len(session_ids), uai=uai)
        enrolled = await recorder.wait_for(CandidatesEnrolled, count=len(session_ids), uai=uai)
        assert sorted(e.session_id for e in created) == sorted(session_ids)
        assert sum(len(e.candidates) for e in enrolled) == 46
        for event in created:
            assert ACCESS_CODE.match(event.access_code)
            assert KEYED_VERIFIER.match(event.invigilator_password_verifier)
            assert event.certification_center == "Lycée Camille Claudel" and event.school_level == "lycee"
            assert (event.duration_minutes, event.test_minutes) == (120, 105)
            session = (await scheduler.http.get(f"/sessions/{event.session_id}")).json()
            password = session["invigilator_password"]
            assert re.fullmatch(r"C-\S{6}", password)
            assert verify_password(
                password, event.invigilator_password_verifier, key=DEV_INVIGILATOR_PASSWORD_KEY
            )
            with pytest.raises(ValueError):  # nobody without the key can test a guess on it
                verify_password(password, event.invigilator_password_verifier)
            for key, value in recorder.raw:
                if key == event.session_id.encode():
                    assert password[2:].encode() not in value
                    assert b'invigilator_password"' not in value
                    if "access_code" in json.loads(value):
                        travelled = json.loads(value)["invigilator_password_verifier"]
                        assert travelled == event.invigilator_password_verifier


async def test_replayed_learner_events_change_nothing(start_service, publish, scratch, kafka):
    scheduler = await start_service(definition)
    scheduler.runtime.clock = ManualClock(NOW)
    uai = new_uai()
    events = certifiable_class(uai, "2A", 5, NOW)
    await publish(*events)

    async def known() -> bool:
        return len(await read_model(scheduler, uai)) == 5

    await wait_for(known, what="the read model")
    before = await read_model(scheduler, uai)

    # 1) the very same records again (same event ids: a redelivery), straight onto the topic
    rows = await scratch.pool.fetch("SELECT topic, key, headers, payload FROM outbox ORDER BY id")
    producer = AIOKafkaProducer(bootstrap_servers=kafka)
    await producer.start()
    try:
        for row in rows:
            headers = row["headers"] if isinstance(row["headers"], dict) else json.loads(row["headers"])
            await producer.send_and_wait(
                row["topic"],
                bytes(row["payload"]),
                key=row["key"].encode(),
                headers=[(k, v.encode()) for k, v in headers.items()],
            )
    finally:
        await producer.stop()
    # 2) the same snapshots raised again by eligibility (new event ids), after them on each key
    ids = await publish(*events)

    async def replays_handled() -> bool:
        seen = await scheduler.pool.fetchval(
            "SELECT count(*) FROM inbox WHERE event_id = ANY($1::uuid[])", [uuid.UUID(i) for i in ids]
        )
        return seen == len(ids)

    await wait_for(replays_handled, what="the re-raised events to be handled")
    learners_consumer = next(c for c in scheduler.runtime.consumers if c.name == "learners")
    assert learners_consumer.duplicates >= len(rows)
    assert await read_model(scheduler, uai) == before
    assert await scheduler.pool.fetchval("SELECT count(*) FROM outbox") == 0


async def test_session_finalised_by_finalisation_locks_the_session(start_service, publish):
    scheduler = await start_service(definition)
    scheduler.runtime.clock = ManualClock(NOW)
    uai = new_uai()
    school = {
        "name": "Lycée Test",
        "level": "lycee",
        "rooms": [{"name": "A1", "workstations": 20}],
        "staff": [{"name": "M. Jaurès"}],
        "site": "Site",
    }
    await scheduler.http.put(f"/schools/{uai}", json=school)
    session = (
        await scheduler.http.post(
            f"/schools/{uai}/sessions",
            json={"room": "A1", "invigilators": ["M. Jaurès"], "date": "2025-11-14", "time": "08:00"},
        )
    ).json()
    await publish(
        SessionFinalised(
            session_id=session["session_id"],
            session_number=session["session_number"],
            uai=uai,
            certification_center="Lycée Test",
            session_date=date(2025, 11, 14),
            session_time="08:00",
            finalised_at=datetime(2025, 11, 14, 11, 0, tzinfo=UTC),
            has_incident=False,
            has_joining_issue=False,
            is_publishable=True,
            candidates=[],
        )
    )

    async def locked() -> bool:
        return (await scheduler.http.get(f"/sessions/{session['session_id']}")).json()["started"]

    await wait_for(locked, what="SessionFinalised to lock the session")
    refused = await scheduler.http.patch(f"/sessions/{session['session_id']}", json={"time": "09:00"})
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "session.started"


SESSION_DAY_START = datetime(2025, 11, 14, 7, 0, tzinfo=UTC)  # 08:00 in Paris


async def scheduled_session_with_a_class(scheduler, publish, uai: str) -> dict:
    """A school, one session on 14 November 2025 at 08:00 and a class of three enrolled in it."""
    await publish(*certifiable_class(uai, "TG1", 3, NOW))

    async def learners_known() -> bool:
        return len(await read_model(scheduler, uai)) == 3

    await wait_for(learners_known, what="the learners read model")
    school = {
        "name": "Lycée Test",
        "level": "lycee",
        "rooms": [{"name": "A1", "workstations": 20}],
        "staff": [{"name": "M. Jaurès"}, {"name": "Mme Curie"}],
        "site": "Site",
    }
    assert (await scheduler.http.put(f"/schools/{uai}", json=school)).status_code == 201
    created = await scheduler.http.post(
        f"/schools/{uai}/sessions",
        json={"room": "A1", "invigilators": ["M. Jaurès"], "date": "2025-11-14", "time": "08:00"},
    )
    assert created.status_code == 201, created.text
    session = created.json()
    enrolled = await scheduler.http.post(
        f"/sessions/{session['session_id']}/enrolments", json={"division": "TG1"}
    )
    assert enrolled.status_code == 201 and len(enrolled.json()["enrolled"]) == 3, enrolled.text
    return (await scheduler.http.get(f"/sessions/{session['session_id']}")).json()


def session_started(session: dict, uai: str, at: datetime, **fields) -> SessionStarted:
    return SessionStarted(
        session_id=session["session_id"],
        uai=uai,
        session_number=session["session_number"],
        started_at=at,
        first_candidate_id=session["candidates"][0]["candidate_id"],
        **fields,
    )


async def test_session_started_by_finalisation_refuses_edit_and_deletion(start_service, publish):
    scheduler = await start_service(definition)
    scheduler.runtime.clock = ManualClock(NOW)
    uai = new_uai()
    session = await scheduled_session_with_a_class(scheduler, publish, uai)
    assert session["started"] is False
    sid = session["session_id"]
    published_before = await scheduler.pool.fetchval("SELECT count(*) FROM outbox")

    unknown = session_started(
        {**session, "session_id": str(uuid.uuid4())}, uai, SESSION_DAY_START
    )  # a session this scheduler never planned: ignored, the partition moves on
    await publish(unknown, session_started(session, uai, SESSION_DAY_START))

    async def started() -> bool:
        return (await scheduler.http.get(f"/sessions/{sid}")).json()["started"]

    await wait_for(started, what="SessionStarted to lock the session")
    scheduler.runtime.clock = ManualClock(SESSION_DAY_START + timedelta(minutes=20))

    patched = await scheduler.http.patch(f"/sessions/{sid}", json={"time": "10:00", "room": "A1"})
    assert patched.status_code == 409 and patched.json()["error"]["code"] == "session.started"
    deleted = await scheduler.http.delete(f"/sessions/{sid}")
    assert deleted.status_code == 409 and deleted.json()["error"]["code"] == "session.started"
    # enrolment stays open until finalisation (Pix SCO, issue 16): the class again adds no one
    enrol = await scheduler.http.post(f"/sessions/{sid}/enrolments", json={"division": "TG1"})
    assert enrol.status_code == 201 and enrol.json()["enrolled"] == [], enrol.text
    assert len(enrol.json()["already_enrolled"]) == 3

    after = (await scheduler.http.get(f"/sessions/{sid}")).json()
    assert after["started_at"] is not None
    assert after == {**session, "started": True, "lifecycle": "started", "started_at": after["started_at"]}
    assert after["status"] == "scheduled" and len(after["candidates"]) == 3
    assert await scheduler.pool.fetchval("SELECT count(*) FROM outbox") == published_before
    consumer = next(c for c in scheduler.runtime.consumers if c.name == "finalisation")
    assert consumer.dead_lettered == 0


async def test_session_started_and_finalised_in_any_order_keep_the_earliest_start(start_service, publish):
    scheduler = await start_service(definition)
    scheduler.runtime.clock = ManualClock(NOW)
    uai = new_uai()
    session = await scheduled_session_with_a_class(scheduler, publish, uai)
    sid = session["session_id"]
    first_start = SESSION_DAY_START + timedelta(minutes=3)
    finalised = SessionFinalised(
        session_id=sid,
        session_number=session["session_number"],
        uai=uai,
        certification_center="Lycée Test",
        session_date=date(2025, 11, 14),
        session_time="08:00",
        finalised_at=SESSION_DAY_START + timedelta(hours=3),
        has_incident=False,
        has_joining_issue=False,
        is_publishable=True,
        candidates=[],  # no per-candidate starts: the scheduler can only guess the finalisation time
    )
    started = session_started(session, uai, first_start)
    ids = await publish(finalised, started, started)  # started raised twice

    async def all_handled() -> bool:
        seen = await scheduler.pool.fetchval(
            "SELECT count(*) FROM inbox WHERE event_id = ANY($1::uuid[])", [uuid.UUID(i) for i in ids]
        )
        return seen == len(ids)

    await wait_for(all_handled, what="SessionFinalised then SessionStarted to be handled")
    row = await scheduler.pool.fetchrow(
        "SELECT first_test_started_at, finalised_at FROM sessions WHERE session_id = $1", uuid.UUID(sid)
    )
    assert row["first_test_started_at"] == first_start
    assert row["finalised_at"] == finalised.finalised_at
    refused = await scheduler.http.patch(f"/sessions/{sid}", json={"time": "09:00"})
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "session.started"
