"""What the console's tests share: the real scheduler, export and eligibility apps seeded for two
schools of the local realm, the console app mounted on them, and a sign-in through the real Keycloak
login form.

The services run in-process (tests/support.py's ``start_service``: their own scratch schemas, real
PostgreSQL and Kafka) with OIDC on the local Keycloak, and are seeded through their own API with the
schools' staff tokens (the scheduler) or their own handlers (export's read model), as their component
tests do. The console calls them with the signed-in person's token, so the services' own checks
decide what each page may show.
"""

from __future__ import annotations

import html
import re
import urllib.parse
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path

import httpx

from deploy.local.generator import (
    LEVELS,
    Participation,
    campaign_csv_bytes,
    generate_learners,
    learner_csv_bytes,
)
from deploy.local.localinfra.keycloak_admin import ensure_client
from deploy.local.localinfra.realm import console_client, staff_user, user_password
from services.console.app import create_app
from services.console.settings import ConsoleSettings
from services.eligibility.app import definition as eligibility_definition
from services.eligibility.app import remediation_tick
from services.eligibility.handlers import on_candidates_enrolled, on_session_created
from services.export.app import definition as export_definition
from services.export.handlers import ExportHandlers
from services.scheduler.app import definition as scheduler_definition
from shared.clock import ManualClock
from shared.consumer import Delivery
from tests.component.scheduler.builders import NOW, add_class, school_body, session_body
from tests.events import Outcome, certification_ids, enrolled, enrolled_from_roster, learner, results
from tests.events import session as session_event
from tests.keycloak import SCHOOL_A, SCHOOL_B, issuer, oidc_settings, staff_token
from tests.support import wait_for

#: the class whose results the export service holds for school A
RESULTS_CLASS = "TG1"
#: a class of school A the scheduler holds but no session yet: what the planning page plans
PLANNED_CLASS = "TG2"
PLANNED_CLASS_SIZE = 20
#: eligibility's clock, the session its one-month check finds due, and that check's day (30 days before)
ELIGIBILITY_NOW = datetime(2026, 1, 5, 9, tzinfo=UTC)
REMEDIATION_SESSION_DATE = date(2026, 3, 10)
REMEDIATION_CHECK_AT = datetime(2026, 2, 8, 7, tzinfo=UTC)
#: per competence (framework order): 5 positioned (certifiable), then only 2 (3 to go)
FIVE_COMPETENCES = (8, 16, 9, 40, 8, 8, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0)
TWO_COMPETENCES = (8, 16, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
SCHOOL_NAMES = {SCHOOL_A: "Lycée Gay-Lussac", SCHOOL_B: "Lycée Montaigne"}
KEYCLOAK_BASE = issuer().split("/realms/")[0]


@dataclass
class Seeded:
    scheduler: object
    export: object
    #: school → the id of the session created for it
    sessions: dict[str, str]
    eligibility: object = None
    #: school A's roster in eligibility (deploy/local/generator.py learners): certifiable, two
    #: competences short of it, never shared
    learners: list = field(default_factory=list)


def bearer(uai: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {staff_token(uai)}"}


async def _seed_scheduler(svc, uai: str) -> str:
    """A lycée with its rooms and staff, a class of three, one session with them enrolled and convoked."""
    put = await svc.http.put(f"/schools/{uai}", json=school_body(name=SCHOOL_NAMES[uai]), headers=bearer(uai))
    assert put.status_code in (200, 201), put.text
    await add_class(svc, uai, RESULTS_CLASS, 3)
    await add_class(svc, uai, PLANNED_CLASS, PLANNED_CLASS_SIZE)
    created = await svc.http.post(
        f"/schools/{uai}/sessions",
        json=session_body(invigilators=["Mme Dupré", "M. Martin"]),
        headers=bearer(uai),
    )
    assert created.status_code == 201, created.text
    session_id = created.json()["session_id"]
    enrolled_ = await svc.http.post(
        f"/sessions/{session_id}/enrolments", json={"division": RESULTS_CLASS}, headers=bearer(uai)
    )
    assert enrolled_.status_code in (200, 201), enrolled_.text
    convoked = await svc.http.post(f"/sessions/{session_id}/convocations", headers=bearer(uai))
    assert convoked.status_code in (200, 201), convoked.text
    return session_id


async def _seed_export(svc, uai: str) -> None:
    """Results of two of the three learners of RESULTS_CLASS, applied by export's own handlers, then
    the files built."""
    anna = learner(uai, "anna", RESULTS_CLASS, last_name="Abel", first_name="Anna")
    bob = learner(uai, "bob", RESULTS_CLASS, last_name="Bernard", first_name="Bob")
    carl = learner(uai, "carl", RESULTS_CLASS, last_name="Chevalier", first_name="Carl")  # no result yet
    held = session_event(uai, school_level="lycee")
    first, second = certification_ids(2)
    by_type = ExportHandlers(svc.runtime).every_event()
    for event in (
        anna,
        bob,
        carl,
        held,
        enrolled(held, anna, bob),
        results(held, Outcome(anna, first, pix_score=412), Outcome(bob, second, status="rejected")),
    ):
        async with svc.runtime.unit_of_work() as uow:
            await by_type[type(event)](uow, [Delivery(event, None)])
    built = await svc.http.post(f"/schools/{uai}/exports", headers=bearer(uai))
    assert built.status_code == 200, built.text


async def _seed_eligibility(svc, uai: str) -> list:
    """A roster of three 3e learners sent through eligibility's API, a campaign export (one
    certifiable, one two competences short, one never shared), then a session in a month enrolling
    them and the one-month check run: the two not certifiable are on the remediation list."""
    learners = generate_learners(14, 3, levels=(LEVELS[3],))
    roster = await svc.http.post(
        f"/schools/{uai}/rosters",
        files={"file": ("eleves.csv", learner_csv_bytes(learners))},
        headers=bearer(uai),
    )
    assert roster.status_code == 200, roster.text
    first, second, _never_shared = learners
    shared_at = date(2025, 11, 5)
    rows = [
        Participation(
            first.last_name, first.first_name, first.division, first.ine, True, shared_at, FIVE_COMPETENCES
        ),
        Participation(
            second.last_name, second.first_name, second.division, second.ine, True, shared_at, TWO_COMPETENCES
        ),
    ]
    campaign = await svc.http.post(
        f"/schools/{uai}/campaign-exports",
        files={"file": ("export.csv", campaign_csv_bytes(rows))},
        headers=bearer(uai),
    )
    assert campaign.status_code == 200, campaign.text
    listed = (await svc.http.get(f"/schools/{uai}/learners", headers=bearer(uai))).json()["learners"]
    ids = {x["ine"]: x["learner_id"] for x in listed}
    created = session_event(
        uai, 4321, session_id=str(uuid.uuid4()), date=REMEDIATION_SESSION_DATE, created_at=ELIGIBILITY_NOW
    )
    async with svc.runtime.unit_of_work() as uow:
        await on_session_created(uow, created, None)
    async with svc.runtime.unit_of_work() as uow:
        await on_candidates_enrolled(uow, enrolled_from_roster(created, learners, ids, ELIGIBILITY_NOW), None)
    svc.runtime.clock = ManualClock(REMEDIATION_CHECK_AT)
    [raised] = [e for e in await remediation_tick(svc.runtime) if e.session_id == created.session_id]
    assert len(raised.learners) == 2

    async def listed() -> bool:
        # the list is the service's read model of its own RemediationRequested, back from the topic
        found = await svc.http.get(f"/schools/{uai}/remediations", headers=bearer(uai))
        return {x["learner_id"] for x in found.json()["students"]} >= {m.learner_id for m in raised.learners}

    await wait_for(listed, what="the remediation list to hold the one-month check's learners")
    return learners


async def seed(start_service, tmp_path: Path) -> Seeded:
    """The real scheduler, export and eligibility apps on the local provider, each school with its
    data (eligibility: school A only)."""
    scheduler = await start_service(scheduler_definition, **oidc_settings())
    scheduler.runtime.clock = ManualClock(NOW)
    export = await start_service(
        replace(export_definition, jobs=[]), export_output_dir=tmp_path / "exports", **oidc_settings()
    )
    export.runtime.clock = ManualClock(datetime(2026, 4, 2, 9, 0, tzinfo=UTC))
    sessions = {uai: await _seed_scheduler(scheduler, uai) for uai in (SCHOOL_A, SCHOOL_B)}
    for uai in (SCHOOL_A, SCHOOL_B):
        await _seed_export(export, uai)
    eligibility = await start_service(eligibility_definition, **oidc_settings())
    eligibility.runtime.clock = ManualClock(ELIGIBILITY_NOW)
    learners = await _seed_eligibility(eligibility, SCHOOL_A)
    return Seeded(scheduler, export, sessions, eligibility, learners)


def console_settings(public_url: str, **overrides) -> ConsoleSettings:
    """The console on the local provider; its client is added to the running realm if missing."""
    ensure_client(KEYCLOAK_BASE, console_client())
    return ConsoleSettings(
        oidc_issuer=issuer(), console_public_url=public_url, log_format="console", **overrides
    )


def console_app(seeded: Seeded, public_url: str, **overrides):
    """The console mounted on the seeded services (in-process transports, the services' real apps)."""
    return create_app(
        console_settings(public_url, **overrides),
        transports={
            "scheduler": httpx.ASGITransport(app=seeded.scheduler.app),
            "export": httpx.ASGITransport(app=seeded.export.app),
            "eligibility": httpx.ASGITransport(app=seeded.eligibility.app),
        },
    )


async def sign_in(console: httpx.AsyncClient, username: str, password: str | None = None) -> httpx.Response:
    """The authorisation code flow as a browser without JavaScript does it: the console's redirect,
    Keycloak's login form (fetched, filled, posted), the redirect back to the console's callback."""
    start = await console.get("/connexion")
    assert start.status_code in (302, 303, 307), start.text
    async with httpx.AsyncClient(timeout=30) as browser:
        form = await browser.get(start.headers["location"])
        assert form.status_code == 200, form.text[:500]
        action = html.unescape(re.search(r'<form[^>]+id="kc-form-login"[^>]+action="([^"]+)"', form.text)[1])
        # Keycloak marks its cookies Secure; browsers send them to http://127.0.0.1 (a trustworthy
        # origin), httpx does not: hand them over as a browser would
        cookies = "; ".join(f"{c.name}={c.value}" for c in browser.cookies.jar)
        posted = await browser.post(
            action,
            data={"username": username, "password": password or user_password(username)},
            headers={"Cookie": cookies},
        )
    assert posted.status_code == 302, posted.text[:500]
    back = urllib.parse.urlsplit(posted.headers["location"])
    assert back.path == "/auth/callback", posted.headers["location"]
    return await console.get(f"/auth/callback?{back.query}")


def staff(uai: str) -> str:
    return staff_user(uai)


#: where the in-process console believes it is served (its sign-in redirect is built from it)
IN_PROCESS_URL = "http://127.0.0.1:8006"


@asynccontextmanager
async def in_process(app) -> AsyncIterator[httpx.AsyncClient]:
    """The console app with its lifespan entered, behind an in-process HTTP client."""
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=IN_PROCESS_URL) as http,
    ):
        yield http
