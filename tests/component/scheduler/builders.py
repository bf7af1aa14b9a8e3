"""Builders for the scheduler's API tests: schools, learners, sessions (the running scheduler: conftest.py)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from services.scheduler import handlers
from shared.contracts.envelope import Envelope
from shared.contracts.events import SessionFinalised
from tests.events import certifiability, learner

#: 09:00 in Paris on 8 October 2025: Pix Certif is open (06/10/2025), the 2025-2026 lycée window
#: (03/11/2025 – 06/03/2026) not yet.
NOW = datetime(2025, 10, 8, 7, 0, tzinfo=UTC)  # Pix Certif (lycée) opened on 06/10/2025
IN_WINDOW = date(2025, 11, 13)  # a Thursday


def new_uai() -> str:
    return f"{uuid.uuid4().int % 10_000_000:07d}" + "ABCDEFGHJKLMNPRSTUVWXYZ"[uuid.uuid4().int % 23]


def school_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Lycée Gay-Lussac",
        "level": "lycee",
        "city": "Limoges",
        "site": "Bâtiment principal",
        "rooms": [
            {"name": "Salle 101", "workstations": 30},
            {"name": "CDI", "workstations": 18, "site": "Bâtiment B"},
        ],
        "staff": [{"name": "Mme Dupré"}, {"name": "M. Martin"}, {"name": "Mme Cœur"}],
    }
    body.update(overrides)
    return body


async def put_school(svc, uai: str, **overrides: Any) -> dict[str, Any]:
    response = await svc.http.put(f"/schools/{uai}", json=school_body(**overrides))
    assert response.status_code in (200, 201), response.text
    return response.json()


def _envelope(event) -> Envelope:
    return Envelope.new(source="/certibus/eligibility", type=event.event_type, subject=event.subject())


async def add_learner(
    svc,
    uai: str,
    division: str,
    *,
    learner_id: str | None = None,
    first_name: str = "Zoé",
    last_name: str | None = None,
    birthdate: date = date(2008, 5, 17),
    certifiable: bool = True,
    mef_code: str | None = None,
) -> str:
    """Apply LearnerRegistered + CertifiabilityAssessed through the scheduler's own handlers."""
    learner_id = learner_id or f"lrn-{uuid.uuid4().hex[:12]}"
    registered = learner(
        uai,
        learner_id,
        division,
        learner_id=learner_id,
        ine=f"{uuid.uuid4().int % 10**9:09d}AB",
        first_name=first_name,
        last_name=last_name or f"Nom-{learner_id[-6:]}",
        birthdate=birthdate,
        mef_code=mef_code,
    )
    assessed = certifiability(registered, NOW, certifiable)
    async with svc.runtime.unit_of_work() as uow:
        await handlers.on_learner_registered(uow, registered, _envelope(registered))
        await handlers.on_certifiability_assessed(uow, assessed, _envelope(assessed))
    return learner_id


async def add_class(svc, uai: str, division: str, size: int, **kwargs: Any) -> list[str]:
    return [
        await add_learner(svc, uai, division, birthdate=date(2008, 1 + i % 12, 1 + i % 28), **kwargs)
        for i in range(size)
    ]


async def finalise(svc, session: dict[str, Any]) -> None:
    """What the finalisation service publishes once the session took place."""
    event = SessionFinalised(
        session_id=session["session_id"],
        session_number=session["session_number"],
        uai=session["uai"],
        certification_center=session["certification_center"],
        session_date=date.fromisoformat(session["date"]),
        session_time=session["time"],
        finalised_at=NOW,
        has_incident=False,
        has_joining_issue=False,
        is_publishable=True,
        candidates=[],
    )
    async with svc.runtime.unit_of_work() as uow:
        await handlers.on_session_finalised(uow, event, _envelope(event))


async def snapshot(svc) -> dict[str, Any]:
    """Everything a refused command must leave unchanged."""
    pool = svc.pool
    return {
        "sessions": [dict(r) for r in await pool.fetch("SELECT * FROM sessions ORDER BY session_id")],
        "candidates": [dict(r) for r in await pool.fetch("SELECT * FROM candidates ORDER BY candidate_id")],
        "plans": [dict(r) for r in await pool.fetch("SELECT plan_id, status FROM plans ORDER BY plan_id")],
        "outbox": await pool.fetchval("SELECT count(*) FROM outbox"),
        "documents": await pool.fetchval("SELECT count(*) FROM documents"),
        "schools": [dict(r) for r in await pool.fetch("SELECT * FROM schools ORDER BY uai")],
        "rooms": [dict(r) for r in await pool.fetch("SELECT * FROM rooms ORDER BY uai, name")],
    }


async def outbox_events(svc, event_type_suffix: str) -> list[dict[str, Any]]:
    import json

    rows = await svc.pool.fetch(
        "SELECT payload FROM outbox WHERE event_type LIKE $1 ORDER BY id", f"%.{event_type_suffix}.v_"
    )
    return [json.loads(bytes(r["payload"])) for r in rows]


def session_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "room": "Salle 101",
        "invigilators": ["Mme Dupré"],
        "date": IN_WINDOW.isoformat(),
        "time": "08:30",
    }
    body.update(overrides)
    return body


def error_code(response) -> str:
    body = response.json()
    assert set(body["error"]) == {"code", "message", "details"}, body
    assert body["error"]["message"]
    return body["error"]["code"]
