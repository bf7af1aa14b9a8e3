"""The console's operator page needs the real académie service: started on the local provider
without its consumers, its read model fed by its own handlers with two schools' events (as its
consumers would apply them), so its ``/academie/*`` routes answer over exactly these schools."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta

import httpx

from services.academie.app import definition as academie_definition
from services.academie.handlers import FILES, PROGRESS, ROSTER, SESSIONS
from services.console.app import create_app
from shared.consumer import Delivery
from shared.contracts.events import SessionFinalisationOverdue
from tests.console_support import console_settings
from tests.events import certifiability, convoked, enrolled, learner, new_uai, session, started
from tests.keycloak import oidc_settings
from tests.private_infra import free_ports

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
HANDLERS = ROSTER | SESSIONS | PROGRESS | FILES


@dataclass
class Academie:
    svc: object
    #: a collège held its session and has not finalised it in time; a lycée only planned one
    college: str
    lycee: str
    college_name: str
    lycee_name: str
    overdue_session_number: int


async def seed_academie(start_service) -> Academie:
    svc = await start_service(replace(academie_definition, wire=None), **oidc_settings())
    college, lycee = new_uai(), new_uai()
    pupils = [learner(college, f"c{i}") for i in range(4)]
    held = session(college, 41, certification_center="Collège Colette", date=date(2026, 3, 10), created_at=T0)
    planned = session(lycee, 7, school_level="lycee", certification_center="Lycée Niépce", created_at=T0)
    overdue = SessionFinalisationOverdue(
        session_id=held.session_id,
        uai=college,
        session_date=date(2026, 3, 10),
        due_at=T0 + timedelta(days=10),
        detected_at=T0 + timedelta(days=11),
    )
    runs = [
        pupils,
        [certifiability(p, T0, certifiable=i < 3) for i, p in enumerate(pupils)],  # 3 of 4
        [held, planned],
        [enrolled(held, *pupils)],
        [convoked(held, T0 + timedelta(days=1))],
        [started(held, T0 + timedelta(days=8))],
        [overdue],
    ]
    async with svc.runtime.unit_of_work() as uow:
        for run in runs:
            await HANDLERS[type(run[0])](uow, [Delivery(e, None) for e in run])
    return Academie(svc, college, lycee, "Collège Colette", "Lycée Niépce", 41)


def console_app_with_academie(academie: Academie, public_url: str):
    """The console on the académie app; the other services' addresses answer nothing (closed
    ports), so the page must say they are unreachable."""
    closed = free_ports(4)
    return create_app(
        console_settings(
            public_url,
            **{
                f"{service}_url": f"http://127.0.0.1:{port}"
                for service, port in zip(
                    ("scheduler", "eligibility", "finalisation", "export"), closed, strict=True
                )
            },
        ),
        transports={"academie": httpx.ASGITransport(app=academie.svc.app)},
    )
