"""Export HTTP API against real Postgres: the livret API's auth cases, the files and readiness.

The read model is fed by calling the service's own handlers in its own transactions (what the
consumers do for each event); the flow over Kafka is in tests/integration/export.
"""

from __future__ import annotations

import asyncio
import io
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from pypdf import PdfReader

from services.export.app import definition, stale_schools_tick
from services.export.domain.auth import LIVRET_SCOPE, hash_secret
from services.export.handlers import ExportHandlers
from shared.clock import ManualClock
from shared.consumer import Delivery
from shared.contracts.events import LearnerDeactivated
from tests.events import (
    Outcome,
    certification_ids,
    enrolled,
    learner,
    new_uai,
    results,
    session,
)

pytestmark = pytest.mark.integration

TOKEN_SECRET = "a-test-signing-key-of-at-least-32-bytes!!"
SECRET = "s3cret-livret"


@pytest.fixture
def schools() -> tuple[str, str]:
    return new_uai(), new_uai()


async def start_export(start_service, tmp_path, schools, **overrides):
    allowed, _ = schools
    service = await start_service(
        replace(definition, jobs=[]),  # the tests run the stale-school job themselves
        export_output_dir=tmp_path,
        export_token_secret=TOKEN_SECRET,
        export_api_clients=[
            {"client_id": "lsu", "secret_hash": hash_secret(SECRET, iterations=1000), "uais": [allowed]},
            {"client_id": "other-scope", "secret": SECRET, "uais": [allowed], "scopes": ["parcoursup"]},
            {"client_id": "lsu-clear", "secret": SECRET, "uais": [allowed], "scopes": [LIVRET_SCOPE]},
        ],
        **overrides,
    )
    service.runtime.clock = ManualClock(datetime(2025, 4, 2, 9, 0, tzinfo=UTC))
    return service


@pytest.fixture
async def svc(start_service, tmp_path, schools):
    return await start_export(start_service, tmp_path, schools)


async def deliver(svc, *events) -> None:
    """Apply events the way the consumers do a record retried alone: each in its own transaction
    of the service, its batch handler given a list of one."""
    by_type = ExportHandlers(svc.runtime).every_event()
    for event in events:
        async with svc.runtime.unit_of_work() as uow:
            await by_type[type(event)](uow, [Delivery(event, None)])


def form(**fields: str) -> dict:
    return {
        "content": "&".join(f"{k}={v}" for k, v in fields.items()),
        "headers": {"Content-Type": "application/x-www-form-urlencoded"},
    }


def credentials(**overrides: str) -> dict:
    fields = {
        "grant_type": "client_credentials",
        "client_id": "lsu",
        "client_secret": SECRET,
        "scope": LIVRET_SCOPE,
    }
    fields.update(overrides)
    return form(**fields)


async def token_for(svc) -> str:
    answer = await svc.http.post("/api/application/token", **credentials())
    assert answer.status_code == 200
    return answer.json()["access_token"]


async def school_with_results(svc, uai: str):
    anna = learner(uai, "anna", last_name="Abel", first_name="Anna")
    bob = learner(uai, "bob", last_name="Bernard", first_name="Bob")
    s1 = session(uai)
    first, second = certification_ids(2)
    await deliver(
        svc,
        anna,
        bob,
        s1,
        enrolled(s1, anna, bob),
        results(s1, Outcome(anna, first, pix_score=412), Outcome(bob, second, status="rejected")),
    )
    return anna, bob


# -- token endpoint ----------------------------------------------------------------------------


async def test_client_credentials_give_a_bearer_token_as_pix_answers(svc):
    answer = await svc.http.post("/api/application/token", **credentials())
    assert answer.status_code == 200
    body = answer.json()
    assert set(body) == {"token_type", "access_token", "client_id"}
    assert body["token_type"] == "bearer" and body["client_id"] == "lsu"
    assert body["access_token"].count(".") == 2


async def test_token_requests_that_come_together_hash_each_secret_once(svc, monkeypatch):
    """32 schools asking at once: the two clear secrets hashed once each, one PBKDF2 run to prove
    the secret, then none (a run per request was a quarter of the export service's CPU in the
    académie run); a wrong secret is still checked."""
    import hashlib

    runs: list[int] = []
    pbkdf2 = hashlib.pbkdf2_hmac

    def counted(*args, **kwargs):
        if args[1] in (SECRET.encode(), b"x"):  # not asyncpg's SCRAM sign-in to PostgreSQL
            runs.append(1)
        return pbkdf2(*args, **kwargs)

    monkeypatch.setattr(hashlib, "pbkdf2_hmac", counted)
    together = await asyncio.gather(
        *(svc.http.post("/api/application/token", **credentials(client_id="lsu-clear")) for _ in range(32))
    )
    assert [a.status_code for a in together] == [200] * 32, together[0].text
    assert len(runs) == 3
    wrong = await svc.http.post(
        "/api/application/token", **credentials(client_id="lsu-clear", client_secret="x")
    )
    assert wrong.status_code == 401 and len(runs) == 4


@pytest.mark.parametrize(
    "overrides", [{"client_secret": "wrong"}, {"client_id": "nobody"}], ids=["bad secret", "unknown client"]
)
async def test_bad_credentials_are_401_with_pix_message(svc, overrides):
    answer = await svc.http.post("/api/application/token", **credentials(**overrides))
    assert answer.status_code == 401
    body = answer.json()
    assert body["error"]["code"] == "auth.invalid_client"
    assert body["error"]["message"] == "The client ID and/or secret are invalid."
    assert body["errors"] == [
        {"status": "401", "title": "Unauthorized", "detail": "The client ID and/or secret are invalid."}
    ]


async def test_a_scope_that_is_not_allowed_is_403(svc):
    answer = await svc.http.post("/api/application/token", **credentials(scope="admin"))
    assert answer.status_code == 403
    assert answer.json()["error"]["message"] == "The scope is not allowed."
    granted_elsewhere = await svc.http.post("/api/application/token", **credentials(client_id="other-scope"))
    assert granted_elsewhere.status_code == 403


async def test_malformed_token_requests_are_4xx(svc):
    missing = await svc.http.post("/api/application/token", **form(grant_type="client_credentials"))
    assert missing.status_code == 400
    assert set(missing.json()["error"]["details"]["missing"]) == {"client_id", "client_secret", "scope"}
    grant = await svc.http.post("/api/application/token", **credentials(grant_type="password"))
    assert grant.status_code == 400
    as_json = await svc.http.post("/api/application/token", json={"client_id": "lsu"})
    assert as_json.status_code == 415


# -- livret API ----------------------------------------------------------------------------------


async def test_allowed_client_reads_the_livret_identical_to_the_file(svc, schools, tmp_path):
    uai, _ = schools
    await school_with_results(svc, uai)
    token = await token_for(svc)
    answer = await svc.http.get(
        f"/api/organizations/{uai.lower()}/certifications", headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    [livret_file] = (tmp_path / uai).glob("*_livret_LSU_*.json")
    assert livret_file.name == f"20250402_livret_LSU_{uai}.json"
    assert answer.content == livret_file.read_bytes()
    certifications = answer.json()["data"]["attributes"]["certifications"]
    assert [(c["lastName"], c["status"], c["pixScore"]) for c in certifications] == [
        ("Abel", "validated", 412),
        ("Bernard", "rejected", 0),
    ]


async def test_a_uai_the_client_may_not_read_is_403(svc, schools):
    _, forbidden = schools
    token = await token_for(svc)
    answer = await svc.http.get(
        f"/api/organizations/{forbidden}/certifications", headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "auth.uai_not_allowed"


@pytest.mark.parametrize(
    "authorization", [None, "Bearer", "Bearer not.a.token", "Basic bHN1OnMzY3JldA=="], ids=str
)
async def test_without_a_valid_bearer_token_the_livret_is_401(svc, schools, authorization):
    uai, _ = schools
    headers = {"Authorization": authorization} if authorization else {}
    answer = await svc.http.get(f"/api/organizations/{uai}/certifications", headers=headers)
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == "Bearer"
    assert answer.json()["errors"][0]["status"] == "401"


async def test_a_token_expires_after_four_hours(svc, schools):
    uai, _ = schools
    token = await token_for(svc)
    svc.runtime.clock.advance(hours=4, seconds=1)
    answer = await svc.http.get(
        f"/api/organizations/{uai}/certifications", headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status_code == 401


async def test_an_allowed_school_without_results_gets_an_empty_list_and_the_referential(svc, schools):
    uai, _ = schools
    token = await token_for(svc)
    answer = await svc.http.get(
        f"/api/organizations/{uai}/certifications", headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status_code == 200
    document = answer.json()
    assert document["data"]["attributes"]["certifications"] == []
    assert len(document["data"]["relationships"]["competences"]["data"]) == 16
    assert [i["id"] for i in document["included"] if i["type"] == "areas"] == ["1", "2", "3", "4", "5"]


# -- school routes -------------------------------------------------------------------------------


async def test_class_files_are_served_as_produced(svc, schools, tmp_path):
    uai, _ = schools
    await school_with_results(svc, uai)
    csv = await svc.http.get(f"/schools/{uai}/classes/3a/results.csv")
    assert csv.status_code == 200
    assert csv.headers["content-disposition"] == "attachment; filename*=UTF-8''20250402_resultats_3A.csv"
    assert csv.content == (tmp_path / uai / "20250402_resultats_3A.csv").read_bytes()
    assert csv.content.startswith("\ufeff".encode() + b'"Num\xc3\xa9ro de certification";')
    pdf = await svc.http.get(f"/schools/{uai}/classes/3A/attestations.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    livret = await svc.http.get(f"/schools/{uai}/livret.json")
    assert livret.status_code == 200
    assert livret.content == (tmp_path / uai / f"20250402_livret_LSU_{uai}.json").read_bytes()


async def test_the_class_csv_session_column_is_pix_certif_s_number_once_recorded(svc, schools):
    uai, _ = schools
    anna = learner(uai, "anna-pix", last_name="Abel", first_name="Anna")
    s1 = session(uai)
    [first] = certification_ids(1)
    await deliver(
        svc, anna, s1, enrolled(s1, anna), results(s1, Outcome(anna, first), pix_session_number=61234)
    )
    answer = await svc.http.get(f"/schools/{uai}/classes/3A/results.csv")
    [row] = [
        line for line in answer.content.decode("utf-8-sig").splitlines()[1:] if line.startswith(str(first))
    ]
    assert row.split(";")[-2] == "61234" != str(s1.session_number)


async def test_unknown_class_bad_uai_and_class_without_results(svc, schools):
    uai, _ = schools
    assert (await svc.http.get(f"/schools/{uai}/classes/9Z/results.csv")).json()["error"]["code"] == (
        "class.not_found"
    )
    assert (await svc.http.get("/schools/12345/classes/3A/readiness")).status_code == 400
    await deliver(svc, learner(uai, "solo", division="4B"))
    answer = await svc.http.get(f"/schools/{uai}/classes/4B/attestations.pdf")
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "export.no_results"


async def test_forced_rebuild_rewrites_nothing_and_announces_nothing_when_unchanged(svc, schools):
    uai, _ = schools
    await school_with_results(svc, uai)
    # the school's own events: the consumers also export what other tests publish on the topics
    announced = await svc.pool.fetchval("SELECT count(*) FROM outbox WHERE key = $1", uai)
    assert announced == 2  # one LivretExportProduced, one ClassResultsExported
    svc.runtime.clock.advance(days=1)
    answer = await svc.http.post(f"/schools/{uai}/exports")
    assert answer.status_code == 200
    body = answer.json()
    assert body["changed"] == 0
    assert {f["kind"] for f in body["files"]} == {"livret", "class_results", "attestations"}
    assert all(f["file_name"].startswith("20250402_") for f in body["files"])  # unchanged: same name
    assert await svc.pool.fetchval("SELECT count(*) FROM outbox WHERE key = $1", uai) == announced


# -- readiness -----------------------------------------------------------------------------------


async def test_readiness_lists_each_blocker(svc, schools):
    uai, _ = schools
    done = learner(uai, "done", last_name="Aubert")
    no_ine = learner(uai, "noine", last_name="Blanc", ine=None)
    waiting = learner(uai, "waiting", last_name="Caron")
    never = learner(uai, "never", last_name="Dumas")
    leaver = learner(uai, "leaver", last_name="Etienne")
    s1, s2 = session(uai, 1), session(uai, 2)
    first, second, third = certification_ids(3)
    await deliver(
        svc,
        done,
        no_ine,
        waiting,
        never,
        leaver,
        s1,
        s2,
        enrolled(s1, done, no_ine, leaver),
        enrolled(s2, waiting),
        results(s1, Outcome(done, first), Outcome(no_ine, second), Outcome(leaver, third)),
        LearnerDeactivated(
            learner_id=leaver.learner_id, uai=uai, division="3A", deactivated_at=datetime.now(UTC)
        ),
    )
    answer = await svc.http.get(f"/schools/{uai}/classes/3A/readiness")
    assert answer.status_code == 200
    body = answer.json()
    assert body["ready"] is False
    assert body["active_learners"] == 4
    assert [(b["last_name"], b["kind"]) for b in body["blockers"]] == [
        ("Blanc", "missing_ine"),
        ("Caron", "result_pending"),
        ("Dumas", "no_result"),
        ("Etienne", "left_school"),
    ]


async def test_a_class_where_everyone_is_certified_with_an_ine_is_ready(svc, schools):
    uai, _ = schools
    await school_with_results(svc, uai)
    body = (await svc.http.get(f"/schools/{uai}/classes/3A/readiness")).json()
    assert body == {"uai": uai, "division": "3A", "ready": True, "active_learners": 2, "blockers": []}


async def test_exports_log_lists_the_files(svc, schools):
    uai, _ = schools
    await school_with_results(svc, uai)
    files = (await svc.http.get(f"/schools/{uai}/exports")).json()["files"]
    assert [(f["kind"], f["division"], f["items"]) for f in files] == [
        ("attestations", "3A", 1),
        ("class_results", "3A", 2),
        ("livret", None, 2),
    ]
    assert all(len(f["sha256"]) == 64 for f in files)


# -- class files never lag the livret ------------------------------------------------------------


async def livret_ids(svc, uai: str) -> set[int]:
    answer = await svc.http.get(f"/schools/{uai}/livret.json")
    assert answer.status_code == 200
    return {c["id"] for c in answer.json()["data"]["attributes"]["certifications"]}


async def class_csv_ids(svc, uai: str, division: str) -> set[int]:
    answer = await svc.http.get(f"/schools/{uai}/classes/{division}/results.csv")
    if answer.status_code == 404:
        return set()
    assert answer.status_code == 200
    return {int(line.split(";")[0]) for line in answer.content.decode("utf-8-sig").split("\n")[1:]}


async def assert_class_files_cover_the_livret(svc, uai: str, *divisions: str) -> set[int]:
    in_livret = await livret_ids(svc, uai)
    in_classes = set()
    for division in divisions:
        in_classes |= await class_csv_ids(svc, uai, division)
    assert in_livret <= in_classes, f"in the livret but in no class CSV: {in_livret - in_classes}"
    return in_livret


async def test_results_read_before_the_roster_show_in_the_livret_no_sooner_than_in_the_class_csv(
    svc, schools
):
    """The end-to-end race: the results consumer ran ahead of the roster consumer. Once the
    roster arrived, the livret listed every certification while the class CSV answered 404
    export.no_results until the stale-school job ran."""
    uai, _ = schools
    anna = learner(uai, "anna", last_name="Abel")
    bob = learner(uai, "bob", last_name="Bernard")
    s1 = session(uai)
    first, second = certification_ids(2)
    await deliver(svc, s1, enrolled(s1, anna, bob), results(s1, Outcome(anna, first), Outcome(bob, second)))
    await deliver(svc, anna, bob)  # the roster arrives: the school is stale, not yet rebuilt

    assert await assert_class_files_cover_the_livret(svc, uai, "3A") == set()
    while await stale_schools_tick(svc.runtime):
        pass
    assert await assert_class_files_cover_the_livret(svc, uai, "3A") == {first, second}
    assert await class_csv_ids(svc, uai, "3A") == {first, second}


async def test_results_of_another_class_bring_every_class_csv_up_to_the_livret(svc, schools, tmp_path):
    """A late roster entry (Carl, 3A, whose results came first) enters the livret with the next
    results of the school (3B): the 3A CSV and attestations must take him in the same rebuild."""
    uai, _ = schools
    anna = learner(uai, "anna", last_name="Abel")
    carl = learner(uai, "carl", last_name="Carré")
    dan = learner(uai, "dan", last_name="Dupont", division="3B")
    s1, s2, s3 = session(uai, 1), session(uai, 2), session(uai, 3)
    first, second, third = certification_ids(3)
    await deliver(svc, anna, s1, enrolled(s1, anna), results(s1, Outcome(anna, first)))
    await deliver(svc, s2, results(s2, Outcome(carl, second)))  # Carl not on the roster yet
    await deliver(svc, carl)  # now he is: the school is stale, not yet rebuilt
    await deliver(svc, dan, s3, results(s3, Outcome(dan, third)))

    assert await assert_class_files_cover_the_livret(svc, uai, "3A", "3B") == {first, second, third}
    assert await class_csv_ids(svc, uai, "3A") == {first, second}
    pdf = await svc.http.get(f"/schools/{uai}/classes/3A/attestations.pdf")
    assert len(PdfReader(io.BytesIO(pdf.content)).pages) == 2
    # the job has nothing left to change or announce
    announced = await svc.pool.fetchval("SELECT count(*) FROM outbox WHERE key = $1", uai)
    while await stale_schools_tick(svc.runtime):
        pass
    assert await svc.pool.fetchval("SELECT count(*) FROM outbox WHERE key = $1", uai) == announced


# -- API_TOKEN -----------------------------------------------------------------------------------


async def test_school_routes_need_the_api_token_the_livret_api_keeps_its_own_credentials(
    start_service, tmp_path, schools
):
    api_token = "academie-gateway-token-0123456789"
    svc = await start_export(start_service, tmp_path, schools, api_token=api_token)
    uai, _ = schools
    _, bob = await school_with_results(svc, uai)
    # Bob leaves: the files are stale until the next rebuild (a forced one let through would write them)
    await deliver(
        svc,
        LearnerDeactivated(
            learner_id=bob.learner_id, uai=uai, division="3A", deactivated_at=datetime.now(UTC)
        ),
    )
    files = sorted((p.name, p.read_bytes()) for p in (tmp_path / uai).iterdir())
    outbox, produced = (
        await svc.pool.fetchval("SELECT count(*) FROM outbox WHERE key = $1", uai),
        await svc.pool.fetch("SELECT * FROM exports WHERE uai = $1 ORDER BY 1, 2, 3", uai),
    )
    calls = [
        ("GET", f"/schools/{uai}/classes/3A/results.csv"),  # names, INE, birth dates
        ("GET", f"/schools/{uai}/classes/3A/attestations.pdf"),
        ("GET", f"/schools/{uai}/classes/3A/readiness"),
        ("GET", f"/schools/{uai}/livret.json"),
        ("GET", f"/schools/{uai}/exports"),
        ("POST", f"/schools/{uai}/exports"),
    ]
    for headers, code in (
        ({}, "auth.missing_token"),
        ({"Authorization": "Bearer not-the-api-token-at-all"}, "auth.invalid_token"),
    ):
        for method, path in calls:
            answer = await svc.http.request(method, path, headers=headers)
            assert (answer.status_code, answer.json()["error"]["code"]) == (401, code), (method, path)
    assert sorted((p.name, p.read_bytes()) for p in (tmp_path / uai).iterdir()) == files
    assert await svc.pool.fetchval("SELECT count(*) FROM outbox WHERE key = $1", uai) == outbox
    assert await svc.pool.fetch("SELECT * FROM exports WHERE uai = $1 ORDER BY 1, 2, 3", uai) == produced

    bearer = {"Authorization": f"Bearer {api_token}"}
    csv = await svc.http.get(f"/schools/{uai}/classes/3A/results.csv", headers=bearer)
    assert csv.status_code == 200 and csv.content == dict(files)["20250402_resultats_3A.csv"]
    rebuilt = await svc.http.post(f"/schools/{uai}/exports", headers=bearer)
    assert rebuilt.status_code == 200 and rebuilt.json()["changed"]

    # the LSU/LSL feed answers its OAuth clients, not API_TOKEN holders
    feed = f"/api/organizations/{uai}/certifications"
    assert (await svc.http.get(feed, headers=bearer)).status_code == 401
    token = await token_for(svc)
    assert (await svc.http.get(feed, headers={"Authorization": f"Bearer {token}"})).status_code == 200
