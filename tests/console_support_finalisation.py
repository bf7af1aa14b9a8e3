"""The console's invigilation and finalisation pages need the real finalisation service too: it is
started on the local provider and given the scheduler's own events for the seeded sessions (read
from the scheduler's outbox, applied by finalisation's handlers as its consumer would), so the
invigilator signs in with the session number and password the scheduler printed on the kit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from services.console.app import create_app
from services.finalisation.app import definition as finalisation_definition
from services.finalisation.handlers import PER_EVENT_HANDLERS
from shared.clock import ManualClock
from shared.contracts.envelope import Envelope
from shared.outbox import unit_of_work
from tests.console_support import Seeded, bearer, console_settings
from tests.keycloak import SCHOOL_A, oidc_settings
from tests.support import outbox_events

#: 08:35 in Paris on the seeded session's day (13/11/2025, 08:30): the room is open
SESSION_MORNING = datetime(2025, 11, 13, 7, 35, tzinfo=UTC)


@dataclass
class Invigilation:
    """The seeded services plus finalisation, and what the kit of school A's session says."""

    seeded: Seeded
    finalisation: object
    clock: ManualClock
    session_id: str
    session_number: int
    password: str
    #: the session's candidates as the scheduler lists them (candidate_id, names, division)
    candidates: list[dict]


async def seed_finalisation(start_service, seeded: Seeded, uai: str = SCHOOL_A) -> Invigilation:
    """The finalisation service holding the scheduler's events of ``uai``'s seeded session."""
    finalisation = await start_service(finalisation_definition, **oidc_settings())
    clock = ManualClock(SESSION_MORNING)
    finalisation.runtime.clock = clock
    session_id = seeded.sessions[uai]
    for event in await outbox_events(seeded.scheduler):
        handler = PER_EVENT_HANDLERS.get(type(event))
        if handler is None or getattr(event, "session_id", None) != session_id:
            continue
        envelope = Envelope.new(source="/certibus/scheduler", type=event.event_type, subject=event.subject())
        async with unit_of_work(finalisation.pool, "finalisation") as uow:
            await handler(uow, event, envelope)
    detail = (await seeded.scheduler.http.get(f"/sessions/{session_id}", headers=bearer(uai))).json()
    return Invigilation(
        seeded,
        finalisation,
        clock,
        session_id,
        int(detail["session_number"]),
        str(detail["invigilator_password"]),
        list(detail["candidates"]),
    )


def console_app_with_finalisation(invigilation: Invigilation, public_url: str, **overrides):
    """The console mounted on the scheduler, export and finalisation apps (in-process transports)."""
    seeded = invigilation.seeded
    return create_app(
        console_settings(public_url, **overrides),
        transports={
            "scheduler": httpx.ASGITransport(app=seeded.scheduler.app),
            "export": httpx.ASGITransport(app=seeded.export.app),
            "finalisation": httpx.ASGITransport(app=invigilation.finalisation.app),
        },
    )


async def invigilate(
    invigilation: Invigilation, *, completed: tuple[int, ...], started: tuple[int, ...] = ()
) -> None:
    """What the invigilator's tablet does through finalisation's own API: the ``completed`` candidates
    (by index) take their whole test, the ``started`` ones begin and do not finish."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=invigilation.finalisation.app), base_url="http://finalisation"
    ) as tablet:
        login = await tablet.post(
            "/invigilator/login",
            json={"session_number": invigilation.session_number, "password": invigilation.password},
        )
        assert login.status_code == 200, login.text
        headers = {"Authorization": f"Bearer {login.json()['token']}"}
        room = f"/invigilator/sessions/{invigilation.session_id}/candidates"
        for index in (*completed, *started):
            candidate = invigilation.candidates[index]["candidate_id"]
            actions = ("presence", "start", "complete") if index in completed else ("presence", "start")
            for action in actions:
                done = await tablet.post(f"{room}/{candidate}/{action}", headers=headers)
                assert done.status_code == 200, done.text
