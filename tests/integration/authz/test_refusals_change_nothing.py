"""A refused command changes nothing: one real command per service, with a body it would act on.

Each is sent by callers the route does not serve (another school's staff and referent, a role the
route does not serve) with real Keycloak tokens; the rows the command writes, the events it would
raise (the outbox) and the files it would write are read before and after: unchanged. The same
request by a caller it serves then changes them: the snapshot would have seen a change.
"""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from services.eligibility.app import definition as eligibility
from services.export.app import definition as export
from services.export.handlers import ExportHandlers
from services.finalisation.app import definition as finalisation
from services.scheduler.app import definition as scheduler
from shared.clock import ManualClock
from shared.consumer import Delivery
from tests.component.finalisation.conftest import Finalisation
from tests.component.finalisation.finalisation_support import Invigilator, finalisation_body, session_events
from tests.component.scheduler.builders import NOW, school_body, session_body
from tests.events import Outcome, certification_ids, enrolled, learner, new_uai, results, session
from tests.integration.authz.support import Callers, bearer
from tests.keycloak import SCHOOL_A, oidc_settings
from tests.learner_rows import HEADER, learner_row

pytestmark = pytest.mark.integration

GATEWAY = bearer("authz-gateway-token-0123456789")


async def _start(start_service, definition, **settings: Any):
    return await start_service(
        definition, **oidc_settings(), api_token="authz-gateway-token-0123456789", **settings
    )


async def _rows(svc, *queries: tuple[str, Any]) -> list[list[dict[str, Any]]]:
    return [[dict(r) for r in await svc.pool.fetch(sql, arg)] for sql, arg in queries]


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


async def _refused_by_all(http, method: str, url: str, tokens: dict[str, str], **request: Any) -> None:
    for who, token in tokens.items():
        answer = await http.request(method, url, headers=bearer(token), **request)
        assert answer.status_code == 404, f"{who}: {answer.status_code} {answer.text[:200]}"
        assert answer.json()["error"]["code"] == "auth.not_found", who


OUTBOX_OF = "SELECT event_type, key FROM outbox WHERE key = $1 ORDER BY id"


def _subject(token: str) -> str:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["sub"]


async def test_a_refused_session_edit_or_cancellation_changes_nothing(start_service, capsys) -> None:
    svc = await _start(start_service, scheduler)
    svc.runtime.clock = ManualClock(NOW)
    assert (
        await svc.http.put(f"/schools/{SCHOOL_A}", json=school_body(), headers=GATEWAY)
    ).status_code == 201
    created = await svc.http.post(f"/schools/{SCHOOL_A}/sessions", json=session_body(), headers=GATEWAY)
    session_id = created.json()["session_id"]
    state = (("SELECT * FROM sessions WHERE session_id = $1::uuid", session_id), (OUTBOX_OF, session_id))
    before = await _rows(svc, *state)
    callers = Callers.sign_in()
    others = {"staff B": callers.staff_b, "referent B": callers.referent_b, "pix": callers.pix}
    url = f"/sessions/{session_id}"
    await _refused_by_all(svc.http, "PATCH", url, others, json={"observations": "salle changée"})
    await _refused_by_all(svc.http, "DELETE", url, others)
    assert await _rows(svc, *state) == before
    # each refusal logged with who tried, and neither the session's id nor the body's text
    refusals = [line for line in capsys.readouterr().out.splitlines() if "school route refused" in line]
    assert len(refusals) == 2 * len(others), refusals
    assert sum(_subject(callers.staff_b) in line for line in refusals) == 2
    assert not [line for line in refusals if session_id in line or "salle changée" in line]

    edited = await svc.http.patch(
        url, json={"observations": "salle changée"}, headers=bearer(callers.staff_a)
    )
    assert edited.status_code == 200, edited.text
    assert await _rows(svc, *state) != before


async def test_a_refused_roster_import_stores_no_learner(start_service) -> None:
    svc = await _start(start_service, eligibility)
    roster = f"{HEADER}\n{learner_row()}\n".encode()
    state = (
        ("SELECT * FROM learners WHERE uai = $1", SCHOOL_A),
        ("SELECT * FROM roster_imports WHERE uai = $1", SCHOOL_A),
        ("SELECT event_type FROM outbox WHERE convert_from(payload, 'UTF8') LIKE '%' || $1 || '%'", SCHOOL_A),
    )
    before = await _rows(svc, *state)
    callers = Callers.sign_in()
    others = {"staff B": callers.staff_b, "operator": callers.operator, "pix": callers.pix}
    url = f"/schools/{SCHOOL_A}/rosters"
    await _refused_by_all(svc.http, "POST", url, others, files={"file": ("eleves.csv", roster)})
    assert await _rows(svc, *state) == before

    imported = await svc.http.post(
        url, files={"file": ("eleves.csv", roster)}, headers=bearer(callers.staff_a)
    )
    assert imported.status_code == 200, imported.text
    assert await _rows(svc, *state) != before


async def test_a_refused_finalisation_finalises_nothing(start_service) -> None:
    service = Finalisation(await _start(start_service, finalisation))
    seeded = await service.seed(session_events(2, uai=SCHOOL_A))
    invigilator = Invigilator(service.http, seeded)
    assert (await invigilator.log_in()).status_code == 200
    await invigilator.take_test(0)
    service.clock.advance(minutes=110)
    state = (
        ("SELECT * FROM finalisations WHERE session_id = $1", seeded.session_id),
        ("SELECT * FROM seats WHERE session_id = $1 ORDER BY candidate_id", seeded.session_id),
        (OUTBOX_OF, seeded.session_id),
    )
    before = await _rows(svc := service.svc, *state)
    body = finalisation_body(seeded, {0: None})
    callers = Callers.sign_in()
    # the school's own staff too: finalising is its referent's
    others = {"staff A": callers.staff_a, "referent B": callers.referent_b, "operator": callers.operator}
    url = f"/sessions/{seeded.session_id}/finalisation"
    await _refused_by_all(svc.http, "PUT", url, {**others, "pix": callers.pix}, json=body)
    assert await _rows(svc, *state) == before

    finalised = await svc.http.put(url, json=body, headers=bearer(callers.referent_a))
    assert finalised.status_code == 200, finalised.text
    assert await _rows(svc, *state) != before


async def test_a_refused_rebuild_writes_no_file(start_service, tmp_path) -> None:
    """On a school no other test names: the consumers also export what other runs publish."""
    svc = await _start(start_service, replace(export, jobs=[]), export_output_dir=tmp_path)
    svc.runtime.clock = ManualClock(datetime(2025, 4, 2, 9, 0, tzinfo=UTC))
    uai = new_uai()
    anna = learner(uai, "anna", last_name="Abel", first_name="Anna")
    sitting = session(uai)
    [certification] = certification_ids(1)
    handlers = ExportHandlers(svc.runtime).every_event()
    for event in (anna, sitting, enrolled(sitting, anna), results(sitting, Outcome(anna, certification))):
        async with svc.runtime.unit_of_work() as uow:
            await handlers[type(event)](uow, [Delivery(event, None)])
    folder = tmp_path / uai
    for produced in folder.rglob("*.json"):  # the livret as if lost: a rebuild writes it again
        produced.unlink()
    state = (
        ("SELECT uai, kind, division_key, sha256 FROM exports WHERE uai = $1", uai),
        (OUTBOX_OF, uai),
    )
    before, files = await _rows(svc, *state), _files(folder)
    callers = Callers.sign_in()
    others = {"staff A": callers.staff_a, "referent B": callers.referent_b, "pix": callers.pix}
    await _refused_by_all(svc.http, "POST", f"/schools/{uai}/exports", others)
    assert await _rows(svc, *state) == before and _files(folder) == files

    rebuilt = await svc.http.post(f"/schools/{uai}/exports", headers=GATEWAY)
    assert rebuilt.status_code == 200, rebuilt.text
    assert _files(folder) != files, json.dumps(rebuilt.json())
