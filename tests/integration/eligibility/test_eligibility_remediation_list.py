"""The remediation list on real Kafka + Postgres: the one-month check's request becomes the list the
school reads (by class too), and the student's later certifiable assessment resolves it, whichever
event the read model reads first."""

from __future__ import annotations

import random
import time
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from deploy.local.generator import (
    OrgaCertificability,
    Participation,
    campaign_csv_bytes,
    generate_learners,
    learner_csv_bytes,
    orga_certificability_csv_bytes,
)
from services.eligibility.app import definition, remediation_tick
from services.eligibility.store_remediation import RemediationItem, RemediationStore
from shared.clock import ManualClock
from shared.contracts.identifiers import mod23_letter
from tests.events import enrolled_from_roster, session
from tests.support import wait_for

pytestmark = pytest.mark.integration

#: a fresh school each run: the topics keep the sessions of earlier runs (their checks are listed too)
_DIGITS = f"021{random.Random(time.time_ns()).randrange(10_000):04d}"
UAI = _DIGITS + mod23_letter(_DIGITS)
SESSION_DATE = date(2027, 6, 10)
DUE = SESSION_DATE - timedelta(days=30)
SIX = (8, 16, 9, 40, 8, 8, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0)
TWO = (8, 16, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)


async def listed(http, **params) -> dict:
    response = await http.get(f"/schools/{UAI}/remediations", params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def test_the_check_fills_the_list_and_a_later_certifiable_assessment_resolves_it(
    start_service, publish
):
    svc = await start_service(definition, outbox_poll_seconds=0.3)
    learners = generate_learners(43, 3)
    a, b, c = learners
    assert (
        await svc.http.post(
            f"/schools/{UAI}/rosters", files={"file": ("eleves.csv", learner_csv_bytes(learners))}
        )
    ).status_code == 200
    export = campaign_csv_bytes(
        [
            Participation(a.last_name, a.first_name, a.division, a.ine, True, date(2027, 1, 5), SIX),
            Participation(b.last_name, b.first_name, b.division, b.ine, True, date(2027, 1, 5), TWO),
        ]
    )
    assert (
        await svc.http.post(f"/schools/{UAI}/campaign-exports", files={"file": ("export.csv", export)})
    ).status_code == 200
    ids = {
        x["ine"]: x["learner_id"] for x in (await svc.http.get(f"/schools/{UAI}/learners")).json()["learners"]
    }
    session_id = str(uuid.uuid4())
    created = session(UAI, 4322, session_id=session_id, date=SESSION_DATE)
    await publish(created, enrolled_from_roster(created, learners, ids, datetime.now(UTC)))

    async def candidates_known() -> bool:
        count = "SELECT count(*) FROM session_candidates WHERE session_id = $1"
        return await svc.pool.fetchval(count, session_id) == 3

    await wait_for(candidates_known, what="the session's candidates")
    svc.runtime.clock = ManualClock(datetime(2027, 5, 11, 6, tzinfo=UTC))
    [event] = [e for e in await remediation_tick(svc.runtime) if e.session_id == session_id]

    async def items(count: int, **params) -> bool:
        return len((await listed(svc.http, **params))["students"]) == count

    await wait_for(lambda: items(2), what="the remediation list")  # relayed, consumed back
    found = await listed(svc.http)
    assert (found["uai"], found["open"], found["resolved"]) == (UAI, 2, 0)
    by_ine = {s["ine"]: s for s in found["students"]}
    assert set(by_ine) == {b.ine, c.ine}
    line = by_ine[b.ine]
    assert (line["last_name"], line["first_name"], line["division"]) == (
        b.last_name,
        b.first_name,
        b.division,
    )
    assert (line["status"], line["certifiable_competences"], line["competences_needed"]) == (
        "not_certifiable",
        2,
        3,
    )
    assert "1.3" in line["competences_at_level_zero"] and "1.1" not in line["competences_at_level_zero"]
    assert (line["due_date"], line["session_date"], line["session_id"]) == (
        DUE.isoformat(),
        SESSION_DATE.isoformat(),
        session_id,
    )
    assert line["resolved_at"] is None and by_ine[c.ine]["status"] == "unknown"
    assert datetime.fromisoformat(line["requested_at"]) == event.requested_at

    # c becomes certifiable through Pix Orga: resolved, dated by the assessment
    orga = orga_certificability_csv_bytes([OrgaCertificability(c.ine, True, date(2026, 11, 20))])
    response = await svc.http.post(f"/schools/{UAI}/orga-certificability", files={"file": ("orga.csv", orga)})
    assert response.status_code == 200, response.text
    await wait_for(lambda: items(1, include_resolved="false"), what="the resolution")
    found = await listed(svc.http)
    assert (found["open"], found["resolved"]) == (1, 1)
    resolved = {s["ine"]: s["resolved_at"] for s in found["students"]}
    assert resolved[b.ine] is None and resolved[c.ine] is not None
    assert (await listed(svc.http, include_resolved="false"))["students"][0]["ine"] == b.ine
    in_class = [s["ine"] for s in (await listed(svc.http, division=b.division))["students"]]
    assert b.division != c.division and in_class == [b.ine]
    assert (await listed(svc.http, division="9Z"))["students"] == []
    refused = await svc.http.get("/schools/0211089A/remediations")
    assert (refused.status_code, refused.json()["error"]["code"]) == (422, "uai.invalid_check_letter")


def item(
    learner_id: str, requested_at: datetime, due: date = DUE, session_id: str = "s-1"
) -> RemediationItem:
    return RemediationItem(
        session_id, due, learner_id, UAI, "3A", SESSION_DATE, "unknown", None, None, (), requested_at
    )


async def test_an_assessment_read_before_its_request_still_resolves_it_and_a_moved_session_replaces_its_items(
    start_service,
):
    svc = await start_service(definition)
    t0 = datetime(2027, 5, 11, 6, tzinfo=UTC)
    # the service's consumers also fill this schema from the topics' earlier requests: only this
    # test's session and learners are looked at
    session_id = f"s-{uuid.uuid4()}"
    early, late, still_open = (f"{name}-{uuid.uuid4()}" for name in ("early", "late", "open"))
    mine = "SELECT * FROM remediation_items WHERE session_id = $1 ORDER BY learner_id"
    async with svc.pool.acquire() as conn:
        store = RemediationStore(conn)
        await store.record_certifiable([(early, t0 - timedelta(days=1)), (late, t0 + timedelta(hours=2))])
        await store.record_requests(
            [item(who, t0, session_id=session_id) for who in (early, late, still_open)]
        )
        await store.record_certifiable([(late, t0 + timedelta(hours=1))])  # an earlier one arrives later
        rows = {r["learner_id"]: r["resolved_at"] for r in await conn.fetch(mine, session_id)}
        assert rows == {early: None, late: t0 + timedelta(hours=1), still_open: None}

        # the session moved: its next check's items replace the old due date's
        later = DUE + timedelta(days=7)
        await store.record_requests([item(still_open, t0 + timedelta(days=7), later, session_id)])
        keys = await conn.fetch(mine, session_id)
        assert [(k["learner_id"], k["due_date"]) for k in keys] == [(still_open, later)]
