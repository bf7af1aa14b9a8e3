"""The académie read model on real PostgreSQL, its handlers called as the consumers call them (a
run of events in one transaction): runs that mix a snapshot and its update, an older assessment
after a newer one, an unenrolment, a cancelled session, a learner gone; applied twice they leave
the same view; the routes answer over exactly these schools (no consumer reads the shared topics)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from services.academie.app import definition
from services.academie.handlers import FILES, PROGRESS, ROSTER, SESSIONS
from shared.consumer import Delivery
from shared.contracts.events import (
    CandidateUnenrolled,
    LearnerDeactivated,
    SessionCancelled,
    SessionUpdated,
)
from tests.events import certifiability, convoked, enrolled, learner, new_uai, session, started

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
HANDLERS = ROSTER | SESSIONS | PROGRESS | FILES


def at(days: float) -> datetime:
    return T0 + timedelta(days=days)


@pytest.fixture
async def svc(start_service):
    # no consumers: the view holds the events this test applies and nothing else
    return await start_service(replace(definition, wire=None))


async def apply(svc, *runs: list) -> None:
    """Each run (events of one type) in one transaction, as a consumer's batch."""
    async with svc.runtime.unit_of_work() as uow:
        for run in runs:
            await HANDLERS[type(run[0])](uow, [Delivery(e, None) for e in run])


async def view(svc) -> tuple[dict, dict, bytes]:
    schools = (await svc.http.get("/academie/schools")).json()
    summary = (await svc.http.get("/academie/summary")).json()
    csv = (await svc.http.get("/academie/schools.csv")).content
    return schools, summary, csv


async def test_runs_applied_twice_leave_the_same_view(svc):
    college, lp = new_uai(), new_uai()
    pupils = [learner(college, f"c{i}", mef_code="10310019110") for i in range(3)]
    pros = [learner(lp, f"p{i}", mef_code="24725007210") for i in range(2)]
    s1 = session(college, 1, certification_center="Collège Colette", created_at=at(0))
    s1_moved = SessionUpdated(
        **(
            s1.model_dump(exclude={"created_at"})
            | {"room": "C4", "certification_center": "Collège Sidonie-Gabrielle Colette", "updated_at": at(2)}
        )
    )
    s2 = session(college, 2, created_at=at(1))
    s9 = session(lp, 9, school_level="lycee", certification_center="LP Niépce", created_at=at(3))
    runs = [
        [*pupils, *pros],
        [
            certifiability(pupils[0], at(-5)),
            certifiability(pupils[1], at(-4)),
            certifiability(pupils[1], at(-9), certifiable=False),  # older, later in the run: ignored
            certifiability(pros[0], at(-3), certifiable=False),
        ],
        [
            LearnerDeactivated(
                learner_id=pupils[2].learner_id, uai=college, division="3A", deactivated_at=at(1)
            )
        ],
        [s1, s2, s9],
        [s1_moved],
        [SessionCancelled(session_id=s2.session_id, uai=college, cancelled_at=at(4))],
        [enrolled(s1, *pupils), enrolled(s9, *pros)],
        [
            CandidateUnenrolled(
                session_id=s1.session_id,
                uai=college,
                candidate_id=f"{s1.session_id}-{pupils[2].learner_id}",
                learner_id=pupils[2].learner_id,
                unenrolled_at=at(5),
            )
        ],
        [convoked(s1, at(6)), convoked(s1, at(7))],  # issued twice: the first time is kept
        [started(s1, at(20))],
    ]
    await apply(svc, *runs)
    first = await view(svc)
    schools, summary, _ = first
    by_uai = {s["uai"]: s for s in schools["schools"]}
    assert [s["uai"] for s in schools["schools"]] == [lp, college]  # furthest behind first
    c = by_uai[college]
    assert (c["name"], c["type"], c["step"]) == ("Collège Sidonie-Gabrielle Colette", "college", "finalised")
    assert (c["sessions"], c["candidates"], c["learners"], c["certifiable"]) == (1, 2, 2, 2)
    assert c["steps"][0]["reached_at"] == "2026-03-02T08:00:00Z"  # created, not updated
    assert c["steps"][1]["reached_at"] == "2026-03-08T08:00:00Z"  # the first convocation
    p = by_uai[lp]
    assert (p["name"], p["type"], p["step"], p["certifiability_rate"]) == ("LP Niépce", "lp", "convoked", 0.0)
    assert summary["schools"] == 2 and summary["certifiability_rate"] == 0.5
    assert [(s["step"], s["reached"], s["current"]) for s in summary["steps"]] == [
        ("planned", 2, 0),
        ("convoked", 1, 1),
        ("held", 1, 0),
        ("finalised", 0, 1),
        ("results", 0, 0),
        ("livret", 0, 0),
    ]
    lp_only = (await svc.http.get("/academie/schools", params={"type": "lp"})).json()
    assert [s["uai"] for s in lp_only["schools"]] == [lp]
    paged = (await svc.http.get("/academie/schools", params={"limit": 1, "offset": 1})).json()
    assert (paged["total"], [s["uai"] for s in paged["schools"]]) == (2, [college])

    await apply(svc, *runs)  # a redelivery of everything, or the producers raising it all again
    assert await view(svc) == first
