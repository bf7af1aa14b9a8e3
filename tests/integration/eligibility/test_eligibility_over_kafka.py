"""Eligibility on real Kafka + Postgres: the scheduler's session events drive the one-month check
(raised once, even across a restart with a replay), and certifiability reaches subscribers."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest

from deploy.local.generator import (
    Participation,
    campaign_csv_bytes,
    generate_learners,
    learner_csv_bytes,
)
from services.eligibility.app import definition, remediation_tick
from shared.clock import ManualClock
from shared.contracts.events import (
    CertifiabilityAssessed,
    LearnerRegistered,
    RemediationRequested,
)
from shared.contracts.identifiers import mod23_letter
from shared.contracts.topics import ELIGIBILITY
from shared.service import Runtime
from tests.events import enrolled_from_roster, session
from tests.support import wait_for

pytestmark = pytest.mark.integration

UAI = "0211" + "123" + mod23_letter("0211123")
SESSION_DATE = date(2027, 6, 10)  # far from the real clock: only the manual clock makes it due
DUE = SESSION_DATE - timedelta(days=30)
SIX = (8, 16, 9, 40, 8, 8, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0)
TWO = (8, 16, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)


async def school_with_profiles(http: httpx.AsyncClient) -> tuple[list, dict[str, str]]:
    """3 learners: certifiable, 2 competences, never shared; returns them and their ids by INE."""
    learners = generate_learners(41, 3)
    roster = await http.post(
        f"/schools/{UAI}/rosters", files={"file": ("eleves.csv", learner_csv_bytes(learners))}
    )
    assert roster.status_code == 200, roster.text
    a, b, _ = learners
    export = campaign_csv_bytes(
        [
            Participation(a.last_name, a.first_name, a.division, a.ine, True, date(2027, 1, 5), SIX),
            Participation(b.last_name, b.first_name, b.division, b.ine, True, date(2027, 1, 5), TWO),
        ]
    )
    response = await http.post(f"/schools/{UAI}/campaign-exports", files={"file": ("export.csv", export)})
    assert response.status_code == 200, response.text
    listed = (await http.get(f"/schools/{UAI}/learners")).json()["learners"]
    return learners, {x["ine"]: x["learner_id"] for x in listed}


async def candidates_known(runtime: Runtime, session_id: str, count: int) -> bool:
    return (
        await runtime.pool.fetchval(
            "SELECT count(*) FROM session_candidates WHERE session_id = $1", session_id
        )
        == count
    )


async def test_scheduler_sessions_drive_the_one_month_check_exactly_once_across_restart_and_replay(
    start_service, publish, record_events
):
    session_id = str(uuid.uuid4())
    often = {"remediation_check_interval_seconds": 0.2, "outbox_poll_seconds": 0.3}
    async with record_events([ELIGIBILITY]) as recorder:
        # first run: the job ticks often, on a clock the test holds
        first = await start_service(definition, **often)
        learners, ids = await school_with_profiles(first.http)
        created = session(UAI, 4321, session_id=session_id, date=SESSION_DATE)
        await publish(created, enrolled_from_roster(created, learners, ids, datetime.now(UTC)))
        await wait_for(
            lambda: candidates_known(first.runtime, session_id, 3), what="the session's candidates"
        )
        first.runtime.clock = ManualClock(datetime(2027, 5, 10, 12, tzinfo=UTC))  # the day before
        await asyncio.sleep(1)
        assert recorder.of(RemediationRequested, session_id=session_id) == []
        first.runtime.clock = ManualClock(datetime(2027, 5, 11, 6, tzinfo=UTC))  # due date, Paris
        [event] = await recorder.wait_for(RemediationRequested, session_id=session_id)
        await first.stop()

        assert (event.session_date, event.due_date, event.uai) == (SESSION_DATE, DUE, UAI)
        _, b, c = learners
        by_learner = {m.learner_id: m for m in event.learners}
        assert set(by_learner) == {ids[b.ine], ids[c.ine]}
        assert (by_learner[ids[b.ine]].status, by_learner[ids[b.ine]].competences_needed) == (
            "not_certifiable",
            3,
        )
        assert by_learner[ids[c.ine]].status == "unknown"

        # restart in replay mode: read models and inbox cleared, the scheduler's topic read again
        second = await start_service(definition, schema=first.schema, rebuild_read_models=True, **often)
        second.runtime.clock = ManualClock(datetime(2027, 5, 12, 12, tzinfo=UTC))
        await wait_for(
            lambda: candidates_known(second.runtime, session_id, 3), what="the replayed candidates"
        )
        assert [e for e in await remediation_tick(second.runtime) if e.session_id == session_id] == []
        await asyncio.sleep(2)  # several job ticks and relay polls
        await second.stop()
        assert len(recorder.of(RemediationRequested, session_id=session_id)) == 1


async def test_certifiability_assessed_reaches_a_subscriber(start_service, record_events):
    svc = await start_service(definition)
    async with record_events([ELIGIBILITY]) as recorder:
        learners, ids = await school_with_profiles(svc.http)
        registered = await recorder.wait_for(LearnerRegistered, count=3, uai=UAI)
        assessed = await recorder.wait_for(CertifiabilityAssessed, count=2, uai=UAI)
    mine = {e.learner_id: e for e in assessed if e.learner_id in ids.values()}
    a, b, _ = learners
    assert {e.learner_id for e in registered} >= set(ids.values())
    assert (mine[ids[a.ine]].status, mine[ids[a.ine]].certifiable_competences) == ("certifiable", 6)
    assert (mine[ids[b.ine]].status, mine[ids[b.ine]].competences_needed) == ("not_certifiable", 3)
    assert mine[ids[b.ine]].competence_levels["1.2"] == 2
