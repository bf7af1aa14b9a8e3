"""Every route of every service, as its OpenAPI document lists it, against the decision made for it.

Each service is the app create_app builds (real PostgreSQL, real Kafka) pointed at the real local
Keycloak. ``DECISIONS`` says, per (method, path), who may call the route; a route the document lists
and the table does not (a route added later without a decision) fails the test, as does a table
entry the document no longer lists. For a school route it proves: no token → 401; an expired token,
one of another audience, issuer or key → 401; another school's staff and referent → 404; each role
the route does not serve → 404; each role it serves, for the right school → the route's normal
answer (not 401, not the authorisation's 404: a 422 for the empty body, a 409 for the state…).
The invigilator routes take their own session token (another session's → 403), the livret API its
own clients (another school's → 403, as Pix answers), and the operations routes no token at all.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import pytest

from services.academie.app import definition as academie
from services.eligibility.app import definition as eligibility
from services.export.app import definition as export
from services.export.domain.auth import LIVRET_SCOPE
from services.finalisation.app import definition as finalisation
from services.scheduler.app import definition as scheduler
from shared.clock import ManualClock
from shared.http import ROLES_EXTENSION
from tests.component.finalisation.conftest import Finalisation
from tests.component.finalisation.finalisation_support import PASSWORD, Invigilator, session_events
from tests.component.scheduler.builders import IN_WINDOW, NOW, school_body, session_body
from tests.integration.authz.support import (
    Callers,
    bad_tokens,
    bearer,
    error_code,
    signed,
    trust_the_test_key,
)
from tests.keycloak import SCHOOL_A, SCHOOL_B, oidc_settings

pytestmark = pytest.mark.integration

GATEWAY_TOKEN = "authz-gateway-token-0123456789"


@dataclass(frozen=True)
class School:
    """A school route: these roles pass, for the school the route names (operator, pix: every school)."""

    roles: frozenset[str]


@dataclass(frozen=True)
class InvigilatorSpace:
    """The invigilator's own session token (POST /invigilator/login), for its session only."""


@dataclass(frozen=True)
class LivretClient:
    """The livret API's own OAuth clients (EXPORT_API_CLIENTS), for the UAIs each may read."""


@dataclass(frozen=True)
class SignIn:
    """Where a token is obtained: open, wrong credentials answer 401."""


@dataclass(frozen=True)
class Operations:
    """Liveness, readiness and metrics: open (the orchestrator's probes, Prometheus's scrape)."""


Decision = School | InvigilatorSpace | LivretClient | SignIn | Operations

EVERY_SCHOOL_ROLE = School(frozenset({"staff", "referent", "operator"}))
SCHOOL_PEOPLE = School(frozenset({"staff", "referent"}))
REFERENT = School(frozenset({"referent"}))
RESULTS = School(frozenset({"referent", "pix"}))
#: the académie view (every school at once): operators only
OPERATOR = School(frozenset({"operator"}))
OPS = {("GET", "/health"): Operations(), ("GET", "/ready"): Operations(), ("GET", "/metrics"): Operations()}

DECISIONS: dict[str, dict[tuple[str, str], Decision]] = {
    "scheduler": {
        **OPS,
        ("PUT", "/schools/{uai}"): EVERY_SCHOOL_ROLE,
        ("GET", "/schools/{uai}"): EVERY_SCHOOL_ROLE,
        ("GET", "/schools/{uai}/checklist"): EVERY_SCHOOL_ROLE,
        ("POST", "/schools/{uai}/plans"): EVERY_SCHOOL_ROLE,
        ("GET", "/plans/{plan_id}"): EVERY_SCHOOL_ROLE,
        ("POST", "/plans/{plan_id}/confirm"): EVERY_SCHOOL_ROLE,
        ("GET", "/plans/{plan_id}/pix-certif-sessions.csv"): EVERY_SCHOOL_ROLE,
        ("POST", "/schools/{uai}/pix-certif-sessions"): EVERY_SCHOOL_ROLE,
        ("PUT", "/sessions/{session_id}/pix-certif"): EVERY_SCHOOL_ROLE,
        ("POST", "/schools/{uai}/sessions"): EVERY_SCHOOL_ROLE,
        ("GET", "/schools/{uai}/sessions"): EVERY_SCHOOL_ROLE,
        ("GET", "/sessions/{session_id}"): EVERY_SCHOOL_ROLE,
        ("PATCH", "/sessions/{session_id}"): EVERY_SCHOOL_ROLE,
        ("POST", "/sessions/{session_id}/enrolments"): EVERY_SCHOOL_ROLE,
        ("DELETE", "/sessions/{session_id}/candidates/{candidate_id}"): EVERY_SCHOOL_ROLE,
        ("PATCH", "/sessions/{session_id}/candidates/{candidate_id}"): EVERY_SCHOOL_ROLE,
        ("POST", "/sessions/{session_id}/convocations"): EVERY_SCHOOL_ROLE,
        ("GET", "/sessions/{session_id}/documents/{kind}.pdf"): SCHOOL_PEOPLE,
        ("GET", "/sessions/{session_id}/candidates/{candidate_id}/convocation.pdf"): SCHOOL_PEOPLE,
        ("GET", "/sessions/{session_id}/bundle.zip"): SCHOOL_PEOPLE,
        ("GET", "/schools/{uai}/days/{day}/bundle.zip"): SCHOOL_PEOPLE,
        # last: the allowed calls cancel the session (the routes after it would answer 409 anyway)
        ("DELETE", "/sessions/{session_id}"): EVERY_SCHOOL_ROLE,
    },
    "eligibility": {
        **OPS,
        ("POST", "/schools/{uai}/rosters"): SCHOOL_PEOPLE,
        ("POST", "/schools/{uai}/campaign-exports"): SCHOOL_PEOPLE,
        ("POST", "/schools/{uai}/orga-certificability"): SCHOOL_PEOPLE,
        ("GET", "/schools/{uai}/classes/{division}/certifiability"): SCHOOL_PEOPLE,
        ("GET", "/schools/{uai}/learners"): SCHOOL_PEOPLE,
        ("GET", "/schools/{uai}/remediations"): SCHOOL_PEOPLE,
        ("GET", "/schools/{uai}/certifiability"): EVERY_SCHOOL_ROLE,
        # erasing a learner in every service: the académie's operators only (README, *Erasing a learner*)
        ("POST", "/schools/{uai}/erasures"): OPERATOR,
    },
    "finalisation": {
        **OPS,
        ("POST", "/invigilator/login"): SignIn(),
        ("GET", "/invigilator/sessions/{session_id}"): InvigilatorSpace(),
        **{
            (method, f"/invigilator/sessions/{{session_id}}/candidates/{{candidate_id}}/{action}"): (
                InvigilatorSpace()
            )
            for method, action in (
                ("POST", "presence"),
                ("DELETE", "presence"),
                ("POST", "start"),
                ("POST", "resume"),
                ("POST", "end"),
                ("POST", "complete"),
            )
        },
        ("POST", "/invigilator/sessions/{session_id}/incidents"): InvigilatorSpace(),
        ("PUT", "/sessions/{session_id}/finalisation"): REFERENT,
        ("POST", "/sessions/{session_id}/results"): RESULTS,
        ("POST", "/results"): RESULTS,
        ("GET", "/sessions/{session_id}/room"): SCHOOL_PEOPLE,
        ("GET", "/sessions/{session_id}/finalisation"): SCHOOL_PEOPLE,
        ("POST", "/sessions/{session_id}/finalisation/amendment"): REFERENT,
        ("GET", "/sessions/{session_id}/results/unmatched"): SCHOOL_PEOPLE,
        ("POST", "/sessions/{session_id}/results/assignments"): REFERENT,
        ("GET", "/schools/{uai}/results/unmatched"): SCHOOL_PEOPLE,
    },
    "export": {
        **OPS,
        ("POST", "/api/application/token"): SignIn(),
        ("GET", "/api/organizations/{uai}/certifications"): LivretClient(),
        ("GET", "/schools/{uai}/classes/{division}/readiness"): EVERY_SCHOOL_ROLE,
        ("GET", "/schools/{uai}/exports"): EVERY_SCHOOL_ROLE,
        ("POST", "/schools/{uai}/exports"): EVERY_SCHOOL_ROLE,
        ("GET", "/schools/{uai}/livret.json"): SCHOOL_PEOPLE,
        ("GET", "/schools/{uai}/classes/{division}/results.csv"): SCHOOL_PEOPLE,
        ("GET", "/schools/{uai}/classes/{division}/attestations.pdf"): SCHOOL_PEOPLE,
    },
    "academie": {
        **OPS,
        ("GET", "/academie/schools"): OPERATOR,
        ("GET", "/academie/schools.csv"): OPERATOR,
        ("GET", "/academie/overdue"): OPERATOR,
        ("GET", "/academie/summary"): OPERATOR,
    },
}

#: the query a route is called with (the school a referent's results file is for)
QUERIES = {("POST", "/results"): "?uai={uai}"}
LIVRET_SECRET = "authz-livret-secret"


# ---- the services, each with a resource of school A behind every id its routes name -------------


async def _start(start_service, definition, **settings: Any):
    svc = await start_service(definition, **oidc_settings(), api_token=GATEWAY_TOKEN, **settings)
    trust_the_test_key(svc.app)
    return svc


async def _scheduler(start_service, _tmp_path) -> tuple[Any, dict[str, str], dict[str, str]]:
    svc = await _start(start_service, scheduler)
    svc.runtime.clock = ManualClock(NOW)
    gateway = bearer(GATEWAY_TOKEN)
    put = await svc.http.put(f"/schools/{SCHOOL_A}", json=school_body(), headers=gateway)
    assert put.status_code in (200, 201), put.text
    created = await svc.http.post(f"/schools/{SCHOOL_A}/sessions", json=session_body(), headers=gateway)
    assert created.status_code == 201, created.text
    plan = await svc.http.post(f"/schools/{SCHOOL_A}/plans", headers=gateway)
    assert plan.status_code == 201, plan.text
    params = {
        "uai": SCHOOL_A,
        "session_id": created.json()["session_id"],
        "plan_id": plan.json()["plan_id"],
        "candidate_id": str(uuid.uuid4()),
        "kind": "convocations",
        "day": IN_WINDOW.isoformat(),
    }
    return svc, params, {}


async def _eligibility(start_service, _tmp_path):
    svc = await _start(start_service, eligibility)
    return svc, {"uai": SCHOOL_A, "division": "3A"}, {}


async def _finalisation(start_service, _tmp_path):
    service = Finalisation(await _start(start_service, finalisation))
    mine = await service.seed(session_events(uai=SCHOOL_A))
    other = await service.seed(session_events(uai=SCHOOL_B))
    invigilator = Invigilator(service.http, mine)
    assert (await invigilator.log_in()).status_code == 200
    params = {"uai": SCHOOL_A, "session_id": mine.session_id, "candidate_id": mine.candidate(0).candidate_id}
    space = {
        "token": invigilator.token,
        "other_session_id": other.session_id,
        "session_number": str(mine.session_number),
    }
    return service.svc, params, space


async def _export(start_service, tmp_path):
    clients = [
        {"client_id": "lsu-a", "secret": LIVRET_SECRET, "uais": [SCHOOL_A]},
        {"client_id": "lsu-b", "secret": LIVRET_SECRET, "uais": [SCHOOL_B]},
    ]
    svc = await _start(
        start_service,
        replace(export, jobs=[]),
        export_output_dir=tmp_path,
        export_token_secret="authz-livret-signing-key-of-32-bytes-or-more",
        export_api_clients=clients,
    )
    svc.runtime.clock = ManualClock(datetime(2025, 4, 2, 9, 0, tzinfo=UTC))
    livret = {}
    for client in ("lsu-a", "lsu-b"):
        granted = await svc.http.post(
            "/api/application/token",
            content=f"grant_type=client_credentials&client_id={client}&client_secret={LIVRET_SECRET}"
            f"&scope={LIVRET_SCOPE}",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert granted.status_code == 200, granted.text
        livret[client] = granted.json()["access_token"]
    return svc, {"uai": SCHOOL_A, "division": "3A"}, livret


async def _academie(start_service, _tmp_path):
    return await _start(start_service, academie), {}, {}


SERVICES = {
    "academie": _academie,
    "scheduler": _scheduler,
    "eligibility": _eligibility,
    "finalisation": _finalisation,
    "export": _export,
}


# ---- the checks, one per kind of decision ----------------------------------------------------------


def _refused(response: Any, status: int, code: str | None, what: str) -> None:
    assert response.status_code == status and error_code(response) == code, (
        f"{what}: expected {status} {code}, got {response.status_code} {response.text[:300]}"
    )


def _served(response: Any, what: str) -> None:
    """The route's own answer: neither authentication's 401 nor authorisation's 404 (nor a 5xx)."""
    assert response.status_code != 401 and error_code(response) != "auth.not_found", (
        f"{what}: refused {response.status_code} {response.text[:300]}"
    )
    assert response.status_code < 500, f"{what}: {response.status_code} {response.text[:300]}"


async def _check_school_route(
    http, method: str, url: str, decision: School, callers: Callers, foreign: dict[str, str]
) -> None:
    async def call(token: str | None) -> Any:
        return await http.request(method, url, headers=bearer(token) if token else {})

    _refused(await call(None), 401, "auth.missing_token", f"{method} {url} without a token")
    for why, token in {**bad_tokens(), **foreign}.items():
        _refused(await call(token), 401, "auth.invalid_token", f"{method} {url} with a token of {why}")
    for who, token in (("school B's staff", callers.staff_b), ("school B's referent", callers.referent_b)):
        _refused(await call(token), 404, "auth.not_found", f"{method} {url} as {who}")
    for role, token in callers.of_school_a().items():
        if role not in decision.roles:
            _refused(await call(token), 404, "auth.not_found", f"{method} {url} as {role} (not served)")
    # the test's own key, right school and roles: the 401s above are the claims', not the key's
    _served(await call(signed(realm_access={"roles": sorted(decision.roles)})), f"{method} {url} test-signed")
    for role, token in callers.of_school_a().items():
        if role in decision.roles:
            _served(await call(token), f"{method} {url} as {role} of school A")


async def _check_invigilator_route(
    http, method: str, path: str, params: dict[str, str], space: dict[str, str], callers: Callers
) -> None:
    url = path.format(**params)
    if path == "/invigilator/login":
        wrong = {"session_number": int(space["session_number"]), "password": "C-WRONG!!"}
        _refused(await http.post(url, json=wrong), 401, "auth.bad_password", "login, wrong password")
        right = {"session_number": int(space["session_number"]), "password": "C-" + PASSWORD}
        _served(await http.post(url, json=right), "login, right password")
        return
    mine = bearer(space["token"])
    _refused(await http.request(method, url), 401, "auth.missing_token", f"{method} {url} without a token")
    _refused(
        await http.request(method, url, headers=bearer(callers.staff_a)),
        401,
        "auth.invalid_token",
        f"{method} {url} with a provider token (not the invigilator's)",
    )
    elsewhere = path.format(**{**params, "session_id": space["other_session_id"]})
    _refused(
        await http.request(method, elsewhere, headers=mine),
        403,
        "auth.wrong_session",
        f"{method} {elsewhere} with session {params['session_id']}'s token",
    )
    _served(await http.request(method, url, headers=mine), f"{method} {url} with its session's token")


async def _check_export_api(
    http, method: str, path: str, params: dict[str, str], livret: dict[str, str], callers: Callers
) -> None:
    if path == "/api/application/token":
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        wrong = f"grant_type=client_credentials&client_id=lsu-a&client_secret=nope&scope={LIVRET_SCOPE}"
        _refused(
            await http.post(path, content=wrong, headers=form), 401, "auth.invalid_client", "wrong secret"
        )
        return
    url = path.format(**params)
    _refused(await http.get(url), 401, "auth.invalid_token", f"{url} without a token")
    _refused(
        await http.get(url, headers=bearer(callers.staff_a)), 401, "auth.invalid_token", "provider token"
    )
    _refused(await http.get(url, headers=bearer(livret["lsu-b"])), 403, "auth.uai_not_allowed", "B's client")
    answer = await http.get(url, headers=bearer(livret["lsu-a"]))
    assert answer.status_code not in (401, 403) and answer.status_code < 500, answer.text


def _foreign_tokens(extra: dict[str, str]) -> dict[str, str]:
    """The service's other tokens (invigilator, livret client): valid there, 401 on a school route."""
    named = {"token": "an invigilator's session", "lsu-a": "the livret client of school A"}
    return {why: extra[key] for key, why in named.items() if key in extra}


@pytest.mark.parametrize("service", sorted(SERVICES))
async def test_every_route_serves_whom_its_decision_names_and_refuses_everyone_else(
    service: str, start_service, tmp_path
) -> None:
    svc, params, extra = await SERVICES[service](start_service, tmp_path)
    callers = Callers.sign_in()
    document = (await svc.http.get("/openapi.json")).json()
    listed = {(m.upper(), path): op for path, ops in document["paths"].items() for m, op in ops.items()}
    decided = DECISIONS[service]
    assert not listed.keys() - decided.keys(), f"routes without a decision: {sorted(listed.keys() - decided)}"
    assert not decided.keys() - listed.keys(), f"decisions for no route: {sorted(decided.keys() - listed)}"

    for (method, path), decision in decided.items():
        operation = listed[(method, path)]
        if isinstance(decision, School):
            assert operation.get(ROLES_EXTENSION) == sorted(decision.roles), (method, path)
            url = (path + QUERIES.get((method, path), "")).format(**params)
            await _check_school_route(svc.http, method, url, decision, callers, _foreign_tokens(extra))
        else:
            assert ROLES_EXTENSION not in operation and "security" not in operation, (method, path)
            if isinstance(decision, Operations):
                assert (await svc.http.request(method, path)).status_code == 200, path
            elif isinstance(decision, LivretClient) or path == "/api/application/token":
                await _check_export_api(svc.http, method, path, params, extra, callers)
            else:
                await _check_invigilator_route(svc.http, method, path, params, extra, callers)


async def test_a_results_file_without_a_session_is_a_referents_for_the_school_they_name_only(
    start_service, tmp_path
) -> None:
    """``POST /results`` names no session: the referent says which school (``?uai=``), Pix need not."""
    svc, _, _ = await _finalisation(start_service, tmp_path)
    callers = Callers.sign_in()
    referent = bearer(callers.referent_a)
    for url in ("/results", f"/results?uai={SCHOOL_B}", f"/results?session_id={uuid.uuid4()}"):
        _refused(await svc.http.post(url, headers=referent), 404, "auth.not_found", f"referent A, {url}")
    _served(await svc.http.post(f"/results?uai={SCHOOL_A.lower()}", headers=referent), "referent A, own UAI")
    _served(await svc.http.post("/results", headers=bearer(callers.pix)), "Pix, no UAI")
