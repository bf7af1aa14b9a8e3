"""The académie view over real Kafka and PostgreSQL: the other services' events, published as their
owners publish them, move a school along its Phase 3 card; the routes answer what the events said;
a duplicate (redelivered or raised again) changes nothing; a replay rebuilds the same view; only
operators may read it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.academie.app import definition
from tests.events import (
    Outcome,
    certifiability,
    certification_ids,
    class_exported,
    convoked,
    enrolled,
    finalised,
    learner,
    livret_produced,
    new_uai,
    overdue,
    results,
    session,
    started,
)
from tests.keycloak import oidc_settings, operator_token, staff_token
from tests.support import wait_for

pytestmark = pytest.mark.integration

GATEWAY_TOKEN = "academie-gateway-token-0123456789"
AUTH = {"Authorization": f"Bearer {GATEWAY_TOKEN}"}
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
CSV_HEADER = (
    "UAI;Nom;Type;Étape;Sessions;Candidats;Sessions convoquées;Sessions tenues;Sessions finalisées;"
    "Sessions avec résultats;Résultats;Planifié le;Convoqué le;Sessions tenues le;Finalisé le;"
    "Résultats reçus le;Livret prêt le;Finalisations en retard;Élèves;Certifiables;"
    "Taux de certificabilité"
)


def at(days: float) -> datetime:
    return T0 + timedelta(days=days)


async def handled(svc, *event_ids: str) -> None:
    async def all_in() -> bool:
        count = await svc.pool.fetchval(
            "SELECT count(*) FROM inbox WHERE event_id = ANY($1::uuid[])", list(event_ids)
        )
        return count == len(set(event_ids))

    await wait_for(all_in, seconds=120, what=f"{len(event_ids)} events handled")


async def card(svc, uai: str) -> dict:
    reply = await svc.http.get("/academie/schools", params={"q": uai}, headers=AUTH)
    assert reply.status_code == 200, reply.text
    [school] = reply.json()["schools"]
    return school


def steps_of(school: dict) -> dict[str, tuple[bool, int]]:
    return {s["step"]: (s["reached"], s["count"]) for s in school["steps"]}


async def test_a_school_moves_along_its_card_as_the_events_arrive(start_service, publish):
    svc = await start_service(definition, api_token=GATEWAY_TOKEN)
    uai = new_uai()
    pupils = [learner(uai, f"p{i}", mef_code="10310019110") for i in range(4)]
    s1 = session(uai, number=1, certification_center="Collège Colette", created_at=at(0))
    s2 = session(uai, number=2, certification_center="Collège Colette", created_at=at(1))

    # roster and certifiability: 3 of 4 certifiable; p3's later assessment wins over its first
    ids = await publish(
        *pupils,
        *(certifiability(p, at(-10)) for p in pupils[:3]),
        certifiability(pupils[3], at(-9)),
        certifiability(pupils[3], at(-20), certifiable=False),  # older: ignored
    )
    await handled(svc, *ids)
    school = await card(svc, uai)
    assert (school["step"], school["sessions"], school["type"]) == ("planned", 0, "college")
    assert (school["learners"], school["certifiable"], school["certifiability_rate"]) == (4, 4, 1.0)

    ids = await publish(
        certifiability(pupils[3], at(-5), certifiable=False),  # newer: wins
        s1,
        s2,
        enrolled(s1, *pupils[:2]),
        enrolled(s2, *pupils[2:]),
        convoked(s1, at(5)),
    )
    await handled(svc, *ids)
    school = await card(svc, uai)
    assert school["name"] == "Collège Colette"
    assert (school["step"], school["sessions"], school["candidates"]) == ("convoked", 2, 4)
    assert school["certifiability_rate"] == 0.75
    assert steps_of(school)["convoked"] == (False, 1)

    ids = await publish(
        convoked(s2, at(6)),
        started(s1, at(20)),
        started(s2, at(20.1)),
        overdue(s2, due_at=at(22.1), detected_at=at(22.2)),
        finalised(s1, at(21)),
    )
    await handled(svc, *ids)
    school = await card(svc, uai)
    assert (school["step"], school["overdue_finalisations"], school["finalised_sessions"]) == (
        "finalised",
        1,
        1,
    )
    listed = (await svc.http.get("/academie/overdue", headers=AUTH)).json()["sessions"]
    [late] = [s for s in listed if s["uai"] == uai]
    assert (late["session_id"], late["school_name"], late["session_number"]) == (
        s2.session_id,
        "Collège Colette",
        2,
    )
    only_overdue = await svc.http.get("/academie/schools", params={"overdue": "true", "q": uai}, headers=AUTH)
    assert [s["uai"] for s in only_overdue.json()["schools"]] == [uai]

    cert = certification_ids(4)
    ids = await publish(
        finalised(s2, at(23)),
        results(s1, *(Outcome(p, c) for p, c in zip(pupils[:2], cert[:2], strict=True)), processed_at=at(30)),
        results(s2, *(Outcome(p, c) for p, c in zip(pupils[2:], cert[2:], strict=True)), processed_at=at(31)),
        class_exported(uai, "3A", 4, at(31.5)),
        livret_produced(uai, at(31.5), certifications=4),
    )
    await handled(svc, *ids)
    school = await card(svc, uai)
    assert school["step"] == "done" and school["overdue_finalisations"] == 0
    assert [
        s
        for s in (await svc.http.get("/academie/overdue", headers=AUTH)).json()["sessions"]
        if s["uai"] == uai
    ] == []
    assert steps_of(school) == {
        "planned": (True, 2),
        "convoked": (True, 2),
        "held": (True, 2),
        "finalised": (True, 2),
        "results": (True, 2),
        "livret": (True, 1),
    }
    assert [s["reached_at"] for s in school["steps"]] == [
        at(0).isoformat().replace("+00:00", "Z"),
        at(6).isoformat().replace("+00:00", "Z"),
        at(20.1).isoformat().replace("+00:00", "Z"),
        at(23).isoformat().replace("+00:00", "Z"),
        at(31).isoformat().replace("+00:00", "Z"),
        at(31.5).isoformat().replace("+00:00", "Z"),
    ]
    assert (school["results"], school["classes_exported"]) == (4, 1)

    # -- the CSV: exact header, the school's line
    reply = await svc.http.get("/academie/schools.csv", params={"q": uai}, headers=AUTH)
    assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/csv")
    lines = reply.content.decode("utf-8").split("\r\n")
    assert lines[0] == CSV_HEADER
    assert lines[1] == (
        f"{uai};Collège Colette;collège;terminé;2;4;2;2;2;2;4;"
        "2026-03-02;2026-03-08;2026-03-22;2026-03-25;2026-04-02;2026-04-02;0;4;3;0,7500"
    )
    assert lines[2:] == [""]

    # -- the summary over this school
    summary = (await svc.http.get("/academie/summary", params={"q": uai}, headers=AUTH)).json()
    assert (summary["schools"], summary["done"], summary["certifiability_rate"]) == (1, 1, 0.75)
    assert [(s["step"], s["reached"], s["current"]) for s in summary["steps"]][:2] == [
        ("planned", 1, 0),
        ("convoked", 1, 0),
    ]

    # -- a duplicate changes nothing: the same results raised again (new event ids), an earlier
    # start and finalisation re-sent, an enrolment again
    before = (await card(svc, uai), reply.content)
    ids = await publish(
        results(s1, *(Outcome(p, c) for p, c in zip(pupils[:2], cert[:2], strict=True)), processed_at=at(30)),
        started(s2, at(20.1)),
        finalised(s2, at(23)),
        enrolled(s1, *pupils[:2]),
        convoked(s2, at(6)),
        livret_produced(uai, at(31.5), certifications=4),
    )
    await handled(svc, *ids)
    again = await svc.http.get("/academie/schools.csv", params={"q": uai}, headers=AUTH)
    assert (await card(svc, uai), again.content) == before

    # -- a replay (REBUILD_READ_MODELS) rebuilds the same view from the topics
    await svc.stop()
    replayed = await start_service(
        definition, schema=svc.schema, rebuild_read_models=True, api_token=GATEWAY_TOKEN
    )

    async def rebuilt() -> bool:
        reply = await replayed.http.get("/academie/schools.csv", params={"q": uai}, headers=AUTH)
        return reply.content == before[1]

    await wait_for(rebuilt, seconds=180, what="the replayed view")
    assert await card(replayed, uai) == before[0]


async def test_refusals_name_the_field_and_only_operators_read_the_view(start_service):
    svc = await start_service(definition, api_token=GATEWAY_TOKEN, **oidc_settings())
    assert (await svc.http.get("/academie/schools")).status_code == 401
    staff = {"Authorization": f"Bearer {staff_token('0750001U')}"}
    for path in ("/academie/schools", "/academie/schools.csv", "/academie/overdue", "/academie/summary"):
        reply = await svc.http.get(path, headers=staff)
        assert reply.status_code == 404 and reply.json()["error"]["code"] == "auth.not_found", path
    operator = {"Authorization": f"Bearer {operator_token()}"}
    assert (await svc.http.get("/academie/summary", headers=operator)).status_code == 200
    refused = await svc.http.get("/academie/schools", params={"step": "started"}, headers=AUTH)
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "filter.invalid"
    assert refused.json()["error"]["details"]["field"] == "step"
    page = await svc.http.get("/academie/schools", params={"limit": 0}, headers=AUTH)
    assert page.status_code == 400 and page.json()["error"]["details"]["field"] == "limit"
